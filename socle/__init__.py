"""socle: the Région's governed base for school computers (catalogue, inventories, masters, operations)."""

from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"

#: Root of the project checkout (the directory that holds ``pyproject.toml``).
ROOT = Path(__file__).resolve().parent.parent
