"""Console side of `invoke build-master`."""

from __future__ import annotations

import os

from socle import build


def build_master(*, profile: str, year: str, update_lock: bool, patch: bool, force: bool, dev_signing: bool) -> None:
    if dev_signing:
        os.environ["SOCLE_DEV_SIGNING"] = "1"
    build.build(profile=profile, year=year or None, update_lock=update_lock, patch=patch, force=force)
