"""Linux masters: mmdebstrap base -> Ansible roles in podman on an overlay of it -> lock ->
generalisation -> artefacts and verification -> manifest, SBOM, signature -> publication -> OCI
image (docs/masters.md)."""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import subprocess
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

from socle.build import aptrepo, rootfs
from socle.build.linux import capture, configure, tree
from socle.build.linux.configure import LinuxContext
from socle.build.pipeline import Platform, build_record, console, git_revision, sign, step, timed
from socle.core import system
from socle.core.errors import SocleError
from socle.core.paths import CATALOGUE_DIR, cache_dir, rel
from socle.core.proc import run
from socle.registry import store
from socle.registry.specs import MasterSpec, read_lock

#: apt's cache in a Debian tree (the build's packages, until master_finalize empties it)
APT_ARCHIVES = "var/cache/apt/archives"


class Linux(Platform):
    """A Linux master of one spec; ``lock`` is None when the build writes a new one."""

    name: ClassVar[str] = "linux"

    def __init__(self) -> None:
        self.lock: dict[str, Any] | None = None
        self.patch = False
        self.clean = False

    def build(self, spec: MasterSpec, *, update_lock: bool, patch: bool, force: bool) -> Path:
        if update_lock and patch:
            raise SocleError("--update-lock and --patch exclude each other", hint="a patch release keeps the lock")
        system.require()
        if spec.data.get("verify", {}).get("testinfra", True) and importlib.util.find_spec("testinfra") is None:
            raise SocleError(  # said now, not after minutes of building
                "master verification needs pytest-testinfra, which this Python environment lacks",
                hint="run './socle.sh build-master …' (it installs socle[verify]), or: pip install -e '.[verify]'",
            )
        self.lock = None if update_lock else read_lock(spec)
        if patch and self.lock is None:
            raise SocleError(
                f"--patch needs a lock file ({rel(spec.lock_path)})",
                hint="build the release first: invoke build-master --profile " + spec.profile,
            )
        self.patch, self.clean = patch, force
        return self.run(spec, patch=patch, rebuild=update_lock or patch or force,
                        resume=f"the base root filesystem cache in {cache_dir()} is kept")  # fmt: skip

    def context(self, **common: Any) -> LinuxContext:
        spec = common["spec"]
        # a name of its own per run: a second build never removes the first one's container
        container = f"socle-build-{spec.profile}-{os.getpid()}-{secrets.token_hex(3)}"
        return LinuxContext(**common, container=container, tree=tree.Tree.new(spec.profile), patch=self.patch,
                            clean=self.clean)  # fmt: skip

    def produce(self, ctx: LinuxContext) -> dict[str, Any]:  # type: ignore[override]
        try:
            manifest = _pipeline(ctx, self.lock)
        except BaseException:
            _remove_container(ctx)
            ctx.tree.discard()
            raise
        _remove_container(ctx)
        manifest["lock_sha256"] = store.sha256_file(ctx.spec.lock_path) if ctx.spec.lock_path.exists() else None
        return manifest

    def tidy(self, ctx: LinuxContext) -> None:  # type: ignore[override]
        shutil.rmtree(ctx.staging / "build", ignore_errors=True)

    def published(self, ctx: LinuxContext, manifest: dict[str, Any]) -> None:  # type: ignore[override]
        """The OCI image (off the critical path: postes receive the squashfs), then the tree's layer
        is kept as where the profile's next build may start."""
        try:
            if image := manifest.get("oci", {}).get("image"):
                timed(ctx, "OCI image (after publication: tests and containers start from it)",
                      capture.oci_image, ctx, image)  # fmt: skip
        except SocleError as exc:
            exc.hint = (exc.hint + "\n  " if exc.hint else "") + (
                f"the master {ctx.version} is published and postes can receive it; only its OCI image (tests, "
                "containers) is missing: see `podman system df` and `df /var/lib/containers`"
            )
            raise
        finally:
            ctx.tree.keep(version=ctx.version, reuse_key=ctx.reuse_key, carried=ctx.carried)


def _keep_packages(ctx: LinuxContext, pool: ThreadPoolExecutor, kept: str, lock: dict[str, Any]) -> Future[int]:
    """Collect the lock's .deb files while the tree still has apt's cache (the build's own layer first:
    linked, not copied), then keep and sign them in ``pool``, in parallel with what follows."""
    archives = [ctx.tree.upper / APT_ARCHIVES, ctx.tree.merged / APT_ARCHIVES]
    with step(ctx, "collect the lock's packages (caches, the repository's pool, the tree)"):
        incoming = aptrepo.gather(lock, ctx.container, archives)
    description = f"socle {ctx.spec.profile} {ctx.spec.year}"
    return pool.submit(timed, ctx, "keep the lock's packages (frozen apt repository)",
                       lambda: aptrepo.keep(kept, lock, incoming, description=description))  # fmt: skip


def _generalise(ctx: LinuxContext) -> None:
    """The master's own record in /etc/socle/master.json, then master_finalize; the container stops."""
    with step(ctx, "generalise (master_finalize)"):
        configure.restore_sources(ctx)
        manifest_in_image = {
            "profile": ctx.spec.profile,
            "version": ctx.version,
            "school_year": ctx.spec.year,
            "serial": store.serial_of(ctx.version),
            "management_account": ctx.spec.management_account,
        }
        run(
            ["podman", "exec", "-i", ctx.container, "sh", "-c",
             "mkdir -p /etc/socle && cat > /etc/socle/master.json"],
            what="write /etc/socle/master.json",
            input=json.dumps(manifest_in_image, sort_keys=True) + "\n",
        )  # fmt: skip
        book = configure.write_playbook(
            ctx, [{"name": "master_finalize"}], "Finalize master", {"master_finalize_building_master": True}
        )
        configure.run_play(ctx, book, "finalize")
        # Ansible's remote working folder outlives the play that needed it (master_finalize keeps it)
        rootfs.podman("exec", ctx.container, "rm", "-rf", "/root/.ansible", what="remove Ansible's working folder")
        rootfs.podman("stop", "-t", "2", ctx.container, what="stop the build container")


