"""What every master build shares, whatever its platform: the context and its timed steps, the
inputs hash that says "already built", the build time policy, signing and atomic publication.

A platform (``build/linux``, ``build/windows``) implements :class:`Platform`: its own checks in
``build`` and its own steps in ``produce``; :meth:`Platform.run` does the rest the same way for all.
Platforms never import each other.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from rich.console import Console

from socle import __version__
from socle.core import history, operator, signing
from socle.core.clock import from_epoch, utc_stamp
from socle.core.errors import SocleError
from socle.core.paths import CATALOGUE_DIR, ROOT, rel
from socle.registry import store
from socle.registry.specs import MasterSpec

console = Console(stderr=True)


@dataclass(kw_only=True)
class BuildContext:
    spec: MasterSpec
    version: str
    source_date_epoch: int
    staging: Path
    final: Path
    timings: dict[str, float] = field(default_factory=dict)
    resume: str = ""  # what a re-run reuses, said when a step fails


@contextmanager
def step(ctx: BuildContext, name: str) -> Iterator[None]:
    """One step of a build: a spinner while it runs, its time recorded, a failure that says how to resume."""
    start = time.monotonic()
    with console.status(f"[bold]{name}…"):
        try:
            yield
        except SocleError as exc:
            took = time.monotonic() - start
            console.print(f"[red]✗ {name}[/] ({took:.1f} s)")
            exc.hint = (exc.hint + "\n  " if exc.hint else "") + (
                f"nothing was published; fix the cause and re-run the same command ({ctx.resume})"
            )
            raise
    took = time.monotonic() - start
    ctx.timings[name] = round(took, 2)
    console.print(f"[green]✓[/] {name} [dim]({took:.1f} s)[/]")


def timed(ctx: BuildContext, name: str, fn: Any, *args: Any) -> Any:
    """Run one part of a parallel step, recording its own duration in the build's timings."""
    start = time.monotonic()
    result = fn(*args)
    took = time.monotonic() - start
    ctx.timings[f"  {name}"] = round(took, 2)
    console.print(f"  [green]✓[/] {name} [dim]({took:.1f} s)[/]")
    return result


def source_date_epoch() -> int:
    """The build time every artefact carries: SOURCE_DATE_EPOCH, else the checkout's last commit time."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return int(os.environ["SOURCE_DATE_EPOCH"])
    proc = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%ct"], capture_output=True, text=True)
    return int(proc.stdout.strip()) if proc.returncode == 0 and proc.stdout.strip() else 0


def build_record(ctx: BuildContext, **more: Any) -> dict[str, Any]:
    """The manifest's ``build`` section: when (the build time policy above) and what built it."""
    return {"source_date_epoch": ctx.source_date_epoch, "built_at": from_epoch(ctx.source_date_epoch), **more}


def git_revision(path: Path) -> dict[str, Any]:
    """Commit of the git checkout holding ``path`` and whether ``path`` has uncommitted changes."""
    rev = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(path), "status", "--porcelain", "--", "."], capture_output=True, text=True)
    return {
        "commit": rev.stdout.strip() if rev.returncode == 0 else None,
        "dirty": bool(dirty.stdout.strip()) if dirty.returncode == 0 else None,
    }


def hash_files(h: Any, *paths: Path) -> None:
    """Feed ``h`` with the name and content of each file, folders walked in order (caches skipped)."""
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        else:
            files = [path] if path.exists() else []
        for file in files:
            h.update(rel(file).encode() + b"\0" + file.read_bytes() + b"\0")


def inputs_sha256(spec: MasterSpec) -> str:
    """Hash of everything a build consumes: spec, lock, roles, catalogue, socle version."""
    h = hashlib.sha256(__version__.encode())
    hash_files(h, spec.path, spec.lock_path, ROOT / "roles", CATALOGUE_DIR)
    return h.hexdigest()


def sign(ctx: BuildContext) -> dict[str, str]:
    """Sign the staging's SHA256SUMS (OpenPGP); the manifest's ``signature`` section."""
    signing.sign(ctx.staging / "SHA256SUMS")
    return {"file": "SHA256SUMS.asc", "signs": "SHA256SUMS", "key": signing.signer()[1]}


class Platform(ABC):
    """A master platform: its checks and its steps. :meth:`run` is the part all platforms share."""

    #: the spec's ``platform`` this class builds
    name: ClassVar[str]
    #: mode of the staging folder (a Windows staging briefly holds build secrets)
    staging_mode: ClassVar[int] = 0o755

    @abstractmethod
    def build(self, spec: MasterSpec, *, update_lock: bool, patch: bool, force: bool) -> Path:
        """Check the options and inputs (nothing written when they are wrong), then :meth:`run`."""

    @abstractmethod
    def produce(self, ctx: BuildContext) -> dict[str, Any]:
        """The platform's steps: artefacts, SHA256SUMS and its signature in ``ctx.staging``; returns the manifest."""

    def context(self, **common: Any) -> BuildContext:
        """The build's context (a platform may extend it with its own fields)."""
        return BuildContext(**common)

    @abstractmethod
    def tidy(self, ctx: BuildContext) -> None:
        """After a successful build, before publication: remove what only the build needed."""

    def published(self, ctx: BuildContext, manifest: dict[str, Any]) -> None:
        """After publication (nothing by default)."""
        return None

    def run(self, spec: MasterSpec, *, patch: bool, rebuild: bool, resume: str) -> Path:
        """Build ``spec`` unless the same inputs were built already, then publish it atomically under a
        version never published before (:func:`store.version_to_build`)."""
        if not rebuild and (same := store.built_from(spec, inputs_sha256(spec))):
            console.print(
                f"[green]already built[/]: {same} (same spec, lock, roles and catalogue); use --force to rebuild"
            )
            return same
        version = store.version_to_build(spec, patch=patch)
        if version != spec.version and not patch:
            console.print(f"{spec.version} is published and never rebuilt in place: this build publishes {version}")
        final = store.master_dir(spec.year, spec.profile, version)
        who = operator.current()  # checked before hours of work, recorded at publication
        staging = final.with_name(f".{version}.partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True, mode=self.staging_mode)
        ctx = self.context(spec=spec, version=version, source_date_epoch=source_date_epoch(), staging=staging,
                           final=final, resume=resume)  # fmt: skip
        console.rule(f"[bold]master {spec.profile} {version}[/] ({rel(spec.path)})")
        started, started_at = time.monotonic(), utc_stamp()
        manifest = self.produce(ctx)
        manifest["inputs_sha256"] = inputs_sha256(spec)
        manifest["build"]["duration_s"] = round(time.monotonic() - started, 1)
        manifest["build"]["steps_s"] = ctx.timings
        self.tidy(ctx)
        store.publish(staging, final, manifest)
        console.print(f"[bold green]master published[/]: {final} ({manifest['build']['duration_s']} s)")
        # the publication time starts the clock of patch latency and of the rollout (docs/review.md)
        history.record(history.Intervention(
            "build", who, started_at, utc_stamp(), "success", run=f"{spec.profile}-{version}",
            request=history.Request("rentree" if version.endswith(".0") else "patch"),
            master=f"{spec.profile}/{version}", detail={"school_year": spec.year, "path": str(final)},
        ))  # fmt: skip
        self.published(ctx, manifest)
        return final
