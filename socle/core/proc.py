"""Running external commands with errors a person can act on."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from socle.core.errors import StepFailed


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
        raise StepFailed(f"{what}: command '{argv[0]}' not found", hint="run './socle.sh setup' first") from None
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
