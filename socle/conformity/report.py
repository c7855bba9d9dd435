"""Conformity reports: per-host JSON, JUnit for machines, a self-contained HTML page for people."""

from __future__ import annotations

import html
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from socle.conformity.model import NOT_SEEN, SILENT_AFTER_H, HostResult
from socle.core import junit as junit_xml

COLORS = {"conformant": "#2a9d8f", "drift": "#e9c46a", "failed": "#e76f51", "not seen": "#8d99ae"}
#: what a CMIL reads in the HTML page (the JSON and JUnit keep the English status names)
LABELS_FR = {"conformant": "conforme", "drift": "écart", "failed": "échec", "not seen": "non vu"}


def write(out: Path, summary: dict[str, Any], results: list[HostResult], history: dict[str, Any]) -> None:
    hosts = out / "hosts"
    hosts.mkdir(parents=True, exist_ok=True)
    for r in results:
        (hosts / f"{r.host}.json").write_text(json.dumps(asdict(r), indent=1, sort_keys=True, default=str) + "\n")
    (out / "summary.json").write_text(json.dumps({**summary, "history": history}, indent=1, sort_keys=True) + "\n")
    (out / "junit.xml").write_text(junit(results))
    (out / "report.html").write_text(page(summary, results, history))
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


def _bars(title: str, rows: dict[str, dict[str, Any]]) -> str:
    """Horizontal bar chart (SVG) of conformity % per key."""
    height = 26 * len(rows) + 30
    parts = [f'<svg class="chart" role="img" aria-label="{html.escape(title)}" width="760" height="{height}">']
    for i, (label, row) in enumerate(rows.items()):
        y = 20 + 26 * i
        pct = row["percent"]
        color = COLORS["conformant"] if pct >= 95 else COLORS["drift"] if pct >= 70 else COLORS["failed"]
        parts.append(f'<text x="0" y="{y + 14}" class="lbl">{html.escape(label)}</text>')
        parts.append(f'<rect x="230" y="{y}" width="{max(1, 4.8 * pct):.0f}" height="18" fill="{color}"/>')
        parts.append(f'<text x="{236 + 4.8 * pct:.0f}" y="{y + 14}" class="val">{pct:.1f} %</text>')
    parts.append("</svg>")
    return "".join(parts)


def _trend(trend: list[dict[str, Any]]) -> str:
    if len(trend) < 2:
        return "<p>La courbe apparaît à partir de deux passages.</p>"
    w, h = 760, 160
    step = (w - 60) / (len(trend) - 1)
    points = " ".join(f"{40 + i * step:.0f},{h - 20 - (h - 40) * t['percent'] / 100:.0f}" for i, t in enumerate(trend))
    return (
        f'<svg class="chart" role="img" aria-label="trend" width="{w}" height="{h}">'
        f'<line x1="40" y1="{h - 20}" x2="{w - 20}" y2="{h - 20}" stroke="#999"/>'
        f'<text x="0" y="24" class="val">100 %</text><text x="0" y="{h - 20}" class="val">0 %</text>'
        f'<polyline fill="none" stroke="{COLORS["conformant"]}" stroke-width="3" points="{points}"/></svg>'
    )


def _latency(kpi: dict[str, Any]) -> str:
    """Patch latency KPI: hours from a security update's availability to its installation."""
    if not kpi["hosts"]:
        return "<p>Aucun correctif de sécurité installé par socle sur ces postes ces 90 derniers jours.</p>"
    rows = {"médiane": kpi["median"], "90e centile": kpi["p90"], "maximum": kpi["max"]}
    top = max(rows.values()) or 1
    bars = "".join(
        f'<text class="lbl" x="0" y="{22 * i + 15}">{k}</text>'
        f'<rect x="110" y="{22 * i + 3}" width="{max(2, 360 * v / top):.0f}" height="16" fill="#4a7ab7"/>'
        f'<text class="val" x="{118 + 360 * v / top:.0f}" y="{22 * i + 15}">{v} h</text>'
        for i, (k, v) in enumerate(rows.items())
    )
    return (
        f"<p>Délai entre la publication d'un correctif de sécurité et son installation, sur {kpi['hosts']} "
        f'machine(s) (90 derniers jours).</p><svg width="560" height="{22 * len(rows) + 6}" role="img" '
        f'aria-label="latence des correctifs">{bars}</svg>'
    )


