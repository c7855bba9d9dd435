"""`invoke build-master`: reproducible school-year master images, one platform per spec."""

from __future__ import annotations

from pathlib import Path

from socle.build.linux import Linux
from socle.build.pipeline import Platform
from socle.build.windows import Windows
from socle.registry.specs import DEFAULT_PROFILE, load_spec

PLATFORMS: dict[str, type[Platform]] = {"linux": Linux, "windows": Windows}


def build(
    *,
    profile: str = DEFAULT_PROFILE,
    year: str | None = None,
    update_lock: bool = False,
    patch: bool = False,
    force: bool = False,
) -> Path:
    """Build one master; returns its published directory in dist/."""
    spec = load_spec(profile, year)
    return PLATFORMS[spec.platform]().build(spec, update_lock=update_lock, patch=patch, force=force)
