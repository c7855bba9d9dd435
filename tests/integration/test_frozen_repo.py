"""Rebuildable a year later: the ci master's lock is kept in the Région's signed apt repository, and the
master rebuilds from it alone, in a network namespace with no route: the Debian mirror is unreachable."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from socle.build import aptrepo
from tests.integration.conftest import CiMaster, build_ci

pytestmark = pytest.mark.integration


def lock_of(ci_master: CiMaster) -> dict:
    return json.loads((ci_master.masters_dir / "2026-2027" / "ci.lock").read_text())


def squashfs_file(master: Path, path: str) -> str:
    proc = subprocess.run(["unsquashfs", "-cat", master / "rootfs.squashfs", path], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_build_keeps_its_lock_signed_in_the_repository(ci_master):
    lock = lock_of(ci_master)
    manifest = json.loads((ci_master.path / "manifest.json").read_text())
    name = aptrepo.codename("ci", "2026-2027", lock)
    assert manifest["frozen"] == {"distribution": name, "installed_from_it": False}
    repo = ci_master.dist / "apt"
    listed = subprocess.run(["reprepro", "--basedir", repo, "list", name], capture_output=True, text=True, check=True)
    # "ci-2026-2027-…|main|amd64: name version" for every package, "all" ones included
    kept = {tuple(line.split(": ", 1)[1].split(" ")) for line in listed.stdout.splitlines()}
    assert kept == {(n, p["version"]) for n, p in lock["packages"].items()}
    # the index is signed by the masters' key, published beside it
    check = subprocess.run(["gpgv", "--keyring", repo / aptrepo.KEYRING, repo / "dists" / name / "InRelease"],
                           capture_output=True, text=True)  # fmt: skip
    assert check.returncode == 0, check.stderr


def test_the_master_rebuilds_from_it_with_the_mirror_unreachable(ci_master, tmp_path):
    # apt checks signatures as its unprivileged user: the repository's folders are readable by all where
    # the Région publishes it; pytest's temporary folders are not, and the build says so
    closed = next(p for p in [ci_master.dist, *ci_master.dist.parents] if p.stat().st_mode & 0o005 != 0o005)
    proc = build_ci(ci_master.masters_dir, tmp_path / "refused", env={"SOCLE_APT_REPO": str(ci_master.dist / "apt")})
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert f"chmod o+rx {closed}" in " ".join(proc.stderr.split())
    for folder in [ci_master.dist, *ci_master.dist.parents]:
        folder.chmod(folder.stat().st_mode | 0o005)
    # its own network namespace, entered for the network only (`ip netns exec` would remount /sys, and
    # podman needs the host's cgroups)
    namespace = f"socle-offline-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    try:
        subprocess.run(["ip", "-n", namespace, "link", "set", "lo", "up"], check=True)
        routes = subprocess.run(["ip", "-n", namespace, "route", "show"], capture_output=True, text=True, check=True)
        assert routes.stdout.strip() == "", "the namespace reaches nothing: no mirror, no DNS"
        dist = tmp_path / "dist"
        proc = build_ci(ci_master.masters_dir, dist, env={"SOCLE_APT_REPO": str(ci_master.dist / "apt")},
                        wrap=("nsenter", f"--net=/run/netns/{namespace}"))  # fmt: skip
    finally:
        subprocess.run(["ip", "netns", "delete", namespace], check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "installing from the frozen distribution" in proc.stderr
    rebuilt = dist / "masters" / "2026-2027" / "ci" / "2026-2027.0"
    manifest = json.loads((rebuilt / "manifest.json").read_text())
    first = json.loads((ci_master.path / "manifest.json").read_text())
    assert manifest["frozen"] == {"distribution": first["frozen"]["distribution"], "installed_from_it": True}
    # the same master: every package at the lock's version, the same catalogue, every check passed again
    assert manifest["packages"] == first["packages"] == lock_of(ci_master)["packages"]
    assert manifest["catalogue"]["entries"] == first["catalogue"]["entries"]
    assert manifest["verification"]["testinfra"]["passed"] == first["verification"]["testinfra"]["passed"]
    # and it points apt at the Debian mirror, as the first build does, not at the repository it came from
    assert squashfs_file(rebuilt, "etc/apt/sources.list") == squashfs_file(ci_master.path, "etc/apt/sources.list")
    assert "deb.debian.org" in squashfs_file(rebuilt, "etc/apt/sources.list")
