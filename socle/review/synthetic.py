"""A synthetic year of history (tests, benchmarks/review_report.py): interventions by CMIL and
contractors with tickets, repeat visits and failures, monthly patch releases rolled out by wave,
and nightly conformity results. Deterministic for a seed."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

from socle.conformity import history as conformity_history
from socle.core import history
from socle.core.clock import utc_stamp
from socle.core.operator import Operator

PEOPLE = [
    Operator("m.bernard", "cmil", "region", "certificate 0 (CA synthetic)"),
    Operator("s.klein", "cmil", "region", "certificate 0 (CA synthetic)"),
    Operator("t.muller", "contractor", "acme-maintenance", "certificate 0 (CA synthetic)"),
    Operator("l.weber", "contractor", "infogest", "certificate 0 (CA synthetic)"),
]
CURATIVE_CAUSES = ["malware", "misuse", "software-fault", "hardware-swap", "other"]
WAVE_DELAY_DAYS = {"pilot": 1, "1": 4, "2": 8, "3": 12}


def generate(db: str | Path, schools: list[dict[str, Any]], *, start: str = "2025-12", months: int = 12,
             seed: int = 2026, conformity_every_days: int = 7) -> dict[str, int]:  # fmt: skip
    """Write ``months`` of history from ``start`` for ``schools`` (uai, wave, salles: {id: [postes]})."""
    rng = random.Random(seed)
    t0 = dt.datetime(int(start[:4]), int(start[5:]), 1, tzinfo=dt.UTC)
    end = t0 + dt.timedelta(days=round(months * 30.44))
    entries: list[history.Intervention] = []
    regional = Operator("it.region", "regional-it", "region", "certificate 0 (CA synthetic)")
    # a patch release on the 5th of each month; each salle gets it after its wave's delay
    release = t0 + dt.timedelta(days=4)
    k = 0
    while release < end:
        master = f"poste-linux/2025-2026.{k}"
        entries.append(history.Intervention("build", regional, utc_stamp(release - dt.timedelta(hours=1)),
                                            utc_stamp(release),
                                            "success", run=master, master=master,
                                            request=history.Request("patch")))  # fmt: skip
        for school in schools:
            for salle, postes in school["salles"].items():
                begin = release + dt.timedelta(days=WAVE_DELAY_DAYS[school["wave"]], hours=rng.randint(0, 20))
                if begin >= end:
                    continue
                entries.append(history.Intervention(
                    "reimage", regional, utc_stamp(begin), utc_stamp(begin + dt.timedelta(minutes=rng.randint(5, 40))),
                    "success",
                    run=f"patch-{k}-{school['uai']}-{salle}", uai=school["uai"], salle=salle, postes=postes,
                    postes_ok=len(postes), request=history.Request("patch"), master=master,
                ))  # fmt: skip
        release = (release.replace(day=1) + dt.timedelta(days=32)).replace(day=5)
        k += 1
    # curative requests: about two per school and month, some needing a second visit
    for school in schools:
        day = t0
        while day < end:
            for _ in range(rng.choice([0, 1, 2, 3])):
                salle, postes = rng.choice(list(school["salles"].items()))
                opened = day + dt.timedelta(days=rng.randint(0, 27), hours=rng.randint(7, 16))
                who = rng.choice(PEOPLE)
                ticket = f"GLPI-{rng.randint(10000, 99999)}"
                cause = rng.choice(CURATIVE_CAUSES)
                begin = opened + dt.timedelta(hours=rng.randint(1, 48))
                visits = 2 if rng.random() < 0.15 else 1
                for visit in range(visits):
                    if begin >= end:
                        break
                    ok = visit == visits - 1
                    entries.append(history.Intervention(
                        "reimage", who, utc_stamp(begin), utc_stamp(begin + dt.timedelta(minutes=rng.randint(5, 30))),
                        "success" if ok else "incomplete", run=f"{ticket}-{visit}", uai=school["uai"], salle=salle,
                        postes=postes, postes_ok=len(postes) if ok else len(postes) // 2,
                        request=history.Request(cause, ticket, utc_stamp(opened)),
                    ))  # fmt: skip
                    begin += dt.timedelta(hours=rng.randint(4, 72))
            day += dt.timedelta(days=30)
    for chunk in range(0, len(entries), 5000):
        history.record(*entries[chunk : chunk + 5000], db=db)
    results = _conformity(db, schools, t0, end, rng, conformity_every_days)
    return {"interventions": len(entries), "conformity_results": results}


def _conformity(db: str | Path, schools: list[dict[str, Any]], t0: dt.datetime, end: dt.datetime,
                rng: random.Random, every: int) -> int:  # fmt: skip
    """Conformity runs every ``every`` days at 02:00: most postes conformant, some off (not seen)."""
    rows = 0
    night = t0 + dt.timedelta(hours=2)
    with history.transaction(db, conformity_history._META) as con:
        while night < end:
            run_id = con.execute(conformity_history.RUNS.insert().values(
                at=utc_stamp(night), target="all", hosts=0, conformant=0, percent=0.0, duration_s=0.0,
            )).inserted_primary_key[0]  # fmt: skip
            batch = []
            for school in schools:
                for salle, postes in school["salles"].items():
                    for host in postes:
                        draw = rng.random()
                        status = "not seen" if draw < 0.2 else "drift" if draw < 0.25 else "conformant"
                        batch.append({"run_id": run_id, "host": host, "uai": school["uai"], "salle": salle,
                                      "status": status, "drifts": int(status == "drift")})  # fmt: skip
            con.execute(conformity_history.HOST_RESULTS.insert(), batch)
            rows += len(batch)
            night += dt.timedelta(days=every)
    return rows


def schools_of(region_schools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The generator's view of inventory files: uai, wave and each salle's postes."""
    return [{"uai": s["uai"], "wave": str(s["wave"]),
             "salles": {str(r["id"]): [p["hostname"] for p in r["postes"]] for r in s.get("salles") or []}}
            for s in region_schools]  # fmt: skip
