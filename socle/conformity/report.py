"""Conformity reports: per-host JSON, JUnit for machines; for people, HTML pages from Jinja2 templates
(``socle/templates/conformity/``): the Région (or the target) and one page per établissement."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from socle.conformity.model import NOT_SEEN, SILENT_AFTER_H, STATUSES, HostResult
from socle.core import html
from socle.core import junit as junit_xml
from socle.core.i18n import translate

COLORS = {"conformant": "#2a9d8f", "drift": "#e9c46a", "failed": "#e76f51", "not seen": "#8d99ae"}
#: what a CMIL reads in the HTML page (the JSON and JUnit keep the English status names)
LABELS_FR = {"conformant": "conforme", "drift": "écart", "failed": "échec", "not seen": "non vu"}
#: salles listed on the Région page, least conformant first
WORST_SALLES = 25
#: établissements the terminal lists when a run covers several, least conformant first
TERMINAL_SCHOOLS = 20
#: a UAI that may name a file (7 digits and a letter)
UAI_FILE = re.compile(r"[0-9]{7}[A-Z]")


def write(out: Path, summary: dict[str, Any], results: list[HostResult], history: dict[str, Any]) -> None:
    hosts = out / "hosts"
    hosts.mkdir(parents=True, exist_ok=True)
    for r in results:
        (hosts / f"{r.host}.json").write_text(json.dumps(asdict(r), indent=1, sort_keys=True, default=str) + "\n")
    (out / "summary.json").write_text(json.dumps({**summary, "history": history}, indent=1, sort_keys=True) + "\n")
    (out / "junit.xml").write_text(junit(results))
    for name, text in pages(summary, results, history).items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text)
    terminal(summary, results, out)


def junit(results: list[HostResult]) -> str:
    """One test case per host: failed unless conformant, with its drifts or the reason."""
    cases = []
    for r in sorted(results, key=lambda r: r.host):
        text = r.reason or "\n".join(
            f"[{d.category}] {d.message} (expected {d.expected}, got {d.actual})" for d in r.drifts
        )
        failure = None if r.status in ("conformant", NOT_SEEN) else r.status
        skipped = r.reason or NOT_SEEN if r.status == NOT_SEEN else None
        cases.append(junit_xml.Case(f"{r.uai}.{r.salle}", r.host, failure=failure, text=text, skipped=skipped))
    return junit_xml.suite("conformity", cases)


def fr(value: float) -> str:
    """A number as a French reader writes it (decimal comma)."""
    return f"{value:g}".replace(".", ",") if isinstance(value, float) else str(value)


def tone(percent: float) -> str:
    """A bar's colour: green from 95 %, amber from 70 %, red below."""
    return COLORS["conformant"] if percent >= 95 else COLORS["drift"] if percent >= 70 else COLORS["failed"]


def _row(key: str, counts: dict[str, Any]) -> dict[str, Any]:
    """A table row of counts (per établissement or per salle)."""
    hosts = sum(counts.get(s, 0) for s in STATUSES)
    row = {s.replace(" ", "_"): counts.get(s, 0) for s in STATUSES}
    return {**row, "key": key, "hosts": hosts, "seen": hosts - row["not_seen"], "percent": counts["percent"]}


def school_page(uai: str) -> str | None:
    """Where an établissement's page is written, relative to the report (None for a UAI that cannot
    name a file: results are hostile input)."""
    return f"etablissements/{uai}.html" if UAI_FILE.fullmatch(uai) else None