def _remove_container(ctx: LinuxContext) -> None:
    subprocess.run(["podman", "rm", "-f", "-t", "2", ctx.container], capture_output=True, check=False)


def _pipeline(ctx: LinuxContext, lock: dict[str, Any] | None) -> dict[str, Any]:
    spec = ctx.spec
    ctx.frozen = configure.frozen_source(spec, lock, patch=ctx.patch)
    base = configure.rootfs_spec(spec, ctx.frozen)
    if ctx.frozen:
        console.print(f"  installing from the frozen distribution {ctx.frozen} ({rel(aptrepo.repo_dir())}), "
                      "not from the Debian mirror")  # fmt: skip
    with step(ctx, "base root filesystem (mmdebstrap, cached)"):
        base_dir = [rootfs.build_rootfs(base, source_date_epoch=ctx.source_date_epoch, directory=True)]
    with step(ctx, "catalogue selection"):
        selection = configure.catalogue_selection(spec, lock)
    ctx.reuse_key = configure.reuse_key(spec, base)  # hashes the roles: once per build
    ctx.carried = [e["name"] for e in selection]
    reuse, why_not = (None, "") if ctx.clean else tree.reusable(spec.profile, ctx.reuse_key, selection)
    if why_not:
        console.print(f"  configuring from the base: {why_not}")
    with step(ctx, "configure with Ansible roles" + (" (on the profile's last build)" if reuse else "")):
        configure.configure(ctx, reuse or base_dir, selection, upgrade=ctx.patch or bool(reuse and lock is None))
    with step(ctx, "package set and lock"):
        pkgs = configure.package_set(ctx.container)
        patched: dict[str, Any] = {}
        if lock is not None:
            try:
                patched = configure.compare_lock(lock, pkgs, ctx.patch)
            except SocleError:
                if not reuse:
                    raise
                # what the reused configuration carries over differs from the lock: build clean
                console.print("  the reused configuration does not match the lock: configuring from the base")
                reuse = None
                configure.configure(ctx, base_dir, selection, upgrade=ctx.patch)
                pkgs = configure.package_set(ctx.container)
                patched = configure.compare_lock(lock, pkgs, ctx.patch)
        else:
            lock_data = {
                "spec": str(rel(spec.path)),
                "release": base.release,
                "mirror": base.mirror,
                "packages": dict(sorted(pkgs.items())),
            }
            spec.lock_path.write_text(json.dumps(lock_data, indent=1, sort_keys=True) + "\n")
            console.print(f"  wrote {rel(spec.lock_path)} ({len(pkgs)} packages)")
            lock = lock_data
    kept = "" if ctx.patch else aptrepo.codename(spec.profile, spec.year, lock)
    # the lock's packages go into the frozen repository while the master is generalised and exported
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="socle-freeze") as pool:
        keeping = _keep_packages(ctx, pool, kept, lock) if kept and not aptrepo.frozen(kept) else None
        _generalise(ctx)
        with step(ctx, "artefacts and verification (in parallel)"):
            produced, verification = capture.capture(ctx)
        if keeping:
            with step(ctx, "frozen apt repository (kept meanwhile)"):
                count = keeping.result()
            console.print(f"  {count} .deb files kept in {rel(aptrepo.repo_dir())}, distribution {kept} (signed): "
                          "this lock rebuilds without the Debian mirror")  # fmt: skip
    with step(ctx, "manifest and SBOM"):
        sbom = capture.sbom(ctx, pkgs)
        (ctx.staging / "sbom.cdx.json").write_text(json.dumps(sbom, indent=2, sort_keys=True) + "\n")
        produced["sbom.cdx.json"] = "sbom.cdx.json"
        produced["release.json"] = store.write_release(ctx.staging, profile=spec.profile, version=ctx.version,
                                                       school_year=spec.year)  # fmt: skip
        artefacts = store.write_sums(ctx.staging, produced)
    with step(ctx, "sign (OpenPGP, SHA256SUMS.asc)"):
        signature = sign(ctx)
    # made after publication, from the same tree (Linux.published)
    wants_oci = spec.data.get("artefacts", {}).get("oci")
    oci = {"oci": {"image": f"localhost/socle/{spec.profile}:{ctx.version}"}} if wants_oci else {}
    return {
        "schema_version": 1,
        "profile": spec.profile,
        "school_year": spec.year,
        "version": ctx.version,
        "spec": spec.data,
        "spec_sha256": spec.sha256(),
        "catalogue": {
            "revision": git_revision(CATALOGUE_DIR),
            "entries": [{**e, "version": pkgs[e["name"]]["version"]} for e in selection],
        },
        "packages": dict(sorted(pkgs.items())),
        "patched": patched.get("updated", {}),
        # where the lock's packages are kept, and whether this build installed from there
        "frozen": {"distribution": kept or None, "installed_from_it": bool(ctx.frozen)},
        "artefacts": artefacts,
        "signature": signature,
        **oci,
        "verification": verification,
        "build": build_record(ctx, builder=capture.tool_versions()),
    }
