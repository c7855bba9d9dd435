"""Console side of `invoke build-master`."""

from __future__ import annotations

from socle import build


def build_master(*, profile: str, year: str, update_lock: bool, patch: bool, force: bool) -> None:
    build.build(profile=profile, year=year or None, update_lock=update_lock, patch=patch, force=force)
