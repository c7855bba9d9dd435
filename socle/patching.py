"""Preventive patching plan: which établissements, which hosts, which window, which gate (issue #8)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from socle import ROOT, inventory, maintenance, masters
from socle.errors import SocleError
from socle.yamlio import load


@dataclass
class SchoolPlan:
    uai: str
    name: str
    wave: str
    zone: str
    serveurs: int
    postes_linux: int
    postes_windows: int
    decision: maintenance.Decision
    next_window: dt.datetime | None


def rollout(year: str) -> dict[str, Any]:
    path = masters.MASTERS_DIR / year / "rollout.yml"
    if not path.exists():
        raise SocleError(f"no rollout plan for {year}", where=str(path), hint="copy the previous year's rollout.yml")
    return load(path).data


def last_conformity(report_root: Path | None = None) -> dict[str, float]:
    """Conformity % per établissement from the newest conformity report, if any."""
    root = report_root or ROOT / "reports" / "conformity"
    summaries = sorted(root.glob("*/summary.json"), key=lambda p: p.stat().st_mtime) if root.is_dir() else []
    if not summaries:
        return {}
    data = json.loads(summaries[-1].read_text())
    return {uai: row["percent"] for uai, row in data.get("per_etablissement", {}).items()}


def plan(
    *, wave: str | None = None, etab: str | None = None, moment: dt.datetime | None = None, now: bool = False,
    region: Path | None = None,
) -> tuple[list[SchoolPlan], list[str], dict[str, Any]]:  # fmt: skip
    """The schools in scope with their hosts and window now, the gate messages, the rollout settings."""
    moment = moment or dt.datetime.now()
    year = masters.school_year_of(moment.date())
    plan_cfg = rollout(masters.resolve_year(year))
    order = [str(w) for w in plan_cfg["order"]]
    if wave is not None and wave not in order:
        raise SocleError(f"unknown wave '{wave}'", hint=f"use one of: {', '.join(order)}")
    calendar = maintenance.load_calendar(year)
    schools = inventory.fast_load(region or inventory.DEFAULT_REGION)
    gates = []
    if not calendar:
        gates.append(f"no holiday calendar for {year}: only class hours are protected (invoke calendar.import)")
    if wave is not None and order.index(wave) > 0:
        previous = order[order.index(wave) - 1]
        rates = last_conformity()
        prev_schools = [s["uai"] for s in schools if str(s["wave"]) == previous]
        known = [rates[u] for u in prev_schools if u in rates]
        threshold = plan_cfg["promote_when_conformity_at_least"]
        if not known:
            gates.append(f"gate: wave {previous} has no conformity result yet; wave {wave} waits (≥ {threshold} %)")
        else:
            rate = sum(known) / len(known)
            verdict = "open" if rate >= threshold else "closed"
            gates.append(f"gate {verdict}: wave {previous} is {rate:.1f} % conformant (needs ≥ {threshold} %)")
    out = []
    for s in schools:
        if (etab and s["uai"] != etab) or (wave is not None and str(s["wave"]) != wave):
            continue
        hours = (s.get("options") or {}).get("class_hours")
        decision = maintenance.decide(moment, zone=s["zone"], class_hours=hours, calendar=calendar, now=now)
        nxt = None if decision.allowed else maintenance.next_window(moment, zone=s["zone"], class_hours=hours,
                                                                  calendar=calendar)  # fmt: skip
        salles = s.get("salles") or []
        out.append(
            SchoolPlan(
                s["uai"], s["name"], str(s["wave"]), s["zone"], len(s.get("serveurs") or []),
                sum(len(r["postes"]) for r in salles if r["profile"] != "poste-windows"),
                sum(len(r["postes"]) for r in salles if r["profile"] == "poste-windows"),
                decision, nxt,
            )
        )  # fmt: skip
    if not out:
        raise SocleError("no établissement in this scope", hint="check --wave / --etab against the inventory")
    return out, gates, plan_cfg


def show(schools: list[SchoolPlan], gates: list[str], cfg: dict[str, Any]) -> None:
    console = Console(stderr=True)
    table = Table(title=f"patch plan (serial {cfg['serial']}, stop above {cfg['max_fail_percentage']} % failures)")
    for col in ("UAI", "établissement", "wave", "zone", "serveurs", "postes linux", "postes windows", "window"):
        table.add_column(col)
    for p in schools:
        window = (
            p.decision.reason if p.decision.allowed else f"{p.decision.reason} → next {p.next_window:%a %d/%m %H:%M}"
        )
        table.add_row(
            p.uai, p.name, p.wave, p.zone, str(p.serveurs), str(p.postes_linux), str(p.postes_windows), window
        )
    console.print(table)
    for gate in gates:
        console.print(gate, markup=False)
    console.print(
        "updates: serveurs take the security updates of their apt cache; Linux postes take the next patch "
        "release of their master (build-master --patch) through reimage; Windows postes: "
        + ", ".join(cfg["windows_update_categories"]),
        markup=False,
    )
