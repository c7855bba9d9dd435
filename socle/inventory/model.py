"""Établissement inventories: one YAML file per school under inventories/<région>/etablissements/.

The checks (``inventory.checks``) read them with line numbers; operations and the Ansible inventory
plugin (``plugins/inventory/socle_inventory.py``) read the same files fast through :func:`fast_load`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

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
        with path.open("rb") as fh:
            data = yaml.load(fh, Loader=_LOADER)
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
    """YAML with one poste per line, so that a school's file stays readable and diffable."""
    salles = school["salles"]
    head = dumps({k: v for k, v in school.items() if k != "salles"})
    lines = [HEADER + head.rstrip("\n"), "salles:"]
    for salle in salles:
        lines.append(f"  - id: {yaml.safe_dump(salle['id']).splitlines()[0]}")
        lines.append(f"    usage: {salle['usage']}")
        lines.append(f"    disciplines: [{', '.join(salle['disciplines'])}]")
        lines.append(f"    profile: {salle['profile']}")
        if salle.get("vars"):
            lines.append("    vars: " + yaml.safe_dump(salle["vars"], default_flow_style=True).strip())
        lines.append("    postes:" if salle["postes"] else "    postes: []")
        for p in salle["postes"]:
            fields = ", ".join(f"{k}: {_scalar(v)}" for k, v in p.items())
            lines.append(f"      - {{{fields}}}")
    return "\n".join(lines) + "\n"


def _scalar(value: Any) -> str:
    text = str(value)
    if any(c in text for c in ",:{}[]#'\"") or text != text.strip() or not text:
        return '"' + text.replace('"', '\\"') + '"'
    return text
