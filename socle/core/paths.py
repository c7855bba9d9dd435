"""Where things are: the checkout, the catalogue, the master specs, the published masters, the caches."""

from __future__ import annotations

import os
from pathlib import Path

#: Root of the project: the checkout (the directory that holds ``pyproject.toml``), or, where socle is
#: installed as a wheel (a lycée serveur in pull mode), the project files it ships (``SOCLE_PROJECT``).
ROOT = Path(os.environ.get("SOCLE_PROJECT") or Path(__file__).resolve().parents[2])
#: The software catalogue masters are built from (another checkout: SOCLE_CATALOGUE_DIR).
CATALOGUE_DIR = Path(os.environ.get("SOCLE_CATALOGUE_DIR", ROOT / "software_catalogue"))


def dist_dir() -> Path:
    """Where builds publish (``SOCLE_DIST``, default ``dist/``)."""
    return Path(os.environ.get("SOCLE_DIST", ROOT / "dist"))


def cache_dir() -> Path:
    """Build caches: root filesystems, apt archives, the Debian index (``SOCLE_CACHE``, default ``.cache/``)."""
    path = Path(os.environ.get("SOCLE_CACHE", ROOT / ".cache"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def rel(path: Path | str) -> str:
    """``path`` relative to the checkout when inside it (for messages), else as given."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)
