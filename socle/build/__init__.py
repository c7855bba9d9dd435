"""`invoke build-master`: reproducible school-year master images, one platform per spec."""

from __future__ import annotations

from pathlib import Path

from socle.build.linux import Linux
from socle.build.pipeline import Platform
from socle.build.windows import Windows
from socle.core import signing
from socle.core.files import locked
from socle.registry import store
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
    """Build one master; returns its published directory in dist/.

    One build of a profile and year at a time per dist (they would share the version, the staging
    folder and the lock file); builds of other profiles run beside it (each its own container).
    """
    spec = load_spec(profile, year)
    signing.signer()  # no signing key (and no --dev-signing): refused now, not after the base is built
    with locked(
        store.profile_dir(spec.year, spec.profile),
        what=f"the {spec.profile} masters of {spec.year} (another build-master)",
    ):
        return PLATFORMS[spec.platform]().build(spec, update_lock=update_lock, patch=patch, force=force)
