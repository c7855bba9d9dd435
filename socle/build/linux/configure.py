"""Configuring a Linux master: the catalogue selection, the Ansible roles run in a podman container
(connection ``podman_pipe``), the package set checked against the lock, and the reuse of the
profile's last published build (its tree's layer, socle/build/linux/tree.py) by the next build."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from socle import __version__
from socle.build import aptrepo, ee, rootfs
from socle.build.linux.tree import Tree
from socle.build.pipeline import BuildContext, hash_files
from socle.catalogue import selection
from socle.core import playbook, signing, sshid
from socle.core.errors import SocleError
from socle.core.paths import ROOT
from socle.core.proc import run
from socle.registry.specs import MasterSpec


@dataclass(kw_only=True)
class LinuxContext(BuildContext):
    container: str
    tree: Tree
    #: what the next build needs to know to start from this one's layer
    reuse_key: str = ""
    carried: list[str] = field(default_factory=list)
    patch: bool = False
    clean: bool = False  # configure from the base, never on the profile's last build
    #: the frozen distribution the build installs from (socle/build/aptrepo.py); empty: the spec's mirror
    frozen: str = ""


def frozen_source(spec: MasterSpec, lock: dict[str, Any] | None, *, patch: bool) -> str:
    """Where a build installs from: its lock's frozen distribution when there is one, else the mirror ("").

    A lock being written comes from the mirror, and so do a patch release's security updates."""
    if lock is None or patch:
        return ""
    name = aptrepo.codename(spec.profile, spec.year, lock)
    if not aptrepo.frozen(name):
        return ""
    aptrepo.check_readable()
    return name


def rootfs_spec(spec: MasterSpec, frozen: str = "") -> rootfs.RootfsSpec:
    """The base root filesystem of a spec: its Debian release and mirror (or its lock's frozen
    distribution), every package it lists."""
    base = spec.data["base"]
    return rootfs.RootfsSpec(
        frozen=frozen,
        frozen_source=aptrepo.sources_line(frozen, aptrepo.repo_dir()) if frozen else "",
        release=base["release"],
        mirror=base["mirror"],
        security_mirror=base.get("security_mirror", ""),
        variant=base.get("variant", "minbase"),
        components=tuple(base.get("components", ["main"])),
        packages=tuple(sorted(set(rootfs.TEST_IMAGE_PACKAGES) | set(spec.packages))),
    )


def catalogue_selection(spec: MasterSpec, lock: dict[str, Any] | None) -> list[dict[str, str]]:
    """Debian packages of the catalogue entries the spec selects, pinned to the lock when present."""
    if not any(r["name"] == "catalogue_software" for r in spec.data["roles"]):
        return []  # serveurs: no teaching software
    sel = spec.data.get("catalogue", {})
    entries = selection.linux_packages(
        year=spec.year,
        disciplines=sel.get("disciplines", []),
        software=sel.get("software", []),
        levels=sel.get("levels", []),
    )
    locked = (lock or {}).get("packages", {})
    out = []
    for entry in entries:
        item = {"name": entry["package"], "software": entry["software"]}
        if entry["package"] in locked:
            item["version"] = locked[entry["package"]]["version"]
        out.append(item)
    return out


def write_playbook(ctx: LinuxContext, roles: list[dict[str, Any]], name: str, extra: dict[str, Any]) -> Path:
    play = [
        {
            "name": f"{name} {ctx.spec.profile} {ctx.version}",
            "hosts": "master",
            "gather_facts": True,
            "environment": {"SYSTEMD_OFFLINE": "1", "DEBIAN_FRONTEND": "noninteractive"},
            "vars": extra,
            "roles": [{"role": r["name"], "vars": r.get("vars", {})} if r.get("vars") else r["name"] for r in roles],
        }
    ]
    path = ctx.staging / "build" / f"{name.lower().replace(' ', '-')}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("---\n" + yaml.safe_dump(play, sort_keys=False, allow_unicode=True))
    return path


