"""The frozen apt repository (socle/build/aptrepo.py) with real reprepro, gpg and .deb files built here."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from socle.build import aptrepo, rootfs
from socle.core.errors import SocleError


def make_deb(where: Path, name: str, version: str, arch: str = "amd64") -> dict[str, str]:
    """A minimal real .deb in apt's cache naming; its lock entry."""
    tree = where.parent / "trees" / f"{name}_{version}"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: {arch}\nMaintainer: t <t@example.org>\n"
        f"Section: misc\nPriority: optional\nDescription: test package {name}\n"
    )
    pkg = {"version": version, "arch": arch}
    deb = where / aptrepo.deb_name(name, pkg)
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", tree, deb], check=True, capture_output=True)
    return {**pkg, "sha256": hashlib.sha256(deb.read_bytes()).hexdigest()}


@pytest.fixture
def lock(tmp_path, monkeypatch) -> dict:
    cache = tmp_path / "cache"
    (cache / "apt-archives").mkdir(parents=True)
    monkeypatch.setenv("SOCLE_CACHE", str(cache))
    monkeypatch.setenv("SOCLE_APT_REPO", str(tmp_path / "repo"))
    where = cache / "apt-archives"
    return {"packages": {"alpha": make_deb(where, "alpha", "1.0-1"), "beta": make_deb(where, "beta", "1:2.0-3", "all")}}


def freeze(name: str, lock: dict, *, description: str) -> int:
    """What a build does, from its caches alone (the container does not exist: fetching would fail)."""
    return aptrepo.keep(name, lock, aptrepo.gather(lock, "no-container-needed", []), description=description)


def listed(name: str) -> set[tuple[str, str]]:
    out = subprocess.run(["reprepro", "--basedir", aptrepo.repo_dir(), "list", name], capture_output=True, text=True)
    return {tuple(line.split(": ", 1)[1].split(" ")) for line in out.stdout.splitlines()}


def test_a_lock_is_kept_signed_and_two_locks_share_the_pool(lock, tmp_path):
    name = aptrepo.codename("ci", "2026-2027", lock)
    assert name.startswith("ci-2026-2027-") and not aptrepo.frozen(name)
    assert freeze(name, lock, description="socle ci 2026-2027") == 2
    assert aptrepo.frozen(name)
    assert listed(name) == {("alpha", "1.0-1"), ("beta", "1:2.0-3")}
    repo = aptrepo.repo_dir()
    verify = subprocess.run(["gpgv", "--keyring", repo / aptrepo.KEYRING, repo / "dists" / name / "InRelease"],
                            capture_output=True, text=True)  # fmt: skip
    assert verify.returncode == 0, verify.stderr
    # next year's lock: alpha moved on, beta is the same file, stored once
    later = {"packages": {**lock["packages"], "alpha": make_deb(tmp_path / "cache" / "apt-archives", "alpha", "1.1-1")}}
    other = aptrepo.codename("ci", "2027-2028", later)
    freeze(other, later, description="socle ci 2027-2028")
    assert listed(other) == {("alpha", "1.1-1"), ("beta", "1:2.0-3")}
    assert listed(name) == {("alpha", "1.0-1"), ("beta", "1:2.0-3")}
    assert len(list((repo / "pool").rglob("beta_*.deb"))) == 1
    assert (repo / "conf" / "distributions").read_text().count("Codename: ") == 2
    assert not list(repo.glob(".incoming-*")), "nothing left half-written"


def test_the_distribution_names_the_package_set():
    a = {"packages": {"alpha": {"version": "1", "arch": "amd64", "sha256": "0" * 64}}}
    b = {"packages": {"alpha": {"version": "2", "arch": "amd64", "sha256": "0" * 64}}}
    assert aptrepo.codename("ci", "2026-2027", a) == aptrepo.codename("ci", "2026-2027", dict(a, mirror="elsewhere"))
    assert aptrepo.codename("ci", "2026-2027", a) != aptrepo.codename("ci", "2026-2027", b)


def test_a_package_the_lock_cannot_vouch_for_is_refused(lock):
    lock["packages"]["local"] = {"version": "1", "arch": "amd64"}
    with pytest.raises(SocleError, match="no sha256 for 1 package"):
        freeze("ci-x", lock, description="x")
    assert not aptrepo.frozen("ci-x")


def test_a_frozen_base_is_cached_by_its_content_not_by_where_the_repository_lives():
    # the test image's key is the one every checkout already has: the frozen fields change no other key
    assert rootfs.RootfsSpec(release="trixie").key() == "dbc83ea2aed303e3"
    here = rootfs.RootfsSpec(release="trixie", frozen="ci-a", frozen_source=aptrepo.sources_line("ci-a", "/srv/a"))
    there = rootfs.RootfsSpec(release="trixie", frozen="ci-a", frozen_source=aptrepo.sources_line("ci-a", "/srv/b"))
    assert here.key() == there.key() != rootfs.RootfsSpec(release="trixie").key()
    assert here.sources() == ["deb [signed-by=/srv/a/socle-archive-keyring.gpg] file:/srv/a ci-a main"]


def test_a_rebuild_takes_its_packages_from_the_pool_and_the_tree_not_the_mirror(lock, tmp_path):
    cache = tmp_path / "cache" / "apt-archives"
    freeze(aptrepo.codename("ci", "2026-2027", lock), lock, description="a")
    # the next lock: beta only in the pool now, gamma only in the build tree's apt cache; nothing to fetch
    # (the container does not exist: fetching would fail)
    (cache / aptrepo.deb_name("beta", lock["packages"]["beta"])).unlink()
    tree = tmp_path / "tree" / "var" / "cache" / "apt" / "archives"
    tree.mkdir(parents=True)
    later = {"packages": {"beta": lock["packages"]["beta"], "gamma": make_deb(tree, "gamma", "3.0-1")}}
    name = aptrepo.codename("ci", "2026-2027", later)
    incoming = aptrepo.gather(later, "no-container-needed", [tree])
    assert sorted(p.name for p in incoming.iterdir()) == ["beta_1%3a2.0-3_all.deb", "gamma_3.0-1_amd64.deb"]
    assert (incoming / "gamma_3.0-1_amd64.deb").stat().st_nlink == 2, "linked from the tree, not copied"
    assert aptrepo.keep(name, later, incoming, description="b") == 2
    assert listed(name) == {("beta", "1:2.0-3"), ("gamma", "3.0-1")} and not incoming.exists()


def test_a_file_that_is_not_the_locked_one_is_not_taken(lock, tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    lock["packages"]["gamma"] = {**make_deb(tree, "gamma", "3.0-1"), "sha256": "0" * 64}
    with pytest.raises(SocleError, match="fetch the lock's packages"):
        aptrepo.gather(lock, "socle-no-such-container", [tree])
    assert not list(aptrepo.repo_dir().glob(".incoming-*")), "nothing left half-written"
