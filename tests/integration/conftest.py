"""One `ci` master for the whole integration session: built once, used by the build and conformity tests."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from socle.core.paths import ROOT
from tests.conftest import run_invoke


@dataclass
class CiMaster:
    masters_dir: Path
    dist: Path
    path: Path
    image: str = "localhost/socle/ci:2026-2027.0"


def build_ci(masters_dir: Path, dist: Path, *extra: str, profile: str = "ci", env: dict[str, str] | None = None,
             wrap: tuple[str, ...] = ()):  # fmt: skip
    return run_invoke(
        "build-master", "--profile", profile, "--year", "2026-2027", *extra,
        env={"SOCLE_MASTERS_DIR": str(masters_dir), "SOCLE_DIST": str(dist), **(env or {})},
        timeout=1800, wrap=wrap,
    )  # fmt: skip


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["podman", *args], capture_output=True, text=True)
    if check:
        assert proc.returncode == 0, f"podman {' '.join(args)}: {proc.stderr[-1500:]}"
    return proc


def wait_booted(*containers: str) -> None:
    """Wait until systemd is up in each container (first-boot SSH keys, services)."""
    for name in containers:
        for _ in range(60):
            state = subprocess.run(["podman", "exec", name, "systemctl", "is-system-running"], capture_output=True,
                                   text=True).stdout.strip()  # fmt: skip
            if state in {"running", "degraded"}:
                break


def newest_master(dist: Path, profile: str = "ci") -> Path:
    """Folder of the newest version of a profile in a dist (a patch release when one was built)."""
    return max(dist.glob(f"masters/2026-2027/{profile}/*/manifest.json"),
               key=lambda p: int(p.parent.name.rsplit(".", 1)[1])).parent  # fmt: skip


@pytest.fixture(scope="session")
def ci_master(tmp_path_factory) -> CiMaster:
    """This year's ci spec without its lock (and the year's rollout), built into a scratch dist (the build
    writes the lock)."""
    masters_dir = tmp_path_factory.mktemp("masters")
    (masters_dir / "2026-2027").mkdir()
    shutil.copy(ROOT / "masters" / "2026-2027" / "ci.yaml", masters_dir / "2026-2027" / "ci.yaml")
    # which year's masters each wave runs (operations run with this folder too)
    shutil.copy(ROOT / "masters" / "2026-2027" / "rollout.yml", masters_dir / "2026-2027" / "rollout.yml")
    dist = tmp_path_factory.mktemp("dist1")
    proc = build_ci(masters_dir, dist)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return CiMaster(masters_dir, dist, dist / "masters" / "2026-2027" / "ci" / "2026-2027.0")
