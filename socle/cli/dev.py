"""The project's own tasks: host setup, lint (ruff, ansible-lint) and the test suite (pytest + molecule)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from rich.console import Console

from socle.build import rootfs
from socle.core import system
from socle.core.errors import StepFailed
from socle.core.paths import ROOT

console = Console(stderr=True)


def _venv_env() -> dict[str, str]:
    """molecule calls ansible-config from PATH: make sure this interpreter's bin dir comes first."""
    bindir = os.path.dirname(sys.executable)
    env = dict(os.environ)
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("ANSIBLE_HOME", str(ROOT / ".cache" / "ansible-home"))
    return env


def _step(name: str, cmd: list[str], env: dict[str, str] | None = None) -> float:
    console.rule(f"[bold]{name}")
    start = time.monotonic()
    rc = subprocess.run(cmd, cwd=ROOT, env=env or _venv_env(), check=False).returncode
    took = time.monotonic() - start
    if rc:
        raise StepFailed(f"{name} failed (exit {rc}) after {took:.0f} s", hint=f"re-run: {' '.join(cmd)}")
    console.print(f"[green]{name}: ok[/] ({took:.1f} s)")
    return took


def setup() -> None:
    """Install the Debian packages and write the podman configuration this host needs."""
    system.setup()


def lint() -> None:
    """ruff on the Python code, ansible-lint (production profile) on roles and playbooks."""
    python_code = ["socle", "tests", "tasks.py", "benchmarks", "plugins", "molecule"]
    _step("ruff", [sys.executable, "-m", "ruff", "check", *python_code])
    _step("ruff format", [sys.executable, "-m", "ruff", "format", "--check", "socle", "tests", "tasks.py"])
    _step("ansible-lint", ["ansible-lint", "--offline", "--profile", "production"])


def test(*, heavy: bool = False, quick: bool = False, keyword: str | None = None, with_lint: bool = False) -> None:
    """Run the suite (after :func:`lint` when asked): units always; integration (podman, molecule)
    unless quick; heavy when asked."""
    if with_lint:
        lint()
    # the slowest tests named at the end: where the CI budget (60 min on 2 cores) goes
    args = [sys.executable, "-m", "pytest", "tests", "--durations=25"]
    markers = []
    if quick:
        markers.append("not integration")
    if not heavy:
        markers.append("not heavy")
    if markers:
        args += ["-m", " and ".join(markers)]
    if keyword:
        args += ["-k", keyword]
    env = _venv_env()
    if heavy:  # the virtual salle in QEMU (tests/integration/test_salle_qemu.py): two postes, not one
        env.setdefault("SOCLE_QEMU_POSTES", "2")
    if not quick:
        system.require()
        env["SOCLE_TEST_IMAGE"] = rootfs.test_image()
    _step("pytest", args, env)
