"""A deterministic synthetic region (benchmarks, load tests): établissements of Grand Est with
salles, postes and serveurs, written as inventory files."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from socle.core import uai
from socle.core.errors import SocleError
from socle.inventory.model import ACADEMIE_ZONE, render

#: (département prefix, académie, commune) in Grand Est
DEPARTEMENTS = [
    ("067", "strasbourg", "Strasbourg"), ("068", "strasbourg", "Mulhouse"), ("054", "nancy-metz", "Nancy"),
    ("057", "nancy-metz", "Metz"), ("088", "nancy-metz", "Épinal"), ("055", "nancy-metz", "Verdun"),
    ("051", "reims", "Reims"), ("010", "reims", "Troyes"), ("008", "reims", "Charleville-Mézières"),
    ("052", "reims", "Chaumont"),
]  # fmt: skip


#: salle templates: (id, usage, disciplines, profile)
ROOMS = [
    ("INFO1", "salle informatique", ["nsi-snt", "mathematiques"], "poste-linux"),
    ("S101", "salle de sciences", ["svt", "physique-chimie"], "poste-linux"),
    ("CDI", "CDI", ["documentation", "lettres"], "poste-windows"),
    ("STI1", "atelier STI2D", ["sti2d"], "poste-windows"),
    ("LANG", "laboratoire de langues", ["langues-vivantes"], "poste-linux"),
    ("ARTS", "salle d'arts", ["arts-plastiques", "education-musicale"], "poste-linux"),
    ("TECH", "salle de technologie", ["technologie"], "poste-linux"),
    ("HG1", "salle d'histoire-géographie", ["histoire-geographie", "ses"], "poste-windows"),
]


MODELS = ["Dell OptiPlex 7010", "HP Elite Mini 800 G9", "Lenovo ThinkCentre M70q", "Fujitsu Esprimo G6012"]


def uai_for(prefix: str, n: int) -> str:
    digits = f"{prefix}{n:04d}"
    return digits + uai.check_letter(digits)


def _school(rng: random.Random, index: int, n_postes: int, names: list[str] | None = None) -> dict[str, Any]:
    prefix, academie, commune = DEPARTEMENTS[index % len(DEPARTEMENTS)]
    code = uai_for(prefix, 1000 + index)
    kind = ["lycee-gt", "lycee-pro", "lycee-polyvalent"][index % 3]
    low = code.lower()
    rooms = []
    per_room = max(1, min(35, n_postes // 4 or 1))
    remaining = n_postes
    r = 0
    while remaining > 0:
        rid, usage, discs, profile = ROOMS[(r + 2 * index) % len(ROOMS)]
        if r >= len(ROOMS):
            rid = f"{rid}{r // len(ROOMS) + 1}"
        count = min(remaining, rng.randint(max(1, per_room - 5), per_room + 5) if remaining > per_room else remaining)
        postes = []
        for p in range(1, count + 1):
            serial = (index << 16) | (r << 8) | p
            postes.append(
                {
                    "hostname": f"{low}-{rid.lower()}-{p:02d}",
                    "mac": "52:54:{:02x}:{:02x}:{:02x}:{:02x}".format(*serial.to_bytes(4, "big")),
                    "ip": "dhcp",
                    "asset": f"GE-{index:04d}-{r:02d}{p:02d}",
                    "model": MODELS[(index + r) % len(MODELS)],
                }
            )
        rooms.append({"id": rid, "usage": usage, "disciplines": discs, "profile": profile, "postes": postes})
        remaining -= count
        r += 1
    name = names[index] if names and index < len(names) else f"Lycée {commune} n°{index + 1}"
    return {
        "schema_version": 1,
        "uai": code,
        "name": name,
        "type": kind,
        "commune": commune,
        "academie": academie,
        "zone": ACADEMIE_ZONE[academie],
        "wave": ["pilot", "1", "2", "3"][min(3, index // 6)] if index >= 6 else "pilot",
        "options": {"branding": {"school_name": name}, "services": ["apt-cache", "image-cache", "multicast"]},
        "serveurs": [
            {
                "hostname": f"srv-{low}",
                "role": "serveur",
                "ip": f"10.{int(prefix) % 256}.{index // 256}.{(index % 256) or 1}",
                "model": "Dell PowerEdge T150",
            }
        ],
        "salles": rooms,
    }


def generate(out: Path, *, etabs: int, postes: int, seed: int = 2026, names: list[str] | None = None) -> int:
    """Write a deterministic synthetic region; returns the number of postes written."""
    if etabs < 1 or postes < etabs:
        raise SocleError(
            "need at least one établissement and one poste per établissement", hint="--etabs 350 --postes 60000"
        )
    if etabs > 9000:
        raise SocleError("at most 9000 établissements", hint="UAIs are generated from 4-digit numbers")
    rng = random.Random(seed)
    folder = out / "etablissements"
    folder.mkdir(parents=True, exist_ok=True)
    (out / "socle.yml").write_text(
        "---\n# socle inventory plugin: reads etablissements/*.yaml\nplugin: socle_inventory\n"
    )
    base, extra = divmod(postes, etabs)
    total = 0
    for i in range(etabs):
        n = base + (1 if i < extra else 0)
        school = _school(rng, i, n, names)
        (folder / f"{school['uai']}.yaml").write_text(render(school))
        total += n
    return total
