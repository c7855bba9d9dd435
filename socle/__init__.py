"""socle: the Région's governed base for school computers (catalogue, inventories, masters, operations)."""

from __future__ import annotations

import getpass
import os
from pathlib import Path

__version__ = "0.1.0"

#: Root of the project checkout (the directory that holds ``pyproject.toml``).
ROOT = Path(__file__).resolve().parent.parent
#: The software catalogue masters are built from (another checkout: SOCLE_CATALOGUE_DIR).
CATALOGUE_DIR = Path(os.environ.get("SOCLE_CATALOGUE_DIR", ROOT / "software_catalogue"))


def rel(path: Path) -> str:
    """``path`` relative to the checkout when inside it (for messages), else as given."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def who() -> str:
    """The person running an operation, for the records (the sudo caller when run through sudo)."""
    return os.environ.get("SUDO_USER") or getpass.getuser()
