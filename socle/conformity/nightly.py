"""`invoke conformity`: collect one snapshot per host, evaluate it, record the run, write the
reports; in pull mode, build the Région report from the results every lycée serveur wrote."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

from socle.catalogue.model import load_catalogue
from socle.conformity import expected, forced, history
from socle.conformity.evaluate import evaluate
from socle.conformity.model import NOT_SEEN, SILENT_AFTER_H, HostResult, Target, summarize
from socle.conformity.report import write as write_report
from socle.core import playbook, wol
from socle.core.clock import in_paris, utc_stamp
from socle.core.errors import SocleError
from socle.core.paths import ROOT
from socle.core.playbook import load_raw
from socle.inventory.model import DEFAULT_REGION
from socle.registry import specs, store


def collect(region: Path, hosts: list[str], raw_dir: Path, *, forks: int = 50, label: str = "conformity") -> None:
    """Run playbooks/conformity.yml on ``hosts``; the run's events give one JSON per host in ``raw_dir``."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    limit = raw_dir.parent / f"{label}-hosts.txt"
    limit.write_text("\n".join(hosts) + "\n")
    playbook.operation(ROOT / "playbooks" / "conformity.yml", region, results=raw_dir,
                       log=raw_dir.parent / f"{label}.log", forks=forks, limit=f"@{limit}", label=label)  # fmt: skip


def _answered(raw_dir: Path, host: str) -> bool:
    return (load_raw(raw_dir / f"{host}.json") or {}).get("status") not in (None, "unreachable")


class Collector:
    """How a run reaches its hosts: the Région's controllers run playbooks/conformity.yml (Ansible,
    the ``region`` principal); a lycée serveur in pull mode (``pull_account``) runs its certificate's
    forced collector on its Linux machines (socle.conformity.forced) and the playbook on Windows postes."""

    def __init__(self, region: Path, windows: set[str], pull_account: str | None) -> None:
        self.region, self.windows, self.pull_account = region, windows, pull_account

    def collect(self, chosen: list[Target], raw_dir: Path, label: str = "conformity") -> None:
        if self.pull_account is None:
            collect(self.region, [t.host for t in chosen], raw_dir, label=label)
            return
        forced.collect([t for t in chosen if t.host not in self.windows], raw_dir, account=self.pull_account)
        if others := [t.host for t in chosen if t.host in self.windows]:
            collect(self.region, others, raw_dir, label=f"{label}-windows")

    def sleep(self, woken: list[Target], report: Path) -> None:
        """Switch off again the postes woken for the check (never one that was already on)."""
        if not woken:
            return
        if self.pull_account is not None:
            linux = [t for t in woken if t.host not in self.windows]
            outcomes = forced.power_off(linux, account=self.pull_account)
            (report / "sleep.json").write_text(json.dumps(outcomes, indent=1, sort_keys=True))
            woken = [t for t in woken if t.host in self.windows]
        if woken:
            playbook.operation(ROOT / "playbooks" / "sleep.yml", self.region, results=report / "sleep",
                               log=report / "sleep.log", forks=50, label="sleep",
                               extravars={"socle_sleep_hosts": ",".join(t.host for t in woken)})  # fmt: skip


def wake_and_collect(collector: Collector, chosen: list[Target], raw_dir: Path, *, wait_s: float) -> list[Target]:
    """Wake the postes that did not answer (Wake-on-LAN from this machine: a lycée serveur is on their
    network), give them ``wait_s`` seconds to boot, and check them again. Returns those it woke."""
    asleep = [t for t in chosen if t.kind == "poste" and t.mac and not _answered(raw_dir, t.host)]
    if not asleep:
        return []
    wol.wake([t.mac for t in asleep])
    time.sleep(wait_s)
    collector.collect(asleep, raw_dir, label="conformity-woken")
    return [t for t in asleep if _answered(raw_dir, t.host)]


def reference_manifest(year: str, profile: str, version: str = "") -> dict[str, Any] | None:
    """The manifest hosts of ``profile`` are judged against: the newest published in ``year``, or the
    version asked for (``--version``, with ``--salle``)."""
    if not version:
        return store.newest_manifest(profile, year)
    path = store.master_dir(year, profile, version) / "manifest.json"
    if not version.startswith(f"{year}.") or not path.exists():
        published = ", ".join(p.name for p in store.published(year, profile)) or "none"
        raise SocleError(f"no published master {version} of profile {profile} for {year}",
                         hint=f"published: {published}")  # fmt: skip
    manifest: dict[str, Any] = json.loads(path.read_text())
    return manifest


