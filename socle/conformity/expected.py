"""Expected state, never written per host: the inventory gives each host its salle's profile and
disciplines; the newest published master of the profile, in the school year the établissement's wave
runs (or the one asked for), gives the package set; the catalogue gives the
salle's software; the hardening roles' own defaults give the baseline (the same variables remediate)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml

from socle.catalogue.model import Catalogue
from socle.catalogue.selection import select_software
from socle.conformity.model import Target
from socle.core.errors import SocleError
from socle.core.paths import ROOT
from socle.inventory.model import fast_load
from socle.registry import specs
from socle.registry.rollout import assigned_year

HARDENING_DEFAULTS = ROOT / "roles" / "hardening" / "defaults" / "main.yml"


WIN_HARDENING_DEFAULTS = ROOT / "roles" / "win_hardening" / "defaults" / "main.yml"


def reference_year(t: Target, today: dt.date, year: str = "") -> str:
    """The school year whose master ``t`` is judged against: ``year`` when given, else the one its
    wave runs on ``today`` (a later wave is not drift while next year's masters reach the pilots)."""
    if year:
        return specs.resolve_year(year)
    return assigned_year(t.wave, today) if t.wave else specs.resolve_year(None, today)


def _address(host: dict[str, Any]) -> str:
    ip = str(host.get("ip") or "dhcp")
    return str(host["hostname"]) if ip == "dhcp" else ip


def targets(region: Path, etab: str | None = None, salle: str | None = None) -> list[Target]:
    out = []
    for school in fast_load(region):
        if etab and school["uai"] != etab:
            continue
        for room in school.get("salles") or []:
            if salle and str(room["id"]) != salle:
                continue
            for poste in room.get("postes") or []:
                out.append(
                    Target(poste["hostname"], school["uai"], school["name"], str(room["id"]), room["profile"],
                           list(room.get("disciplines") or []), mac=str(poste.get("mac") or ""),
                           wave=str(school["wave"]), address=_address(poste))
                )  # fmt: skip
        if not salle:
            out += [Target(srv["hostname"], school["uai"], school["name"], "serveurs", "serveur", [], "serveur",
                           wave=str(school["wave"]), address=_address(srv))
                    for srv in school.get("serveurs") or []]  # fmt: skip
    if not out:
        where = f"{etab or ''}{'/' + salle if salle else ''}" or "the inventory"
        raise SocleError(f"no poste matches {where}", hint="check the UAI and room id with 'ansible-inventory --graph'")
    return out


def hardening_expectations(windows: bool = False) -> dict[str, Any]:
    return yaml.safe_load((WIN_HARDENING_DEFAULTS if windows else HARDENING_DEFAULTS).read_text())


def software(cat: Catalogue, year: str, t: Target, manifest: dict[str, Any] | None, *, windows: bool) -> dict[str, str]:
    """Debian package -> card id the room's disciplines need, restricted to what the master selects."""
    spec = (manifest or {}).get("spec", {})
    if windows:  # display name (Uninstall keys) -> card id
        out = {}
        for sid in sorted(select_software(cat, year=year, disciplines=t.disciplines)):
            win = ((cat.card(sid) or {}).get("platforms") or {}).get("windows") or {}
            if win and win.get("source") != "none":
                out[win["detect"]["display_name"]] = sid
        return out
    if t.kind == "serveur" or (manifest and "catalogue_software" not in {r.get("name") for r in spec.get("roles", [])}):
        return {}  # a master without the catalogue (serveurs) carries no teaching software
    spec_sel = spec.get("catalogue", {})
    chosen = select_software(cat, year=year, disciplines=t.disciplines, software=spec_sel.get("software") or None)
    out = {}
    for sid in sorted(chosen):
        lin = ((cat.card(sid) or {}).get("platforms") or {}).get("linux") or {}
        for pkg in (lin.get("apt") or {}).get("packages") or []:
            out[pkg] = sid
    return out
