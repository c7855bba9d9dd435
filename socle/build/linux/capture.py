"""Capturing a Linux master: the artefacts postes receive (squashfs, chunk index, kernel), the SBOM,
the verification of its tree (testinfra, Lynis, OpenSCAP), and the OCI image after publication."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from socle import __version__
from socle.build.linux import openscap
from socle.build.linux.configure import LinuxContext
from socle.build.linux.tree import tar_into_podman
from socle.build.pipeline import console, timed
from socle.build.rootfs import podman
from socle.build.sbom import cyclonedx
from socle.core.clock import from_epoch
from socle.core.errors import StepFailed
from socle.core.paths import ROOT
from socle.core.proc import run
from socle.registry import store


def capture(ctx: LinuxContext) -> tuple[dict[str, str], dict[str, Any]]:
    """Export the artefacts from the generalised tree while OpenSCAP reads it and testinfra and
    Lynis run in a container started on it (an overlay of its own: the tree stays as it is).

    No OCI image on this path: postes receive the squashfs; the image is made after publication
    (:func:`oci_image`). A cold desktop master's commit into the container store took ~4 min.
    """
    mount = str(ctx.tree.merged)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="socle-capture") as pool:
        files = pool.submit(timed, ctx, "export artefacts (squashfs, chunk index, kernel)", _export, ctx, mount)
        scan = ctx.spec.data.get("verify", {}).get("openscap") and pool.submit(
            timed, ctx, "OpenSCAP (ANSSI BP-028 minimal)", _openscap, ctx
        )
        # an error here still waits for the export and the scan (leaving the pool waits for them)
        verification = timed(ctx, "verify (testinfra, Lynis)", _verify, ctx, mount)
        produced = files.result()
        if scan:
            verification["openscap"] = scan.result()
    return produced, verification


def oci_image(ctx: LinuxContext, image: str) -> None:
    """The published master's tree as an OCI image of the local store, also the profile's ``:latest``;
    the profile's older images beyond :data:`KEEP_MASTER_IMAGES` are dropped."""
    profile = ctx.spec.profile
    tar_into_podman(ctx.tree.merged, image, {"org.socle.profile": profile, "org.socle.version": ctx.version})
    podman("tag", image, f"localhost/socle/{profile}:latest", what="tag the master as the profile's latest")
    if dropped := prune_images(profile):
        console.print(f"  podman store: dropped {len(dropped)} older image(s) of {profile}: {', '.join(dropped)}")


def tool_versions() -> dict[str, str]:
    def first_line(cmd: list[str]) -> str:
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        except FileNotFoundError:
            return "absent"
        return ((proc.stdout or proc.stderr).strip().splitlines() or ["?"])[0]

    import ansible

    return {
        "socle": __version__,
        "ansible-core": ansible.__version__,
        "podman": first_line(["podman", "--version"]),
        "mmdebstrap": first_line(["mmdebstrap", "--version"]),
        "mksquashfs": first_line(["mksquashfs", "-version"]),
        "python": sys.version.split()[0],
    }


def sbom(ctx: LinuxContext, pkgs: dict[str, dict[str, str]]) -> dict[str, Any]:
    return cyclonedx(profile=ctx.spec.profile, version=ctx.version, packages=pkgs,
                     release=ctx.spec.data.get("base", {}).get("release", ""),
                     timestamp=from_epoch(ctx.source_date_epoch))  # fmt: skip


