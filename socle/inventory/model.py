"""Établissement inventories: one YAML file per school under inventories/<région>/etablissements/.

The checks (``inventory.checks``) read them with line numbers; operations and the Ansible inventory
plugin (``plugins/inventory/socle_inventory.py``) read the same files fast through :func:`fast_load`.
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Any

import yaml

from socle.core import yamlio
from socle.core.errors import SocleError
from socle.core.paths import ROOT, rel
from socle.core.yamlio import dumps

DEFAULT_REGION = ROOT / "inventories" / "grand-est"


WAVES = ("pilot", "1", "2", "3")


ZONES = ("A", "B", "C")


#: académie -> holiday zone (../shared/domain-notes.md); Corsica and overseas set their own calendars.
ACADEMIE_ZONE = {
    "besancon": "A",
    "bordeaux": "A",
    "clermont-ferrand": "A",
    "dijon": "A",
    "grenoble": "A",
    "limoges": "A",
    "lyon": "A",
    "poitiers": "A",
    "aix-marseille": "B",
    "amiens": "B",
    "normandie": "B",
    "lille": "B",
    "nancy-metz": "B",
    "nantes": "B",
    "nice": "B",
    "orleans-tours": "B",
    "reims": "B",
    "rennes": "B",
    "strasbourg": "B",
    "creteil": "C",
    "montpellier": "C",
    "paris": "C",
    "toulouse": "C",
    "versailles": "C",
}


MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")

#: host names Ansible or the inventory plugin give a meaning: a poste named ``all`` or ``postes`` would
#: shrink a pattern such as ``postes:&etab_x`` to itself, one named ``localhost`` would run on the controller
RESERVED_HOSTNAMES = frozenset({"all", "ungrouped", "localhost", "postes", "serveurs"})


def address_problem(mac: str | None = None, ip: str | None = None) -> str | None:
    """Why a MAC or fixed IPv4 address cannot be a poste's or serveur's (None when it can)."""
    if mac is not None:
        if not MAC.match(mac):
            return f"MAC address '{mac[:40]}' is malformed"
        first = int(mac[:2], 16)
        if mac in {"00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"}:
            return f"MAC address {mac} is {'zero' if first == 0 else 'the broadcast address'}"
        if first & 1:
            return f"MAC address {mac} is a multicast address (its first byte is odd)"
    if ip is not None and ip != "dhcp":
        try:
            addr = ipaddress.IPv4Address(ip)
        except ValueError:
            return f"IP address '{ip[:40]}' is malformed"
        for bad, label in ((addr.is_unspecified, "unspecified"), (addr.is_loopback, "a loopback address"),
                           (addr.is_multicast, "a multicast address"), (addr.is_link_local, "link-local"),
                           (addr == ipaddress.IPv4Address("255.255.255.255"), "the broadcast address"),
                           (addr.is_reserved, "reserved")):  # fmt: skip
            if bad:
                return f"IPv4 address {ip} is {label}"
    return None


def school_files(region: Path) -> list[Path]:
    folder = region / "etablissements"
    if not folder.is_dir():
        raise SocleError(
            "no etablissements/ folder in this inventory",
            where=rel(region),
            hint="an inventory is inventories/<région>/etablissements/<UAI>.yaml",
        )
    return sorted(p for p in folder.iterdir() if p.suffix in {".yaml", ".yml"})


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def fast_load(region: Path) -> list[dict[str, Any]]:
    """Parse every school with libyaml, no line tracking (the checks do that)."""
    out = []
    for path in school_files(region):
        data = yamlio.fast_load(path)
        if not isinstance(data, dict):
            raise SocleError("not a mapping", where=rel(path), hint="run 'invoke inventory.check'")
        data["__file__"] = str(path)
        out.append(data)
    return out


def rooms_summary(region: Path | None = None) -> list[dict[str, Any]]:
    region = region or DEFAULT_REGION
    if not (region / "etablissements").is_dir():
        return []
    out = []
    for school in fast_load(region):
        for salle in school.get("salles") or []:
            out.append(
                {
                    "uai": school["uai"],
                    "school": school["name"],
                    "room": str(salle["id"]),
                    "disciplines": list(salle.get("disciplines") or []),
                    "profile": salle.get("profile", ""),
                    "postes": len(salle.get("postes") or []),
                }
            )
    return out


def group_name(*parts: str) -> str:
    """Ansible group names: lower case, [a-z0-9_] only."""
    return re.sub(r"[^a-z0-9_]", "_", "_".join(parts).lower())


HEADER = "# yaml-language-server: $schema=../../../socle/schemas/etablissement.schema.json\n"


def render(school: dict[str, Any]) -> str:
    """YAML with one poste per line, so that a school's file stays readable and diffable.

    Every value goes through :func:`scalar` (a YAML serializer), never pasted: a spreadsheet cell
    holding a newline or a ``{`` stays text. The result is checked to read back as ``school``.
    """
    salles = school["salles"]
    head = dumps({k: v for k, v in school.items() if k != "salles"})
    lines = [HEADER + head.rstrip("\n"), "salles:" if salles else "salles: []"]
    for salle in salles:
        lines.append(f"  - id: {scalar(salle['id'])}")
        lines.append(f"    usage: {scalar(salle['usage'])}")
        lines.append(f"    disciplines: [{', '.join(scalar(d) for d in salle['disciplines'])}]")
        lines.append(f"    profile: {scalar(salle['profile'])}")
        if salle.get("vars"):
            lines.append("    vars: " + yaml.safe_dump(salle["vars"], default_flow_style=True, width=10**6).strip())
        lines.append("    postes:" if salle["postes"] else "    postes: []")
        for p in salle["postes"]:
            fields = ", ".join(f"{scalar(k)}: {scalar(v)}" for k, v in p.items())
            lines.append(f"      - {{{fields}}}")
    text = "\n".join(lines) + "\n"
    if yaml.load(text, Loader=_LOADER) != school:
        raise SocleError("the établissement file would not read back as written (a serializer bug)",
                         hint="report it; nothing was written")  # fmt: skip
    return text


_PLAIN = re.compile(r"[\w.(]([\w ./@+()'-]*[\w./@+()'-])?")


def scalar(value: Any) -> str:
    """One YAML scalar in flow context: plain when that reads back as the same string, else quoted."""
    if not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if _PLAIN.fullmatch(value) and yaml.load(value, Loader=_LOADER) == value:
        return value
    return json.dumps(value, ensure_ascii=False)
