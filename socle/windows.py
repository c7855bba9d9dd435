"""Windows masters (issue #9): inputs first (a missing ISO or KVM fails at once), answer file, catalogue mapping."""

from __future__ import annotations

import os
import secrets
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from socle import rel
from socle.errors import NotImplementedYet, SocleError

#: IANA time zone -> Windows time zone id (the ones French académies need)
WINDOWS_TIMEZONES = {
    "Europe/Paris": "Romance Standard Time",
    "America/Cayenne": "SA Eastern Standard Time",
    "America/Martinique": "SA Western Standard Time",
    "America/Guadeloupe": "SA Western Standard Time",
    "Indian/Reunion": "Mauritius Standard Time",
    "Indian/Mayotte": "E. Africa Standard Time",
}
#: fr-FR input locale: French (France) keyboard, AZERTY
FRENCH_INPUT_LOCALE = "040c:0000040c"


def render_autounattend(spec: Any, *, timezone: str = "Europe/Paris", build_password: str | None = None) -> str:
    """The French-locale answer file; the build account gets a one-time random password."""
    win = spec.data.get("windows") or {}
    if timezone not in WINDOWS_TIMEZONES:
        raise SocleError(
            f"no Windows time zone known for '{timezone}'", hint=f"use one of: {', '.join(WINDOWS_TIMEZONES)}"
        )
    template = resources.files("socle").joinpath("templates", "autounattend.xml.j2").read_text()
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string(template).render(
        profile=spec.data["profile"],
        version=spec.data["version"],
        locale="fr-FR",
        input_locale=FRENCH_INPUT_LOCALE,
        windows_timezone=WINDOWS_TIMEZONES[timezone],
        edition_index=int(win.get("edition_index", 1)),
        driver_paths=win.get("driver_paths", ["E:\\virtio\\viostor\\w11\\amd64", "E:\\virtio\\NetKVM\\w11\\amd64"]),
        organization=win.get("organization", "Région"),
        computer_name="SOCLE-BUILD",
        build_account="socle-build",
        build_password=build_password or secrets.token_urlsafe(24),
    )


def build(spec: Any) -> Path:
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
