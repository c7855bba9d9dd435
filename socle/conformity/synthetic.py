"""A deterministic night of conformity results for a synthetic Région (benchmarks, report tests):
mostly conformant postes, some drift, a few failures, postes switched off."""

from __future__ import annotations

import random

from socle.conformity.model import Drift, HostResult
from socle.inventory.generator import uai_for

#: (status, weight) of a poste's night
NIGHT = (("conformant", 88), ("drift", 6), ("failed", 1), ("not seen", 5))
DRIFTS = (
    Drift("catalogue", "missing", "geogebra is missing", "installed", "absent"),
    Drift("hardening", "R63 | sshd.PasswordAuthentication", "PasswordAuthentication is yes", "no", "yes"),
    Drift("unknown-software", "outside-master", "jeu-non-approuve is outside the master"),
)


def night(*, etabs: int, postes: int, seed: int = 2026) -> list[HostResult]:
    """``postes`` results spread over ``etabs`` établissements, salles of 30 postes."""
    rng = random.Random(seed)
    statuses, weights = zip(*NIGHT, strict=True)
    results = []
    for i in range(postes):
        school = i % etabs
        uai = uai_for("067", 1000 + school)
        n = i // etabs
        salle = f"S{n // 30 + 1:02d}"
        status = rng.choices(statuses, weights)[0]
        drifts = [rng.choice(DRIFTS)] if status == "drift" else []
        reason = "no answer (switched off?)" if status == "not seen" else "ansible: task failed" * (status == "failed")
        results.append(HostResult(f"{uai.lower()}-{salle.lower()}-{n % 30 + 1:02d}", uai, salle, "poste-linux",
                                  status, drifts, reason))  # fmt: skip
    return results