def pages(summary: dict[str, Any], results: list[HostResult], history: dict[str, Any]) -> dict[str, str]:
    """The report's pages, by path relative to it: ``report.html`` (a table per établissement, the
    least conformant salles, the trend) and one page per établissement (per salle, per poste), so
    that 200,000 postes stay readable."""
    env = html.environment()
    env.filters.update(fr=fr, tone=tone)
    salles = [
        {**_row(key, counts), "uai": key.split("/", 1)[0], "salle": key.split("/", 1)[1]}
        for key, counts in summary["per_salle"].items()
    ]
    for salle in salles:
        page = school_page(salle["uai"])
        salle["page"] = page and f"{page}#salle-{salle['salle']}"
    per_school = summary["per_etablissement"].items()
    schools = sorted(
        ({**_row(uai, counts), "uai": uai, "page": school_page(uai)} for uai, counts in per_school),
        key=lambda s: (s["seen"] == 0, s["percent"], s["uai"]),
    )
    worst = sorted((s for s in salles if s["seen"] and s["percent"] < 100), key=lambda s: (s["percent"], -s["seen"]))
    trend = history["trend"]
    statuses = summary["statuses"]
    common = {"summary": summary, "colors": COLORS, "labels": LABELS_FR}
    out = {
        "report.html": env.get_template("conformity/region.html.j2").render(
            **common,
            scope="Région" if summary["target"] in ("all", "region") else summary["target"],
            schools=schools,
            worst_salles=worst[:WORST_SALLES],
            silent=summary.get("silent") or [],
            silent_after_h=SILENT_AFTER_H,
            statuses=[{"label": LABELS_FR[k], "color": c, "count": statuses.get(k, 0)} for k, c in COLORS.items()],
            trend=html.line_chart([t["percent"] for t in trend], top=100) if len(trend) > 1 else None,
            latency=summary["patch_latency_h"],
        )
    }
    by_salle: dict[tuple[str, str], list[HostResult]] = defaultdict(list)
    for r in sorted(results, key=lambda r: (r.status == "conformant", r.host)):
        by_salle[(r.uai, r.salle)].append(r)
    page = env.get_template("conformity/etablissement.html.j2")
    salles_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for salle in salles:
        salles_of[salle["uai"]].append(salle)
    for school in schools:
        if not school["page"]:
            continue
        rows = salles_of[school["uai"]]
        for salle in rows:
            salle["postes"] = by_salle[(school["uai"], salle["salle"])]
        out[school["page"]] = page.render(
            **common, school=school, salles=sorted(rows, key=lambda s: (s["percent"], s["salle"])), up="../report.html",
            last_conformant=history["last_conformant"],
        )  # fmt: skip
    return out


def terminal(summary: dict[str, Any], results: list[HostResult], out: Path) -> None:
    """The operator's summary: per salle for one établissement; for more, the least conformant
    établissements (the pages have the rest). In the reader's language (a CMIL reads it)."""
    console = Console(stderr=True)
    title = translate(f"conformity {summary['target']} — {summary['conformity_percent']} % conformant")
    table = Table(title=escape(title))
    one = len(summary["per_etablissement"]) <= 1
    rows = summary["per_salle"] if one else summary["per_etablissement"]
    keys = list(rows) if one else sorted(rows, key=lambda k: rows[k]["percent"])[:TERMINAL_SCHOOLS]
    for col in ("salle" if one else "établissement", "postes", *COLORS):
        table.add_column(translate(col), justify="left" if col in ("salle", "établissement") else "right")
    for key in keys:
        row = rows[key]
        table.add_row(escape(key), str(sum(row.get(s, 0) for s in COLORS)), *(str(row.get(s, 0)) for s in COLORS))
    console.print(table)
    lines = [f"… and {len(rows) - len(keys)} more établissement(s) in the report"] if len(keys) < len(rows) else []
    silent = summary.get("silent") or []
    lines += [f"no result from {school['uai']} since {school['last'] or 'ever'}" for school in silent]
    lines += [f"{count:4d} × {name}" for name, count in summary["top_drifts"][:5]]
    for line in lines:
        console.print(f"  {translate(line)}", markup=False)
    reports = f"{out}/report.html (and etablissements/), junit.xml, summary.json, hosts/"
    console.print(translate(f"reports: {reports}"), markup=False, soft_wrap=True)  # a path is copied whole
