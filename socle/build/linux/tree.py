"""The tree a Linux master is configured in: the cached mmdebstrap directory with the build's
own layer on top (overlayfs), never imported into the container store.

A build container runs on the mounted tree (``podman run --rootfs``); the artefacts, OpenSCAP
and verification read it as it is; the OCI image is made from it after publication (``oci`` in
the spec's artefacts). Each build's layer is kept under the cache's ``trees/<profile>/``: the
profile's last published build is where the next build of the profile may start
(:func:`reusable`), as a layer stacked on the ones it was built on.

    trees/<profile>/latest -> <layer>     the profile's last published build
    trees/<profile>/<layer>/upper/        what this build changed (overlayfs upper directory)
    trees/<profile>/<layer>/layer.json    what it stacks on, its reuse key, the catalogue it carries
    trees/<profile>/build-<pid>-<hex>/    a running build's layer, <version>-<hex> once published
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from socle.build.rootfs import import_command
from socle.core.errors import StepFailed
from socle.core.paths import cache_dir
from socle.core.proc import run

#: layers a tree stacks (base, first configuration, then one per reuse) beyond which a build starts clean
MAX_REUSED_LAYERS = 12


def trees_dir(profile: str) -> Path:
    return cache_dir() / "trees" / profile


@dataclass
class Tree:
    """One build's layer on its lower layers (first is top, the base directory last), mounted at ``merged``."""

    layer: Path
    lowers: list[Path] = field(default_factory=list)
    #: held (shared) while the tree is mounted: layers are pruned only when no other build of the
    #: profile stacks on them
    _in_use: int | None = None

    @classmethod
    def new(cls, profile: str) -> Tree:
        """A new layer for this build; the layers of builds whose process is gone are removed."""
        folder = trees_dir(profile)
        for stale in folder.glob("build-*"):
            pid = stale.name.split("-")[1]
            if not pid.isdigit() or not _alive(int(pid)):
                cls(stale).discard()
        layer = folder / f"build-{os.getpid()}-{secrets.token_hex(3)}"
        layer.mkdir(parents=True)
        return cls(layer)

    @property
    def merged(self) -> Path:
        return self.layer / "merged"

    @property
    def upper(self) -> Path:
        """What this build wrote (overlayfs' upper directory): plain files, on the host's file system."""
        return self.layer / "upper"

    def mount(self, lowers: list[Path]) -> None:
        """Mount a new, empty layer on ``lowers``: what an earlier mount of this build wrote is dropped."""
        self.unmount()
        if self._in_use is None:
            self._in_use = os.open(self.layer.parent / ".in-use", os.O_CREAT | os.O_RDONLY, 0o644)
            fcntl.flock(self._in_use, fcntl.LOCK_SH)
        for name in ("upper", "work"):
            shutil.rmtree(self.layer / name, ignore_errors=True)
        for name in ("upper", "work", "merged"):
            (self.layer / name).mkdir(exist_ok=True)
        self.lowers = list(lowers)
        _mount_overlay(self.lowers, self.layer, "mount the build tree (overlayfs)")

    @contextmanager
    def scratch(self) -> Iterator[Path]:
        """The mounted tree under a layer of its own, dropped afterwards: for a tool that writes
        where it reads (OpenSCAP's package probe leaves apt cache files at the root)."""
        folder = Path(tempfile.mkdtemp(prefix="scratch-", dir=self.layer))
        for name in ("upper", "work", "merged"):
            (folder / name).mkdir()
        try:
            _mount_overlay([self.merged], folder, "mount a scratch view of the build tree")
            yield folder / "merged"
        finally:
            if os.path.ismount(folder / "merged"):
                subprocess.run(["umount", str(folder / "merged")], check=False)
            shutil.rmtree(folder, ignore_errors=True)

    def unmount(self) -> None:
        if os.path.ismount(self.merged):
            run(["umount", str(self.merged)], what="unmount the build tree")

    def keep(self, *, version: str, reuse_key: str, carried: list[str]) -> None:
        """Make this layer the profile's last published build and drop every layer it does not stack on."""
        self.unmount()
        shutil.rmtree(self.layer / "work", ignore_errors=True)
        meta = {"version": version, "reuse": reuse_key, "catalogue": sorted(set(carried)),
                "lowers": [str(p) for p in self.lowers]}  # fmt: skip
        (self.layer / "layer.json").write_text(json.dumps(meta, indent=1) + "\n")
        # a name of its own: builds publishing into other dists (tests, benchmarks) share the cache
        final = self.layer.with_name(f"{version}-{self.layer.name.rsplit('-', 1)[1]}")
        self.layer.rename(final)
        self.layer = final
        link = final.with_name(".latest")
        link.unlink(missing_ok=True)
        link.symlink_to(final.name)
        link.replace(final.with_name("latest"))
        self._release()
        with open(final.parent / ".in-use", "a") as in_use:
            try:
                fcntl.flock(in_use, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # another build of the profile runs: the next one prunes
            _prune(final.parent, keep={final, *(p.parent for p in self.lowers)})

    def discard(self) -> None:
        """Remove this build's layer (a failed build, or one whose layer is not kept)."""
        self.unmount()
        shutil.rmtree(self.layer, ignore_errors=True)
        self._release()

    def _release(self) -> None:
        if self._in_use is not None:
            os.close(self._in_use)
            self._in_use = None


def _mount_overlay(lowers: list[Path], folder: Path, what: str) -> None:
    """Mount ``lowers`` (top first) under ``folder``'s ``upper`` at ``folder/merged``."""
    options = f"lowerdir={':'.join(map(str, lowers))},upperdir={folder / 'upper'},workdir={folder / 'work'}"
    run(["mount", "-t", "overlay", "overlay", "-o", options, str(folder / "merged")], what=what,
        hint="the build needs root and a kernel with overlayfs")  # fmt: skip


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _prune(folder: Path, keep: set[Path]) -> None:
    for layer in folder.iterdir():
        if layer.is_dir() and not layer.is_symlink() and layer not in keep and not layer.name.startswith("build-"):
            shutil.rmtree(layer, ignore_errors=True)


def latest(profile: str) -> dict[str, Any] | None:
    """The profile's last published layer (``layer.json`` with its ``upper``), or None."""
    link = trees_dir(profile) / "latest"
    try:
        meta = json.loads((link / "layer.json").read_text())
    except (OSError, ValueError):
        return None
    stack = [link.resolve() / "upper", *map(Path, meta.get("lowers", []))]
    if not all(p.is_dir() for p in stack):
        return None  # a layer it stacks on is gone (the cache was cleaned): start clean
    return {**meta, "stack": stack}


def reusable(profile: str, reuse_key: str, selection: list[dict[str, str]]) -> tuple[list[Path] | None, str]:
    """The layers the profile's last published build stacks (top first), when the next build may
    start from them; else None and why not ("" when there is nothing to reuse)."""
    last = latest(profile)
    if last is None or last["reuse"] != reuse_key:
        return None, ""  # other roles, spec or base
    if len(last["stack"]) > MAX_REUSED_LAYERS:
        return None, ""  # a long chain of reuses: start a new one
    if withdrawn := set(last["catalogue"]) - {e["name"] for e in selection}:
        return None, f"{', '.join(sorted(withdrawn))} left the catalogue selection"
    return last["stack"], ""


def tar_into_podman(tree: Path, image: str, labels: dict[str, str]) -> None:
    """The tree as an OCI image of the local store (``podman import`` of its tarball), systemd its command."""
    with tempfile.TemporaryFile() as tar_err:  # a file, not a pipe: tar never blocks on its warnings
        tar = subprocess.Popen(
            ["tar", "-C", str(tree), "--numeric-owner", "--xattrs", "--xattrs-include=*", "--one-file-system",
             "-cf", "-", "."],
            stdout=subprocess.PIPE, stderr=tar_err,
        )  # fmt: skip
        assert tar.stdout is not None
        try:
            proc = subprocess.run([*import_command(labels), "-", image], stdin=tar.stdout, capture_output=True,
                                  text=True, check=False)  # fmt: skip
        finally:
            tar.stdout.close()
            tar.wait()
        tar_err.seek(0)
        err = tar_err.read().decode(errors="replace")
    if tar.returncode or proc.returncode:
        raise StepFailed(f"podman import of the master tree failed: {(proc.stderr or err).strip()[-500:]}")
