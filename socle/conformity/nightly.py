"""`invoke conformity`: collect one snapshot per host, evaluate it, record the run, write the
reports; in pull mode, merge the reports the lycée serveurs upload into one Région report."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from socle.catalogue.model import load_catalogue
from socle.conformity import expected, history
from socle.conformity.evaluate import evaluate
from socle.conformity.model import Drift, HostResult, summarize
from socle.conformity.report import write as write_report
from socle.core import playbook
from socle.core.clock import utc_stamp
from socle.core.errors import SocleError
from socle.core.paths import ROOT
from socle.core.playbook import load_raw
from socle.inventory.model import DEFAULT_REGION
from socle.registry import specs, store


def collect(region: Path, hosts: list[str], raw_dir: Path, *, forks: int = 50) -> None:
    """Run playbooks/conformity.yml on ``hosts``; the callback writes one JSON per host."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    limit = raw_dir.parent / "limit.txt"
    limit.write_text("\n".join(hosts) + "\n")
    log = raw_dir.parent / "ansible.log"
    with Console(stderr=True).status(f"collecting {len(hosts)} host(s) (log: {log})"):
        playbook.operation(ROOT / "playbooks" / "conformity.yml", region, results=raw_dir, log=log, forks=forks,
                           args=["--limit", f"@{limit}"], quiet=bool(os.environ.get("CI")))  # fmt: skip


def check(
    *,
    region: Path | None = None,
    etab: str | None = None,
    salle: str | None = None,
    report: Path | None = None,
    db: Path | None = None,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """Check the hosts of the region, one établissement or one salle; returns the run's summary."""
    region = region or DEFAULT_REGION
    today = today or dt.date.today()
    started = time.monotonic()
    when = utc_stamp()
    chosen = expected.targets(region, etab, salle)
    report = report or ROOT / "reports" / "conformity" / when.replace(":", "")
    raw_dir = report / "raw"
    collect(region, [t.host for t in chosen], raw_dir)
    year = specs.resolve_year(None, today)
    cat = load_catalogue()
    manifests: dict[str, dict[str, Any] | None] = {}
    hardening = {False: expected.hardening_expectations(), True: expected.hardening_expectations(windows=True)}
    windows: dict[str, bool] = {}
    results = []
    expected_cache: dict[tuple[str, tuple[str, ...]], dict[str, str]] = {}
    for t in chosen:
        if t.profile not in manifests:
            manifests[t.profile] = store.newest_manifest(t.profile, year)
            windows[t.profile] = specs.is_windows(t.profile, year)
        manifest = manifests[t.profile]
        key = (t.profile, tuple(sorted(t.disciplines)))
        if key not in expected_cache:
            expected_cache[key] = expected.software(cat, year, t, manifest, windows=windows[t.profile])
        path = raw_dir / f"{t.host}.json"
        raw = load_raw(path)
        results.append(
            evaluate(
                t,
                raw,
                manifest=manifest,
                expected_software=expected_cache[key],
                hardening=hardening[windows[t.profile]],
                today=today,
            )
        )
    summary = summarize(results, when=when, target=etab or "all", duration=time.monotonic() - started)
    write_report(report, summary, results, history.record(db, summary, results))
    return summary


def load_results(report_dir: Path) -> list[HostResult]:
    out = []
    for path in sorted((report_dir / "hosts").glob("*.json")):
        data = json.loads(path.read_text())
        drifts = [Drift(**d) for d in data.pop("drifts", [])]
        out.append(HostResult(**data, drifts=drifts))
    return out


def aggregate(uploads: Path, *, report: Path, db: Path | None = None) -> dict[str, Any]:
    """Merge the per-établissement reports under ``uploads`` (one folder each) into one Région report."""
    folders = sorted(p for p in uploads.iterdir() if (p / "hosts").is_dir()) if uploads.is_dir() else []
    if not folders:
        raise SocleError(
            f"no uploaded report under {uploads}",
            hint="each lycée serveur uploads its report folder (hosts/*.json, summary.json) there",
        )
    started = time.monotonic()
    results = [r for folder in folders for r in load_results(folder)]
    summary = summarize(results, when=utc_stamp(), target="region", duration=time.monotonic() - started)
    summary["sources"] = [p.name for p in folders]
    write_report(report, summary, results, history.record(db, summary, results))
    return summary
