"""Running external commands with errors a person can act on."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from socle.errors import StepFailed


def run(
    cmd: Sequence[str | Path],
    *,
    what: str,
    hint: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    capture: bool = True,
    input: str | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd``; on failure raise :class:`StepFailed` naming ``what`` with the tail of its output."""
    argv = [str(c) for c in cmd]
    try:
        proc = subprocess.run(
            argv,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            capture_output=capture,
            text=True,
            input=input,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise StepFailed(f"{what}: command '{argv[0]}' not found", hint="run 'invoke setup' first") from None
    except subprocess.TimeoutExpired:
        raise StepFailed(f"{what}: timed out after {timeout:.0f} s", hint=hint) from None
    if proc.returncode:
        out = ((proc.stdout or "") + (proc.stderr or "")).strip().splitlines()
        tail = "\n    ".join(out[-12:]) if out else "(no output)"
        raise StepFailed(f"{what} failed (exit {proc.returncode}):\n    {tail}", hint=hint)
    return proc


def ok(cmd: Sequence[str | Path]) -> bool:
    """True when ``cmd`` exits 0 (output discarded)."""
    try:
        return subprocess.run([str(c) for c in cmd], capture_output=True, check=False).returncode == 0
    except FileNotFoundError:
        return False


def playbook(
    book: Path, inventory: Path, *, results: Path, log: Path, forks: int, args: Sequence[str] = (),
    quiet: bool = False,
) -> int:  # fmt: skip
    """Run an operation playbook; the socle_snapshots callback writes one JSON per host in ``results``.

    Returns ansible-playbook's exit code: per-host outcomes are in ``results``, the full output in ``log``.
    """
    import sys

    from socle import ROOT

    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_CALLBACKS_ENABLED": "socle_snapshots",
        "SOCLE_CONFORMITY_RAW": str(results),
        "ANSIBLE_FORKS": str(forks),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    if quiet:
        env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.builtin.null"
    results.mkdir(parents=True, exist_ok=True)
    with log.open("w") as fh:
        return subprocess.run(
            ["ansible-playbook", "-i", str(inventory), *args, str(book)],
            cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, check=False,
        ).returncode  # fmt: skip
