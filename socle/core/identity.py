"""Who runs an operation, for the records."""

from __future__ import annotations

import getpass
import os


def who() -> str:
    """The person running an operation (the sudo caller when run through sudo)."""
    return os.environ.get("SUDO_USER") or getpass.getuser()
