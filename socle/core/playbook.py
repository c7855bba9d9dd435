"""ansible-playbook with the project's configuration: operation plays and build steps."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from socle.core import sshid
from socle.core.errors import SocleError, StepFailed
from socle.core.files import read_json
from socle.core.paths import ROOT


def _env(**extra: str) -> dict[str, str]:
    """The project's ansible.cfg, and this interpreter's Ansible first on PATH."""
    return {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        **extra,
    }


def _run(args: Sequence[str], log: Path, env: dict[str, str]) -> int:
    with log.open("w") as fh:
        return subprocess.run(
            ["ansible-playbook", *args], cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, check=False
        ).returncode


def operation(
    book: Path, inventory: Path, *, results: Path, log: Path, forks: int, args: Sequence[str] = (),
    quiet: bool = False,
) -> int:  # fmt: skip
    """Run an operation playbook; the socle_snapshots callback writes one JSON per host in ``results``.

    Returns ansible-playbook's exit code: per-host outcomes are in ``results``, the full output in ``log``.
    """
    env = _env(
        ANSIBLE_CALLBACKS_ENABLED="socle_snapshots",
        SOCLE_CONFORMITY_RAW=str(results),
        ANSIBLE_FORKS=str(forks),
        **sshid.ansible_env(),
    )
    if quiet:
        env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.builtin.null"
    results.mkdir(parents=True, exist_ok=True)
    return _run(["-i", str(inventory), *args, str(book)], log, env)


def step(args: list[str], log: Path, label: str) -> None:
    """A build step: ansible-playbook ARGS, output to ``log``; a failure names its failed tasks."""
    if _run(args, log, _env(ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")):
        lines = log.read_text().splitlines()
        failed = [ln for ln in lines if "fatal:" in ln or "FAILED" in ln or "ERROR" in ln]
        tail = "\n    ".join(ln[:300] for ln in (failed or lines)[-8:])
        raise StepFailed(f"ansible-playbook ({label}) failed:\n    {tail}", hint=f"full log: {log}")


def load_raw(path: Path) -> dict[str, Any] | None:
    """One host's result as the socle_snapshots callback wrote it (None when the host has none, or when
    what it wrote cannot be read: the host is then reported without a result, never trusted)."""
    try:
        data = read_json(path, what=f"the result of {path.stem}") if path.exists() else None
    except SocleError:
        return None
    return data if isinstance(data, dict) else None
