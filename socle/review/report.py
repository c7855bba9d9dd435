"""The monthly review (`invoke report --month 2026-11 [--etab UAI]`): the KPIs of the month for the
contract meeting, with their trend over 12 months, in French, as HTML (Jinja2, autoescaped, SVG
charts) and CSV/JSON for a spreadsheet or a dashboard (docs/review.md)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter, defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Any

from socle.conformity import history as conformity_history
from socle.core import history, html
from socle.core.errors import SocleError
from socle.core.files import write_atomic
from socle.inventory.model import fast_load
from socle.review import kpis

MONTHS_FR = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
             "novembre", "décembre"]  # fmt: skip


def month_problem(month: str) -> str | None:
    found = re.fullmatch(r"(20[0-9]{2})-(0[1-9]|1[0-2])", month)
    return None if found else f"--month {month[:20]!r}: a month is YYYY-MM, e.g. 2026-11"


def months_back(month: str, n: int = 12) -> list[str]:
    """The ``n`` months ending with ``month``, oldest first."""
    year, mon = int(month[:4]), int(month[5:])
    out = []
    for _ in range(n):
        out.append(f"{year:04d}-{mon:02d}")
        year, mon = (year, mon - 1) if mon > 1 else (year - 1, 12)
    return out[::-1]


def _next(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:])
    return f"{year + mon // 12:04d}-{mon % 12 + 1:02d}"


def label(month: str) -> str:
    return f"{MONTHS_FR[int(month[5:]) - 1]} {month[:4]}"


def _scope_kpis(rows: list[dict[str, Any]], per_host: list[tuple[Any, ...]], publication: dict[str, str],
                month: str) -> kpis.Kpis:  # fmt: skip
    mine = [r for r in rows if r["started"].startswith(month)]
    return kpis.compute(mine, [h[1:] for h in per_host if h[0] == month], publication)


#: why a row the review leaves out was not counted: nobody the Région certified did it
UNPROVED = "not proved by a Région certificate"


def proved(rows: list[dict[str, Any]], ignored: Counter[str]) -> list[dict[str, Any]]:
    """The rows the contract review may count: work proved by an operator certificate of the Région's CA
    (socle.core.operator), and the unattended nightly check (which changes nothing). A development
    identity, or any other proof, is left out and counted in ``ignored``."""
    out = []
    for r in rows:
        if str(r["operator_proof"]).startswith("certificate ") or r["operator_role"] == "schedule":
            out.append(r)
        else:
            ignored[UNPROVED] += 1
    return out


def collect(month: str, *, etab: str = "", region: Path | None = None, db: str | None = None) -> dict[str, Any]:
    """Everything the review shows, computed once: the template and the CSV only lay it out."""
    problem = month_problem(month)
    if problem:
        raise SocleError(problem, hint="invoke report --month 2026-11")
    months = months_back(month)
    since, until = f"{months[0]}-01", f"{_next(month)}-01"
    schools = {s["uai"]: s for s in fast_load(region)} if region else {}
    if etab and schools and etab not in schools:
        raise SocleError(f"no établissement {etab} in {region}", hint="check the UAI (7 digits + letter)")
    ignored: Counter[str] = Counter()  # rows a lycée serveur (or anyone) wrote that socle never writes
    rows = proved(history.interventions(since, until, uai=etab, db=db, ignored=ignored), ignored)
    publication = kpis.published(proved(history.interventions("", until, operation="build", db=db, ignored=ignored),
                                        ignored))  # fmt: skip
    per_host = conformity_history.per_host(since, until, uai=etab, db=db)
    trend = {m: _scope_kpis(rows, per_host, publication, m) for m in months}
    current = trend[month]
    this_month = [r for r in rows if r["started"].startswith(month)]
    by_org: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_uai: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_salle: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in kpis.interventions(this_month):
        by_org[r["organisation"]].append(r)
        by_uai[r["uai"]].append(r)
        if r["salle"]:
            by_salle[r["salle"]].append(r)
    hosts_month = [h for h in per_host if h[0] == month]
    hosts_by_uai: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for h in hosts_month:
        hosts_by_uai[h[2]].append(h[1:])
    waves = {u: str(s.get("wave", "?")) for u, s in schools.items()}
    return {
        "month": month, "label": label(month), "etab": etab,
        "etab_name": schools.get(etab, {}).get("name", "") if etab else "",
        "months": months, "labels": [label(m) for m in months], "trend": trend, "current": current,
        "previous": trend[months[-2]],
        "contractors": {o: kpis.compute(rs, [], publication) for o, rs in sorted(by_org.items())},
        "schools": {u: (schools.get(u, {}).get("name", ""), kpis.compute(rs, hosts_by_uai.get(u, []), publication))
                    for u, rs in sorted(by_uai.items())} if not etab else {},
        "salles": {s: kpis.compute(rs, [], publication) for s, rs in sorted(by_salle.items())} if etab else {},
        "rollout": kpis.rollout_days(rows, {m: t for m, t in publication.items() if t >= since}, waves),
        "causes": history.CAUSES, "salle_alert": kpis.SALLE_ALERT, "ignored_rows": dict(ignored),
    }  # fmt: skip


def pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f} %".replace(".", ",")


def num(x: float | None, unit: str = "") -> str:
    return "—" if x is None else f"{x:.1f}{unit}".replace(".", ",")


def render_html(ctx: dict[str, Any]) -> str:
    env = html.environment()
    env.filters.update(pct=pct, num=num)
    trend = ctx["trend"]
    charts = {
        "mttr": html.line_chart([trend[m].mttr_h for m in ctx["months"]]),
        "ftf": html.line_chart(
            [None if trend[m].first_time_fix is None else 100 * trend[m].first_time_fix for m in ctx["months"]]
        ),
        "conformity": html.line_chart(
            [None if trend[m].conformity.rate is None else 100 * trend[m].conformity.rate for m in ctx["months"]]
        ),
        "interventions": html.line_chart([float(trend[m].interventions) for m in ctx["months"]]),
    }
    return env.get_template("review/revue.html.j2").render(**ctx, charts=charts)


def kpi_rows(ctx: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (month, scope, KPI): the CSV and the JSON."""
    out = []

    def add(month: str, scope: str, k: kpis.Kpis) -> None:
        for name, value in (
            ("interventions", k.interventions), ("mttr_h", k.mttr_h), ("mttr_requests", k.mttr_requests),
            ("without_request_time", k.without_request_time), ("first_time_fix", k.first_time_fix),
            ("salles_alert", len(k.salles_alert)), ("patch_latency_p50_h", k.patch_p50_h),
            ("patch_latency_p90_h", k.patch_p90_h), ("conformity_rate_seen", k.conformity.rate),
            ("postes_never_seen", len(k.conformity.never_seen)),
        ):  # fmt: skip
            out.append({"month": month, "scope": scope, "kpi": name,
                        "value": "" if value is None else round(value, 4)})  # fmt: skip

    scope = f"etab:{ctx['etab']}" if ctx["etab"] else "region"
    for m in ctx["months"]:
        add(m, scope, ctx["trend"][m])
    for org, k in ctx["contractors"].items():
        add(ctx["month"], f"organisation:{org}", k)
    for uai, (_, k) in ctx["schools"].items():
        add(ctx["month"], f"etab:{uai}", k)
    return out


def write(ctx: dict[str, Any], out: Path) -> list[Path]:
    """revue.html, kpis.csv, kpis.json in ``out`` (each written whole)."""
    out.mkdir(parents=True, exist_ok=True)
    rows = kpi_rows(ctx)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["month", "scope", "kpi", "value"])
    writer.writeheader()
    writer.writerows(rows)
    current = asdict(ctx["current"])
    current["conformity"]["never_seen"] = sorted(ctx["current"].conformity.never_seen)
    files = {
        "revue.html": render_html(ctx),
        "kpis.csv": buffer.getvalue(),
        "kpis.json": json.dumps({"month": ctx["month"], "etab": ctx["etab"], "current": current,
                                 "rollout_days": ctx["rollout"], "kpis": rows,
                                 "ignored_rows": ctx["ignored_rows"]}, indent=1, ensure_ascii=False),
    }  # fmt: skip
    for name, text in files.items():
        write_atomic(out / name, text)
    return [out / name for name in files]