def run_play(ctx: LinuxContext, book: Path, label: str) -> None:
    """Run a build playbook on the build container."""
    inventory = ctx.staging / "build" / "inventory.yml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {
                        "master": {
                            "ansible_host": ctx.container,
                            "ansible_connection": "podman_pipe",
                            "ansible_python_interpreter": "/usr/bin/python3",
                        }
                    }
                }
            }
        )
    )
    playbook.step(book, inventory, ctx.staging / "build" / f"{label}.log", label)


def package_set(container: str) -> dict[str, dict[str, str]]:
    """Every installed package with its version, architecture and index sha256."""
    pkgs = _installed_packages(container)
    _package_checksums(container, pkgs)
    return pkgs


def _installed_packages(container: str) -> dict[str, dict[str, str]]:
    out = rootfs.podman(
        "exec", container, "dpkg-query", "-W", "-f", "${Package}\t${Version}\t${Architecture}\n", what="list packages"
    )
    pkgs = {}
    for line in out.splitlines():
        name, version, arch = line.split("\t")
        pkgs[name] = {"version": version, "arch": arch}
    return pkgs


def _package_checksums(container: str, pkgs: dict[str, dict[str, str]]) -> None:
    """Add the SHA256 of each installed .deb as published in the signed apt index."""
    specs = [f"{n}={p['version']}" for n, p in sorted(pkgs.items())]
    proc = subprocess.run(
        ["podman", "exec", container, "apt-cache", "show", "--no-all-versions", *specs],
        capture_output=True,
        text=True,
        check=False,
    )
    name = version = None
    for line in proc.stdout.splitlines():
        if line.startswith("Package: "):
            name = line.split(": ", 1)[1]
        elif line.startswith("Version: "):
            version = line.split(": ", 1)[1]
        elif line.startswith("SHA256: ") and name in pkgs and pkgs[name]["version"] == version:
            pkgs[name]["sha256"] = line.split(": ", 1)[1]


def compare_lock(lock: dict[str, Any], pkgs: dict[str, dict[str, str]], patch: bool) -> dict[str, Any]:
    locked = lock.get("packages", {})
    added = sorted(set(pkgs) - set(locked))
    removed = sorted(set(locked) - set(pkgs))
    changed = {n: [locked[n]["version"], pkgs[n]["version"]] for n in set(pkgs) & set(locked)}
    changed = {n: v for n, v in sorted(changed.items()) if v[0] != v[1]}
    if patch:
        if added or removed:
            raise SocleError(
                f"a patch release may only update packages, but it adds {added or 'none'} "
                f"and removes {removed or 'none'}",
                hint="changes of content belong to a new lock: run without --patch and with --update-lock",
            )
        return {"updated": changed}
    if added or removed or changed:
        parts = []
        if changed:
            parts.append("versions differ: " + ", ".join(f"{n} {a} -> {b}" for n, (a, b) in list(changed.items())[:8]))
        if added:
            parts.append(f"not in the lock: {', '.join(added[:8])}")
        if removed:
            parts.append(f"in the lock but not installed: {', '.join(removed[:8])}")
        raise SocleError(
            "the build does not match the lock file — " + "; ".join(parts),
            hint="the Debian mirror or the spec changed since the lock was written; "
            "run with --update-lock to record a new lock (a new master release), or --patch for security updates",
        )
    return {}


def reuse_key(spec: MasterSpec, base: rootfs.RootfsSpec) -> str:
    """What a configured image depends on besides the catalogue selection and the version."""
    h = hashlib.sha256(f"{__version__}\0{base.key()}\0".encode())
    data = {k: v for k, v in spec.data.items() if k not in {"catalogue", "version", "description"}}
    h.update(json.dumps(data, sort_keys=True).encode())
    hash_files(h, ROOT / "roles")
    return h.hexdigest()[:32]


def _start_container(ctx: LinuxContext, lowers: list[Path]) -> None:
    """(Re)start the build container on a new layer over ``lowers``: ``sleep infinity`` under --init,
    never systemd. Podman writes nothing of its own into the tree (no /etc/hosts, /run a tmpfs).

    A frozen build's container sees the repository read-only and installs from it only."""
    subprocess.run(["podman", "rm", "-f", "-t", "0", ctx.container], capture_output=True, check=False)
    ctx.tree.mount(lowers)
    mount = ["-v", f"{aptrepo.repo_dir()}:{aptrepo.CONTAINER_PATH}:ro"] if ctx.frozen else []
    rootfs.podman("run", "-d", "--init", "--name", ctx.container, "--hostname", "master", "--no-hosts",
                  "--tmpfs", "/run", *mount, "--rootfs", str(ctx.tree.merged),
                  "sleep", "infinity", what="start the build container")  # fmt: skip
    if ctx.frozen:
        _write_sources(ctx, aptrepo.sources_line(ctx.frozen, aptrepo.CONTAINER_PATH) + "\n")


