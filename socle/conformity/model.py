"""What the nightly conformity check works on: the hosts to check, what each one showed (drifts),
and the summary a run reports."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

#: a host's status after a night: "not seen" (switched off, no answer) is neither conformant nor
#: drift; it stays out of the conformity rate and of the wave gate, and is counted on its own
STATUSES = ("conformant", "drift", "failed", "not seen")
NOT_SEEN = "not seen"
#: an établissement whose newest results are older than this is flagged (its lycée serveur is silent)
SILENT_AFTER_H = 36


@dataclass
class Drift:
    category: str  # master | catalogue | unknown-software | hardening | health
    check: str
    message: str
    expected: Any = None
    actual: Any = None


@dataclass
class HostResult:
    host: str
    uai: str
    salle: str
    profile: str
    status: str  # conformant | drift | failed | not seen (see STATUSES)
    drifts: list[Drift] = field(default_factory=list)
    reason: str = ""
    #: last successful patch (socle stamp, else apt history), for the patch-latency KPI
    last_patch: str | None = None
    #: patch latency KPI: median hours from availability to installation of the security updates
    #: installed in the last LATENCY_WINDOW_DAYS days (None: no such update recorded)
    patch_latency_h: float | None = None


@dataclass
class Target:
    host: str
    uai: str
    school: str
    salle: str
    profile: str
    disciplines: list[str]
    kind: str = "poste"  # poste | serveur
    mac: str = ""  # for Wake-on-LAN (pull mode wakes the postes switched off at night)
    wave: str = ""  # the établissement's rollout wave: which school year's masters it runs
    address: str = ""  # the inventory's ip, else the host name (DHCP): what pull mode connects to


def summarize(results: list[HostResult], *, when: str, target: str, duration: float) -> dict[str, Any]:
    statuses = Counter(r.status for r in results)
    per_etab: dict[str, Counter[str]] = defaultdict(Counter)
    per_room: dict[str, Counter[str]] = defaultdict(Counter)
    drift_counts: Counter[str] = Counter()
    for r in results:
        per_etab[r.uai][r.status] += 1
        per_room[f"{r.uai}/{r.salle}"][r.status] += 1
        for d in r.drifts:
            drift_counts[f"{d.category}: {d.check}"] += 1

    def rate(c: Counter[str]) -> float:
        seen = sum(c.values()) - c[NOT_SEEN]
        return round(100 * c["conformant"] / seen, 1) if seen else 0.0

    return {
        "when": when,
        "target": target,
        "hosts": len(results),
        "statuses": dict(statuses),
        "seen": len(results) - statuses[NOT_SEEN],
        #: conformant ÷ seen hosts ("not seen" counts neither way)
        "conformity_percent": rate(statuses),
        "per_etablissement": {k: {"percent": rate(v), **v} for k, v in sorted(per_etab.items())},
        "per_salle": {k: {"percent": rate(v), **v} for k, v in sorted(per_room.items())},
        "top_drifts": drift_counts.most_common(15),
        "patch_latency_h": _latency_summary([r.patch_latency_h for r in results if r.patch_latency_h is not None]),
        "duration_s": round(duration, 1),
    }


def _latency_summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"hosts": 0, "median": None, "p90": None, "max": None}
    values = sorted(values)
    p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
    return {"hosts": len(values), "median": round(statistics.median(values), 1), "p90": p90, "max": values[-1]}
