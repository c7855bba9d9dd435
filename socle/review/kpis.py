"""The KPIs the Région steers maintenance by, computed from the history (docs/review.md).

Each KPI is one function over the history's rows, so that a test can compute it by hand:

- **MTTR** (mean time to restore): per request (its ticket, else the run), from the time the request
  was opened to the end of the last intervention, when that one brought every poste back on the
  master. Curative operations only (install, reimage, reset); requests without a request time are
  counted apart (``without_request_time``), never guessed.
- **First-time fix rate**: requests whose first intervention succeeded and needed no other.
- **Reimages per salle**: reimage and reset runs of a salle in the month (a patch's reimages are
  not counted). Four or more (about weekly) marks the salle: a symptom to look into.
- **Conformity over seen postes**: conformant results ÷ results of postes that answered; the postes
  that never answered in the month are counted apart, not as drift.
- **Patch latency**: for each salle brought to a patch release, from the master's publication to
  the postes holding it; p50 and p90.
- **Rollout by wave**: for each master, from its publication to the last établissement of each wave
  brought to it.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from socle.core.clock import parse_utc

CURATIVE = ("install", "reimage", "reset")
#: rows that record a check or a build, not an intervention on machines
NOT_INTERVENTIONS = ("conformity", "build")
#: reimages of one salle in a month from which the salle is marked (about one a week)
SALLE_ALERT = 4


def _hours(a: str, b: str) -> float:
    return (parse_utc(b) - parse_utc(a)).total_seconds() / 3600


def percentile(values: list[float], p: float) -> float | None:
    """The p-th percentile (nearest rank): p50 of [1, 2, 3, 4] is 2."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def requests(rows: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Curative interventions grouped by request: the ticket, else the run itself."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r["operation"] in CURATIVE and r["cause"] != "patch":
            out[f"{r['uai']}:{r['ticket']}" if r["ticket"] else f"run:{r['id']}"].append(r)
    for group in out.values():
        group.sort(key=lambda r: (r["started"], r["id"]))
    return out


def mttr_hours(rows: Iterable[dict[str, Any]]) -> tuple[float | None, int, int]:
    """(MTTR in hours, requests measured, restored requests without a request time)."""
    durations, untimed = [], 0
    for group in requests(rows).values():
        last = group[-1]
        if last["outcome"] != "success":
            continue
        opened = min((r["requested_at"] for r in group if r["requested_at"]), default="")
        if not opened:
            untimed += 1
            continue
        durations.append(_hours(opened, last["finished"]))
    return (sum(durations) / len(durations) if durations else None), len(durations), untimed


def first_time_fix(rows: Iterable[dict[str, Any]]) -> float | None:
    groups = list(requests(rows).values())
    if not groups:
        return None
    return sum(len(g) == 1 and g[0]["outcome"] == "success" for g in groups) / len(groups)


def reimages_per_salle(rows: Iterable[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter(
        (r["uai"], r["salle"]) for r in rows if r["operation"] in ("reimage", "reset") and r["cause"] != "patch"
    )


def published(builds: Iterable[dict[str, Any]]) -> dict[str, str]:
    """When each master (profile/version) was published: the end of its build."""
    return {b["master"]: b["finished"] for b in builds if b["operation"] == "build" and b["outcome"] == "success"}


def patch_latencies(rows: Iterable[dict[str, Any]], publication: dict[str, str]) -> list[float]:
    """Hours from a patch release's publication to each salle holding it."""
    return [
        _hours(publication[r["master"]], r["finished"])
        for r in rows
        if r["operation"] in ("reimage", "install") and r["cause"] == "patch" and r["outcome"] == "success"
        and r["master"] in publication
    ]  # fmt: skip


def rollout_days(rows: Iterable[dict[str, Any]], publication: dict[str, str],
                 waves: dict[str, str]) -> dict[str, dict[str, float]]:  # fmt: skip
    """Per master, per wave: days from publication to the last établissement of the wave brought to it."""
    last: dict[str, dict[str, str]] = defaultdict(dict)
    for r in rows:
        if r["operation"] in CURATIVE and r["outcome"] == "success" and r["master"] in publication and r["uai"]:
            wave = waves.get(r["uai"], "?")
            last[r["master"]][wave] = max(last[r["master"]].get(wave, ""), r["finished"])
    return {
        master: {w: round(_hours(publication[master], t) / 24, 1) for w, t in sorted(by_wave.items())}
        for master, by_wave in sorted(last.items())
    }


@dataclass
class Conformity:
    results: int = 0
    seen: int = 0
    conformant: int = 0
    never_seen: set[str] = field(default_factory=set)

    @property
    def rate(self) -> float | None:
        return self.conformant / self.seen if self.seen else None


def conformity(per_host: Iterable[tuple[str, str, int, int, int]]) -> Conformity:
    """From (host, uai, results, answered, conformant) of the month: the rate over answered results,
    and the postes that never answered."""
    out = Conformity()
    for host, _uai, results, answered, conformant in per_host:
        out.results += results
        out.seen += answered
        out.conformant += conformant
        if not answered:
            out.never_seen.add(host)
    return out


@dataclass
class Kpis:
    """One month's KPIs for one scope (the Région, an établissement, a contractor)."""

    interventions: int
    by_cause: dict[str, int]
    mttr_h: float | None
    mttr_requests: int
    without_request_time: int
    first_time_fix: float | None
    salles_alert: list[tuple[str, str, int]]
    patch_p50_h: float | None
    patch_p90_h: float | None
    conformity: Conformity


def interventions(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows that are interventions on machines (not checks, not builds)."""
    return [r for r in rows if r["operation"] not in NOT_INTERVENTIONS]


def compute(rows: list[dict[str, Any]], per_host: list[tuple[str, str, int, int, int]],
            publication: dict[str, str]) -> Kpis:  # fmt: skip
    people = interventions(rows)
    mttr, measured, untimed = mttr_hours(rows)
    latencies = patch_latencies(rows, publication)
    return Kpis(
        interventions=len(people),
        by_cause=dict(Counter(r["cause"] for r in people).most_common()),
        mttr_h=mttr, mttr_requests=measured, without_request_time=untimed,
        first_time_fix=first_time_fix(rows),
        salles_alert=sorted(((u, s, n) for (u, s), n in reimages_per_salle(rows).items() if n >= SALLE_ALERT),
                            key=lambda x: -x[2]),
        patch_p50_h=percentile(latencies, 50), patch_p90_h=percentile(latencies, 90),
        conformity=conformity(per_host),
    )  # fmt: skip