def _verify(ctx: LinuxContext, tree: str) -> dict[str, Any]:
    """Start the generalised tree under systemd (on an overlay podman discards), run the testinfra
    suite and Lynis in it."""
    cfg = ctx.spec.data.get("verify", {})
    results: dict[str, Any] = {}
    name = f"{ctx.container}-verify"
    subprocess.run(["podman", "rm", "-f", name], capture_output=True, check=False)
    lynis_mounts = []
    if cfg.get("lynis") and Path("/usr/sbin/lynis").exists():
        lynis_mounts = [f"--volume={path}:{path}:ro" for path in ("/usr/share/lynis", "/usr/sbin/lynis", "/etc/lynis")]
    podman("run", "-d", "--name", name, "--hostname", "verify", *lynis_mounts, "--rootfs", f"{tree}:O",
           "/lib/systemd/systemd", what="start verify container")  # fmt: skip
    lynis: subprocess.Popen[bytes] | None = None
    try:
        for _ in range(60):
            state = subprocess.run(
                ["podman", "exec", name, "systemctl", "is-system-running"], capture_output=True, text=True
            ).stdout.strip()
            if state in {"running", "degraded"}:
                break
            time.sleep(0.5)
        results["systemd_state"] = state
        # Lynis only reads the system: it audits while testinfra runs
        if lynis_mounts:
            audit = ["podman", "exec", name, "lynis", "audit", "system", "--quick", "--no-colors", "--skip-plugins"]
            lynis = subprocess.Popen(audit, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if cfg.get("testinfra", True):
            report = ctx.staging / "verify" / "testinfra.xml"
            report.parent.mkdir(parents=True, exist_ok=True)
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-q",
                    "-p",
                    "no:cacheprovider",
                    str(ROOT / "tests" / "master"),
                    f"--hosts=podman://{name}",
                    f"--junitxml={report}",
                ],
                cwd=ROOT,
                env={**os.environ, "SOCLE_MASTER_DIR": str(ctx.staging)},
                capture_output=True,
                text=True,
                check=False,
            )
            summary = (proc.stdout.strip().splitlines() or ["?"])[-1]
            results["testinfra"] = {"passed": proc.returncode == 0, "summary": summary}
            if proc.returncode:
                (ctx.staging / "verify" / "testinfra.log").write_text(proc.stdout + proc.stderr)
                raise StepFailed(
                    f"master verification failed: {summary}",
                    hint=f"details: {ctx.staging / 'verify' / 'testinfra.log'} (kept because the build failed)",
                )
        if lynis:
            lynis.wait()
            report_dat = subprocess.run(
                ["podman", "exec", name, "cat", "/var/log/lynis-report.dat"], capture_output=True, text=True
            ).stdout
            score = next(
                (int(ln.split("=", 1)[1]) for ln in report_dat.splitlines() if ln.startswith("hardening_index=")), None
            )
            warnings = [ln.split("=", 1)[1] for ln in report_dat.splitlines() if ln.startswith("warning[]=")]
            results["lynis"] = {"hardening_index": score, "warnings": warnings}
            minimum = cfg.get("lynis_min_score")
            if score is None or (minimum is not None and score < minimum):
                raise StepFailed(
                    f"Lynis hardening index {score} is below the spec's minimum {minimum}",
                    hint="see the warnings in the Lynis report; raise hardening or lower verify.lynis_min_score",
                )
        elif cfg.get("lynis"):
            results["lynis"] = {"skipped": "lynis is not installed on this host (./socle.sh setup installs it)"}
    finally:
        if lynis and lynis.poll() is None:
            lynis.kill()
            lynis.wait()
        subprocess.run(["podman", "rm", "-f", "-t", "2", name], capture_output=True, check=False)
    return results


def _openscap(ctx: LinuxContext) -> dict[str, Any]:
    """ANSSI BP-028 (data/openscap.yaml's profile) with SCAP Security Guide content for this release."""
    with ctx.tree.scratch() as view:
        results = ctx.staging / "verify" / "openscap-results.xml"
        return openscap.scan(str(view), ctx.spec.data["base"]["release"], results)


#: zstd level of the squashfs: 6 costs 55 s on a 9.7 GB desktop tree (2 cores) for 3.84 GB; mksquashfs's
#: default, 15, costs 9 min for 3.6 GB — 6 % fewer bytes to send once per lycée (docs/masters.md)
SQUASHFS_ZSTD_LEVEL = 6


def squashfs_command(source: str, target: Path, level: int) -> list[str]:
    """``mksquashfs`` of a tree as a master's image: zstd at ``level``, without /boot (postes boot the
    kernel and initrd published beside it)."""
    return ["mksquashfs", source, str(target), "-comp", "zstd", "-Xcompression-level", str(level), "-noappend",
            "-no-progress", "-quiet", "-e", "boot"]  # fmt: skip


def _read(path: Path) -> str:
    return path.read_text() if path.is_file() else ""


