"""Windows masters (issue #9): inputs are checked first, so that a missing ISO or KVM fails at once."""

from __future__ import annotations

import os
from pathlib import Path

from socle import rel
from socle.errors import NotImplementedYet, SocleError


def build(spec) -> Path:
    win = spec.data.get("windows") or {}
    iso = Path(os.environ.get("SOCLE_WINDOWS_ISO", win.get("iso", "")))
    if not str(iso) or not iso.is_file():
        raise SocleError(
            f"the Windows build needs the Région's licensed installation ISO, not found at '{iso}'",
            where=f"{rel(spec.path)} [windows.iso]",
            hint="copy the ISO to that path (or set SOCLE_WINDOWS_ISO); nothing is downloaded from Microsoft",
        )
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        raise SocleError(
            "the Windows build needs KVM (/dev/kvm) to install Windows in a VM",
            hint="run it on a build host with hardware virtualisation enabled",
        )
    raise NotImplementedYet("build-master --profile poste-windows", 9)