def restore_sources(ctx: LinuxContext) -> None:
    """Give a frozen build's master the spec's own apt sources, as mmdebstrap writes them from the mirror."""
    if ctx.frozen:
        _write_sources(ctx, rootfs_spec(ctx.spec).sources_list())


def _write_sources(ctx: LinuxContext, text: str) -> None:
    """The build container's apt sources: ``text`` only (its package lists are fetched again)."""
    run(["podman", "exec", "-i", ctx.container, "sh", "-c",
         "cat > /etc/apt/sources.list && rm -rf /etc/apt/sources.list.d/* /var/lib/apt/lists/*"],
        what="write the build's apt sources", input=text)  # fmt: skip


#: what a lycée serveur runs its nightly check from, besides the wheel (roles/socle_pull)
PULL_PROJECT_FILES = (
    "ansible.cfg",
    "playbooks",
    "plugins",
    "software_catalogue",
    "masters",
    "docs/conformity.md",
    # the hardening baseline the check compares with (the roles' own defaults)
    "roles/hardening/defaults",
    "roles/win_hardening/defaults",
)


def pull_bundle(out: Path) -> Path:
    """The socle wheel (without the test tools) and a reproducible tarball of the project files."""
    ee.wheel(out)

    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        if "__pycache__" in info.name or info.name.endswith(".pyc"):
            return None
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mtime = 0
        return info

    with gzip.GzipFile(out / "project.tar.gz", "wb", compresslevel=6, mtime=0) as packed, \
            tarfile.open(fileobj=packed, mode="w") as tar:  # fmt: skip
        for name in PULL_PROJECT_FILES:
            paths = [ROOT / name] if (ROOT / name).is_file() else sorted((ROOT / name).rglob("*"))
            for path in paths:
                tar.add(path, arcname=str(path.relative_to(ROOT)), recursive=False, filter=clean)
    return out


def configure(ctx: LinuxContext, start: list[Path], selection: list[dict[str, str]], *, upgrade: bool) -> None:
    spec = ctx.spec
    _start_container(ctx, start)
    roles = [r for r in spec.data["roles"] if r["name"] != "master_finalize"]
    extra = {
        "socle_master_profile": spec.profile,
        "socle_master_version": ctx.version,
        "catalogue_software_packages": selection,
        "hardening_level": spec.data.get("hardening_level", "minimal"),
    }
    if spec.data.get("branding"):
        extra["branding_defaults"] = spec.data["branding"]
    if any(r["name"] == "reimage_client" for r in roles):
        extra["reimage_client_trusted_key"] = signing.public_key()
        extra["reimage_client_trusted_fingerprints"] = signing.trusted_fingerprints()
    if any(r["name"] == "management" for r in roles):
        extra["management_account"] = spec.management_account
        extra["management_user_ca_keys"] = [sshid.user_ca_public()]
    if any(r["name"] == "socle_pull" for r in roles):
        extra["socle_pull_bundle_dir"] = str(pull_bundle(ctx.staging / "build" / "socle-pull"))
    book = write_playbook(ctx, roles, "Configure master", extra)
    if upgrade:
        append_upgrade(book)
    run_play(ctx, book, "configure")


def append_upgrade(book: Path) -> None:
    """Upgrade to the mirror's newest versions, last: a patch release (its security updates) or a new
    lock built on a reused configuration (what a build from the base would resolve)."""
    plays = yaml.safe_load(book.read_text())
    plays[0]["post_tasks"] = [
        {
            "name": "Upgrade to the newest packages of the mirror",
            "ansible.builtin.apt": {"upgrade": "safe", "update_cache": True},
        }
    ]
    book.write_text("---\n" + yaml.safe_dump(plays, sort_keys=False))