def _export(ctx: LinuxContext, mount: str) -> dict[str, str]:
    """squashfs (zstd, reproducible timestamps), its chunk index and kernel/initrd from the generalised tree."""
    arts = ctx.spec.data.get("artefacts", {})
    out_dir = ctx.staging
    produced: dict[str, str] = {}
    leaks = [p for p in ("etc/ssh/ssh_host_ed25519_key", "etc/ssh/ssh_host_rsa_key") if (Path(mount) / p).exists()]
    leaks += [f"{p} is set" for p in ("etc/machine-id", "etc/hostname") if _read(Path(mount) / p).strip()]
    leaks += [f"{p.relative_to(mount)} is left" for p in Path(mount).glob("var/lib/apt/lists/*_Packages*")]
    leaks += [f"{p.relative_to(mount)} is left" for p in Path(mount).glob("var/lib/socle/data/identity/ssh_host_*")]
    if leaks:
        raise StepFailed(
            f"the image is not generalised: {', '.join(leaks)}",
            hint="master_finalize must be the last role of the spec",
        )
    if arts.get("squashfs", True):
        target = out_dir / "rootfs.squashfs"
        run(squashfs_command(mount, target, arts.get("squashfs_zstd_level", SQUASHFS_ZSTD_LEVEL)), what="mksquashfs",
            env={"SOURCE_DATE_EPOCH": str(ctx.source_date_epoch)})  # fmt: skip
        produced["rootfs.squashfs"] = target.name
        # chunk index for patch releases, its chunks in the profile's chunk store of the Région's
        # publication: a lycée serveur staging a patch release ahead fetches only the chunks that
        # changed (socle-stage), and a poste holding an older image only those it lacks
        chunks = store.chunk_store(ctx.spec.year, ctx.spec.profile)
        chunks.mkdir(parents=True, exist_ok=True)  # content-addressed: a chunk added by a failed build is harmless
        run(["casync", "make", f"--store={chunks}", str(out_dir / "rootfs.caibx"), str(target)],
            what="casync make (chunk index)")  # fmt: skip
        produced["rootfs.caibx"] = "rootfs.caibx"
    if arts.get("kernel"):
        boot = Path(mount) / "boot"
        kernels = sorted(boot.glob("vmlinuz-*"))
        initrds = sorted(boot.glob("initrd.img-*"))
        if not kernels or not initrds:
            raise StepFailed(
                "artefacts.kernel is set but the image has no /boot/vmlinuz-* and initrd",
                hint="add linux-image-amd64 and initramfs-tools to the spec's packages",
            )
        shutil.copyfile(kernels[-1], out_dir / "vmlinuz")
        shutil.copyfile(initrds[-1], out_dir / "initrd.img")
        produced["vmlinuz"] = "vmlinuz"
        produced["initrd.img"] = "initrd.img"
    return produced


#: master images of a profile kept in the podman store, newest first (a desktop master is ~10 GB;
#: the published artefacts in dist/ are what postes use, these serve tests and the next build)
KEEP_MASTER_IMAGES = 3


def prune_images(profile: str, keep: int = KEEP_MASTER_IMAGES) -> list[str]:
    """Untag the profile's master images beyond the ``keep`` newest (``:latest`` always stays) and
    delete every untagged one that no kept image builds on. Returns the tags dropped."""
    repo = f"localhost/socle/{profile}:"
    out = subprocess.run(["podman", "images", "--format", "json"], capture_output=True, text=True, check=False)
    listed = json.loads(out.stdout or "[]") if out.returncode == 0 else []
    ours = sorted(
        (img for img in listed if any(n.startswith(repo) for n in img.get("Names") or [])),
        key=lambda img: img.get("Created", 0),
        reverse=True,
    )
    dropped: list[str] = []
    for img in ours[keep:]:
        names = [n for n in img["Names"] if n.startswith(repo)]
        if f"{repo}latest" in names:
            continue
        for name in names:
            if subprocess.run(["podman", "untag", img["Id"], name], capture_output=True).returncode == 0:
                dropped.append(name.removeprefix(repo))
    dangling = subprocess.run(
        ["podman", "images", "-q", "--no-trunc", "--filter", "dangling=true",
         "--filter", f"label=org.socle.profile={profile}"],
        capture_output=True, text=True, check=False,
    ).stdout.split()  # fmt: skip
    for image_id in dangling:  # refused while a kept image builds on it: it stays until then
        subprocess.run(["podman", "image", "rm", image_id], capture_output=True, check=False)
    return dropped