def check(
    *,
    region: Path | None = None,
    etab: str | None = None,
    salle: str | None = None,
    report: Path | None = None,
    db: str | Path | None = None,
    today: dt.date | None = None,
    wake_wait_s: float | None = None,
    year: str = "",
    version: str = "",
    pull_account: str | None = None,
) -> dict[str, Any]:
    """Check the hosts of the region, one établissement or one salle; returns the run's summary.
    With ``wake_wait_s`` (pull mode, on the lycée serveur), postes that do not answer are woken, checked
    again after that many seconds, and switched off again afterwards. With ``pull_account`` (pull
    mode), Linux machines are reached through the serveur certificate's forced collector."""
    region = region or DEFAULT_REGION
    today = today or in_paris().date()
    if version and not salle:
        raise SocleError("--version names the master of one salle's profile", hint="add --etab and --salle")
    year = year or (version.rsplit(".", 1)[0] if version else "")
    started = time.monotonic()
    when = utc_stamp()
    chosen = expected.targets(region, etab, salle)
    report = report or ROOT / "reports" / "conformity" / when.replace(":", "")
    raw_dir = report / "raw"
    # each host's reference (school year, profile), and whether that profile is Windows: decided once
    refs = {t.host: (expected.reference_year(t, today, year), t.profile) for t in chosen}
    windows = {ref: specs.is_windows(ref[1], ref[0]) for ref in set(refs.values())}
    collector = Collector(region, {host for host, ref in refs.items() if windows[ref]}, pull_account)
    collector.collect(chosen, raw_dir)
    woken = wake_and_collect(collector, chosen, raw_dir, wait_s=wake_wait_s) if wake_wait_s is not None else []
    cat = load_catalogue()
    manifests: dict[tuple[str, str], dict[str, Any] | None] = {}
    hardening = {False: expected.hardening_expectations(), True: expected.hardening_expectations(windows=True)}
    results = []
    expected_cache: dict[tuple[str, str, tuple[str, ...]], dict[str, str]] = {}
    for t in chosen:
        ref = refs[t.host]
        if ref not in manifests:
            manifests[ref] = reference_manifest(*ref, version)
        manifest = manifests[ref]
        key = (*ref, tuple(sorted(t.disciplines)))
        if key not in expected_cache:
            expected_cache[key] = expected.software(cat, ref[0], t, manifest, windows=windows[ref])
        path = raw_dir / f"{t.host}.json"
        raw = load_raw(path)
        results.append(
            evaluate(
                t,
                raw,
                manifest=manifest,
                expected_software=expected_cache[key],
                hardening=hardening[windows[ref]],
                today=today,
            )
        )
    collector.sleep(woken, report)
    summary = summarize(results, when=when, target=etab or "all", duration=time.monotonic() - started)
    summary["woken"] = len(woken)
    write_report(report, summary, results, history.record(db, summary, results))
    return summary


def region_report(*, region: Path | None = None, report: Path, db: str | Path | None = None,
                  now: dt.datetime | None = None) -> dict[str, Any]:  # fmt: skip
    """The Région report from the results database (pull mode): each établissement's newest results of
    the last SILENT_AFTER_H hours, judged against the inventory. A host of the inventory without a
    result is "not seen"; a row for a host the inventory does not list is ignored and counted;
    an établissement without results for SILENT_AFTER_H hours is flagged."""
    region = region or DEFAULT_REGION
    now = now or dt.datetime.now(dt.UTC)
    started = time.monotonic()
    chosen = expected.targets(region, None, None)
    uais = sorted({t.uai for t in chosen})
    found, silent, refused = history.newest_per_school(uais, since=now - dt.timedelta(hours=SILENT_AFTER_H), db=db)
    stored = {(r.uai, r.host): r for rows in found.values() for r in rows}
    results = []
    for t in chosen:
        why = "no result from its lycée serveur" if t.uai in silent else "not in its lycée serveur's newest run"
        results.append(stored.pop((t.uai, t.host), None)
                       or HostResult(t.host, t.uai, t.salle, t.profile, NOT_SEEN, reason=why))  # fmt: skip
    summary = summarize(results, when=utc_stamp(now), target="region", duration=time.monotonic() - started)
    summary["silent"] = [{"uai": u, "last": last} for u, last in silent.items()]
    summary["ignored_rows"] = {"not in the inventory": len(stored), "unreadable": refused}
    write_report(report, summary, results, {"trend": [], "last_conformant": {}})
    return summary