def _silent(silent: list[dict[str, Any]]) -> str:
    """The établissements whose lycée serveur has sent nothing for too long (pull mode)."""
    if not silent:
        return ""
    rows = "".join(f"<tr><td>{html.escape(str(s['uai']))}</td><td>{html.escape(str(s['last'] or 'jamais'))}</td></tr>"
                   for s in silent)  # fmt: skip
    return (f"<h2>Établissements sans résultat depuis plus de {SILENT_AFTER_H} h</h2>"
            f"<table><tr><th>UAI</th><th>dernier résultat</th></tr>{rows}</table>")  # fmt: skip


def page(summary: dict[str, Any], results: list[HostResult], history: dict[str, Any]) -> str:
    st = summary["statuses"]
    cards = "".join(
        f'<div class="card" style="border-color:{COLORS[k]}"><b>{st.get(k, 0)}</b><br>{LABELS_FR[k]}</div>'
        for k in COLORS
    )
    drifts = "".join(f"<tr><td>{html.escape(k)}</td><td>{n}</td></tr>" for k, n in summary["top_drifts"])
    rows = []
    for r in sorted(results, key=lambda r: (r.status == "conformant", r.uai, r.salle, r.host)):
        detail = html.escape(r.reason) or "<br>".join(html.escape(f"[{d.category}] {d.message}") for d in r.drifts[:8])
        more = f" (+{len(r.drifts) - 8})" if len(r.drifts) > 8 else ""
        last = history["last_conformant"].get(r.host) or "jamais"
        rows.append(
            f"<tr><td>{html.escape(r.host)}</td><td>{html.escape(r.uai)}</td><td>{html.escape(r.salle)}</td>"
            f'<td style="color:{COLORS.get(r.status, "#000")}"><b>{LABELS_FR.get(r.status, r.status)}</b></td>'
            f"<td>{last}</td><td>{html.escape(r.last_patch or '—')}</td>"
            f"<td>{'—' if r.patch_latency_h is None else r.patch_latency_h}</td>"
            f"<td>{detail}{more}</td></tr>"
        )
    return f"""<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>Conformité — {summary["when"]}</title>
<style>
body {{ font-family: DejaVu Sans, sans-serif; margin: 24px; color: #222; }}
h1 {{ font-size: 22px; }} h2 {{ font-size: 17px; margin-top: 28px; }}
.cards {{ display: flex; gap: 12px; }} .card {{ border-left: 6px solid; padding: 8px 14px; background: #f6f6f6; }}
.card b {{ font-size: 22px; }} table {{ border-collapse: collapse; font-size: 13px; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }}
.lbl {{ font-size: 12px; }} .val {{ font-size: 11px; fill: #444; }}
</style></head><body>
<h1>Conformité des postes — {summary["target"]} — {summary["when"]}</h1>
<p><b>{summary["conformity_percent"]} %</b> des {summary.get("seen", summary["hosts"])} postes vus cette nuit
sont conformes ({summary["hosts"]} attendus ; un poste éteint est « non vu » et ne compte ni comme conforme
ni comme écart ; durée {summary["duration_s"]} s).</p>{_silent(summary.get("silent") or [])}
<div class="cards">{cards}</div>
<h2>Par établissement</h2>{_bars("par établissement", summary["per_etablissement"])}
<h2>Par salle</h2>{_bars("par salle", summary["per_salle"])}
<h2>Latence des correctifs de sécurité</h2>{_latency(summary["patch_latency_h"])}
<h2>Tendance</h2>{_trend(history["trend"])}
<h2>Écarts les plus fréquents</h2><table><tr><th>écart</th><th>postes</th></tr>{drifts}</table>
<h2>Postes</h2><table><tr><th>poste</th><th>UAI</th><th>salle</th><th>état</th>
<th>dernier état conforme</th><th>dernier correctif</th><th>latence correctifs (h)</th><th>détail</th></tr>
{"".join(rows)}</table>
</body></html>
"""


def terminal(summary: dict[str, Any], results: list[HostResult], out: Path) -> None:
    console = Console(stderr=True)
    table = Table(title=escape(f"conformity {summary['target']} — {summary['conformity_percent']} % conformant"))
    for col in ("salle", "postes", *COLORS):
        table.add_column(col, justify="right" if col != "salle" else "left")
    for key, row in summary["per_salle"].items():
        table.add_row(escape(key), str(sum(row.get(s, 0) for s in COLORS)), *(str(row.get(s, 0)) for s in COLORS))
    console.print(table)
    for school in summary.get("silent") or []:
        console.print(f"  no result from {school['uai']} since {school['last'] or 'ever'}", markup=False)
    for name, count in summary["top_drifts"][:5]:
        console.print(f"  {count:4d} × {name}", markup=False)
    console.print(
        f"reports: {out}/report.html, junit.xml, summary.json, hosts/", markup=False, soft_wrap=True
    )  # a path is copied whole
