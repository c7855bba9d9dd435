"""Preventive patching plan: which établissements, which hosts, which window, which gate (issue #8)."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from socle.core import history, junit, operator, playbook
from socle.core.clock import in_paris, run_id, school_year_of, utc_stamp
from socle.core.errors import SocleError
from socle.core.files import write_atomic
from socle.core.paths import ROOT
from socle.inventory.model import DEFAULT_REGION, fast_load
from socle.operations import maintenance, reimage
from socle.registry import specs, store
from socle.registry.rollout import assigned_year, load_rollout


@dataclass
class SchoolPlan:
    uai: str
    name: str
    wave: str
    zone: str
    decision: maintenance.Decision
    next_window: dt.datetime | None
    serveur_hosts: list[str]
    windows_hosts: list[str]
    #: image-based Linux salles: room id -> postes (they take the master's patch release by reimage)
    linux_salles: dict[str, list[str]]
    #: room id -> master profile of the salle
    salle_profiles: dict[str, str]
    #: the school year whose masters the school runs (its wave's rollout, or --year)
    year: str = ""

    @property
    def postes_linux(self) -> int:
        return sum(len(hosts) for hosts in self.linux_salles.values())


def newest_conformity_report(report_root: Path | None = None) -> Path | None:
    """Folder of the newest nightly conformity report (summary.json, raw/<host>.json), if any."""
    root = report_root or ROOT / "reports" / "conformity"
    summaries = sorted(root.glob("*/summary.json"), key=lambda p: p.stat().st_mtime) if root.is_dir() else []
    return summaries[-1].parent if summaries else None


#: what the gate reads: per établissement, its conformity % (over seen hosts) from fresh results, and
#: those without fresh results with the time of their last one (None: never)
Measure = Callable[[list[str]], tuple[dict[str, float], dict[str, str | None]]]


def gate(previous: str, wave: str, rates: dict[str, float], missing: dict[str, str | None],
         threshold: float) -> tuple[bool, str]:  # fmt: skip
    """Whether ``wave`` must wait, and why: every school of the previous wave needs fresh results, and
    their mean conformity must reach the threshold."""
    if missing:
        who = ", ".join(f"{u} ({'never' if last is None else 'last ' + last})" for u, last in sorted(missing.items()))
        return True, (f"gate closed: wave {previous} has no fresh conformity results from {len(missing)} "
                      f"établissement(s): {who}; wave {wave} waits (≥ {threshold} %)")  # fmt: skip
    if not rates:
        return True, f"gate closed: wave {previous} has no établissement; wave {wave} waits"
    rate = sum(rates.values()) / len(rates)
    verdict = "closed" if rate < threshold else "open"
    return rate < threshold, f"gate {verdict}: wave {previous} is {rate:.1f} % conformant (needs ≥ {threshold} %)"


@dataclass
class Plan:
    schools: list[SchoolPlan]
    gates: list[str]
    settings: dict[str, Any]
    #: the previous wave is not conformant enough (or not measured): this wave must wait
    blocked: bool
    moment: dt.datetime


def plan(
    *, wave: str | None = None, etab: str | None = None, moment: dt.datetime | None = None, now: bool = False,
    region: Path | None = None, measure: Measure | None = None, year: str = "",
) -> Plan:  # fmt: skip
    """The schools in scope with their hosts and window now, the gate messages, the rollout settings.
    ``measure`` reads the previous wave's results (the results database); without it nothing is measured.
    Each school takes the masters of the year its wave is assigned (``rollout.assigned_year``), or of
    ``year`` when given; the waves and gates are those of ``year``, else of the current school year."""
    moment = in_paris(moment)
    calendar_year = school_year_of(moment.date())
    plan_cfg = load_rollout(specs.resolve_year(year or calendar_year)).settings
    order = [str(w) for w in plan_cfg["order"]]
    if wave is not None and wave not in order:
        raise SocleError(f"unknown wave '{wave}'", hint=f"use one of: {', '.join(order)}")
    calendar = maintenance.load_calendar(calendar_year)
    schools = fast_load(region or DEFAULT_REGION)
    gates = []
    blocked = False
    if not calendar:
        gates.append(f"no holiday calendar for {calendar_year}: only class hours are protected "
                     "(invoke calendar.import)")  # fmt: skip
    if wave is not None and order.index(wave) > 0:
        previous = order[order.index(wave) - 1]
        prev_schools = sorted(s["uai"] for s in schools if str(s["wave"]) == previous)
        rates, missing = measure(prev_schools) if measure else ({}, dict.fromkeys(prev_schools))
        blocked, message = gate(previous, wave, rates, missing, plan_cfg["promote_when_conformity_at_least"])
        gates.append(message)
    out = []
    for s in schools:
        if (etab and s["uai"] != etab) or (wave is not None and str(s["wave"]) != wave):
            continue
        hours = (s.get("options") or {}).get("class_hours")
        decision = maintenance.decide(moment, zone=s["zone"], class_hours=hours, calendar=calendar, now=now)
        nxt = None if decision.allowed else maintenance.next_window(moment, zone=s["zone"], class_hours=hours,
                                                                  calendar=calendar)  # fmt: skip
        salles = s.get("salles") or []
        windows = [p["hostname"] for r in salles if specs.is_windows(r["profile"]) for p in r["postes"]]
        out.append(
            SchoolPlan(
                s["uai"], s["name"], str(s["wave"]), s["zone"], decision, nxt,
                [v["hostname"] for v in s.get("serveurs") or []], windows,
                {str(r["id"]): [p["hostname"] for p in r["postes"]] for r in salles
                 if not specs.is_windows(r["profile"]) and r["postes"]},
                {str(r["id"]): r["profile"] for r in salles},
                year or assigned_year(str(s["wave"]), moment.date()),
            )
        )  # fmt: skip
    if not out:
        raise SocleError("no établissement in this scope", hint="check --wave / --etab against the inventory")
    return Plan(out, gates, plan_cfg, blocked, moment)


def show(p: Plan) -> None:
    schools, gates, cfg = p.schools, p.gates, p.settings
    console = Console(stderr=True)
    table = Table(title=f"patch plan (serial {cfg['serial']}, stop above {cfg['max_fail_percentage']} % failures)")
    for col in ("UAI", "établissement", "wave", "zone", "serveurs", "postes linux", "postes windows", "window"):
        table.add_column(col)
    for s in schools:
        window = (
            s.decision.reason if s.decision.allowed else f"{s.decision.reason} → next {s.next_window:%a %d/%m %H:%M}"
        )
        table.add_row(
            escape(s.uai),
            escape(s.name),
            s.wave,
            s.zone,
            str(len(s.serveur_hosts)),
            str(s.postes_linux),
            str(len(s.windows_hosts)),
            escape(window),
        )
    console.print(table)
    for gate in gates:
        console.print(gate, markup=False)
    updates = Table(title="updates")
    for col in ("target", "kind", "what it takes"):
        updates.add_column(col, overflow="fold")
    for row in pending_updates(p):
        updates.add_row(*map(escape, row))
    console.print(updates)


def pending_updates(p: Plan, report_root: Path | None = None) -> list[tuple[str, str, str]]:
    """What each target would take, without contacting any host: serveurs, the security updates the
    newest nightly conformity check saw pending; Linux salles, the newest master of their profile."""
    newest = newest_conformity_report(report_root)
    rows = []
    for s in p.schools:
        for host in s.serveur_hosts:
            raw = playbook.load_raw(newest / "raw" / f"{host}.json") if newest else None  # truncated: unknown
            snap = (raw or {}).get("snapshot")
            updates = snap.get("updates") if isinstance(snap, dict) else None
            pending = updates.get("security") if isinstance(updates, dict) else None
            if not isinstance(pending, list) or not all(isinstance(p, str) for p in pending):
                what = "its pending security updates (not known: no nightly conformity result for it)"
            else:
                names = ", ".join(pending[:12]) + (" …" if len(pending) > 12 else "") if pending else "none"
                what = f"{len(pending)} security update(s) pending at the last nightly check: {names}"
            rows.append((host, "serveur", what))
        for salle, hosts in s.linux_salles.items():
            profile = s.salle_profiles[salle]
            manifest = store.newest_manifest(profile, s.year)
            if manifest is None:
                what = (f"no published {profile} master for {s.year}: build it first "
                        f"(invoke build-master --profile {profile} --year {s.year})")  # fmt: skip
            else:
                changes = manifest.get("patched") or {}
                listed = ", ".join(f"{k} {v[0]} → {v[1]}" for k, v in list(changes.items())[:8])
                what = f"master {manifest['version']}" + (f" (patch release: {listed})" if changes else "")
            rows.append((f"{s.uai} {salle} ({len(hosts)} postes)", "poste-linux", what))
        if s.windows_hosts:
            rows.append((f"{s.uai} ({len(s.windows_hosts)} postes)", "poste-windows",
                         "Windows Update: " + ", ".join(p.settings["windows_update_categories"])))  # fmt: skip
    return rows


@dataclass
class HostOutcome:
    host: str
    uai: str
    kind: str  # serveur | poste-windows | poste-linux
    status: str  # patched | current | failed | unreachable | not started | deferred
    detail: str = ""
    updates: list[dict[str, Any]] | None = None
    reboot: str = ""


def _outcome(
    host: str, uai: str, kind: str, raw: dict[str, Any] | None, stopped: bool, reboot_allowed: bool
) -> HostOutcome:
    if raw is None:
        why = "wave stopped before this host" if stopped else "not reached (no answer)"
        return HostOutcome(host, uai, kind, "not started" if stopped else "unreachable", why)
    record = raw.get("record") or {}
    updates = record.get("updates") or []
    reboot = ""
    if record.get("reboot_required"):
        reboot = "rebooted" if reboot_allowed and raw.get("status") == "ok" else "reboot waits for the next window"
    if raw.get("status") == "ok":
        status = "patched" if record.get("installed") else "current"
        detail = ", ".join(f"{u['package']} {u['to']}" if isinstance(u, dict) else str(u) for u in updates)
        return HostOutcome(host, uai, kind, status, detail or "no pending security update", updates, reboot)
    status = "unreachable" if raw.get("status") == "unreachable" else "failed"
    return HostOutcome(host, uai, kind, status, str(raw.get("reason", ""))[:600], updates, reboot)


def waiting(p: Plan) -> SocleError | None:
    """Why nothing may be patched now (the gate is closed, or no school is inside its window), as the
    error a run stops with; None when some school may be patched."""
    if p.blocked:
        return SocleError("the rollout gate is closed: " + "; ".join(p.gates), hint=(
            "run the nightly conformity check on the previous wave and fix its drift, "
            "or patch one établissement with --etab"))  # fmt: skip
    if not any(s.decision.allowed for s in p.schools):
        soonest = min(s.next_window for s in p.schools if s.next_window)
        return SocleError(
            f"no établissement in scope is inside its maintenance window now ({p.schools[0].decision.reason})",
            hint=f"the next window opens {soonest:%A %d/%m/%Y %H:%M}; --now overrides it (recorded in the run)",
        )
    return None


def apply(
    p: Plan,
    *,
    scope: str,
    region: Path | None = None,
    report: Path | None = None,
    forks: int = 50,
    ticket: str = "",
    fetch: bool = False,
) -> tuple[list[HostOutcome], Path]:
    """Patch the hosts of the schools whose window is open; write the run record; return the outcomes."""
    wait = waiting(p)
    if wait:
        raise wait
    open_schools = [s for s in p.schools if s.decision.allowed]
    region = region or DEFAULT_REGION
    started = dt.datetime.now(dt.UTC)
    run = run_id(started)
    report = report or ROOT / "reports" / "patch" / run
    raw_dir = report / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    console = Console(stderr=True)
    forced = [s.uai for s in open_schools if s.decision.forced]
    if forced:
        console.print(f"warning: maintenance window overridden with --now for {', '.join(forced)} (recorded)",
                      style="bold yellow", markup=False)  # fmt: skip
    # a reboot only ever happens inside a real window: --now patches, the reboot waits
    reboot_allowed = all(not s.decision.forced for s in open_schools)
    serveurs = [h for s in open_schools for h in s.serveur_hosts]
    windows = [h for s in open_schools for h in s.windows_hosts]
    extra = {
        "socle_patch_serveurs": ",".join(serveurs) or "!all",
        "socle_patch_windows": ",".join(windows) or "!all",
        "socle_patch_serial": p.settings["serial"],
        "socle_patch_max_fail_percentage": p.settings["max_fail_percentage"],
        "socle_patch_reboot_allowed": reboot_allowed,
        "socle_patch_run_id": run,
        "socle_windows_update_categories": p.settings["windows_update_categories"],
    }
    (report / "extra-vars.json").write_text(json.dumps(extra, indent=2))
    rc = 0
    if serveurs or windows:
        log = report / "ansible.log"
        console.print(
            f"patching {len(serveurs)} serveur(s), {len(windows)} Windows poste(s) (log: {log})", markup=False
        )
        rc, _ = playbook.operation(ROOT / "playbooks" / "patch.yml", region, results=raw_dir, log=log, forks=forks,
                                extravars=extra)  # fmt: skip
    outcomes: list[HostOutcome] = []
    raws = {f.stem: json.loads(f.read_text()) for f in raw_dir.glob("*.json")}
    stopped = rc != 0 and any(r.get("status") == "failed" for r in raws.values())
    for s in p.schools:
        if not s.decision.allowed:
            why = f"window closed ({s.decision.reason}); next {s.next_window:%a %d/%m %H:%M}"
            linux = [h for hosts in s.linux_salles.values() for h in hosts]
            outcomes += [HostOutcome(h, s.uai, k, "deferred", why)
                         for k, hosts in (("serveur", s.serveur_hosts), ("poste-windows", s.windows_hosts),
                                          ("poste-linux", linux))
                         for h in hosts]  # fmt: skip
            continue
        outcomes += [_outcome(h, s.uai, "serveur", raws.get(h), stopped, reboot_allowed) for h in s.serveur_hosts]
        outcomes += [_outcome(h, s.uai, "poste-windows", raws.get(h), stopped, reboot_allowed) for h in s.windows_hosts]
    # image-based Linux postes: the newest master of their profile (the patch release), by reimage,
    # once the serveurs are healthy (the serveur distributes the image)
    for s in open_schools:
        for salle, hosts in s.linux_salles.items():
            if stopped:
                outcomes += [HostOutcome(h, s.uai, "poste-linux", "not started", "wave stopped") for h in hosts]
            else:
                outcomes += _reimage_salle(s.uai, salle, hosts, region, report, ticket, s.year, fetch)
    record = {
        "run": run, "scope": scope, "who": asdict(operator.current()), "started": utc_stamp(started),
        "finished": utc_stamp(),
        "moment_local": p.moment.isoformat(timespec="minutes"), "forced_now": forced,
        "gates": p.gates, "settings": p.settings, "reboot_allowed": reboot_allowed, "wave_stopped": stopped,
        "ansible_rc": rc,
        "hosts": [o.__dict__ for o in outcomes],
    }  # fmt: skip
    write_atomic(report / "run.json", json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    write_atomic(report / "junit.xml", _junit(run, outcomes))
    history.record(*_interventions(run, record, open_schools, outcomes, ticket))
    return outcomes, report


def _interventions(run: str, record: dict[str, Any], schools: list[Any], outcomes: list[HostOutcome],
                   ticket: str) -> list[history.Intervention]:  # fmt: skip
    """One history row per établissement the wave patched (its salles' reimages have their own rows)."""
    rows = []
    for s in schools:
        mine = [o for o in outcomes if o.uai == s.uai]
        ok = sum(o.status in ("patched", "current") for o in mine)
        rows.append(history.Intervention(
            "patch", operator.current(), record["started"], record["finished"],
            "success" if ok == len(mine) else "incomplete", run=run, uai=s.uai, postes=[o.host for o in mine],
            postes_ok=ok, request=history.Request("patch", ticket),
            detail={"statuses": dict(Counter(o.status for o in mine)), "forced_now": s.decision.forced},
        ))  # fmt: skip
    return rows


_FROM_REIMAGE = {"staged": "patched", "already current": "current", "unreachable": "unreachable"}


def _reimage_salle(uai: str, salle: str, hosts: list[str], region: Path, report: Path,
                   ticket: str, year: str, fetch: bool) -> list[HostOutcome]:  # fmt: skip
    """The patch release goes into each poste's inactive slot; the poste boots it at its next start
    (postes are switched off every evening), so preventive patching never reboots a classroom."""
    try:
        results, _ = reimage.restore_salle(etab=uai, salle=salle, reboot="no", region=region, year=year, fetch=fetch,
                                           report=report / "reimage" / f"{uai}-{salle}",
                                           request=history.Request("patch", ticket))  # fmt: skip
    except SocleError as exc:
        return [HostOutcome(h, uai, "poste-linux", "failed", f"salle {salle}: {exc.message}") for h in hosts]
    return [
        HostOutcome(r.host, uai, "poste-linux", _FROM_REIMAGE.get(r.status, "failed"),
                    f"salle {salle}: {r.detail}" + (f" ({r.method})" if r.method else ""), None,
                    "new master at next boot" if r.status == "staged" else "")
        for r in results
    ]  # fmt: skip


def _junit(run: str, outcomes: list[HostOutcome]) -> str:
    """One test case per host: failed or unreachable fail; not started and deferred are skipped."""
    cases = [
        junit.Case(
            o.uai, o.host,
            failure=o.status if o.status in {"failed", "unreachable"} else None, text=o.detail,
            skipped=f"{o.status}: {o.detail}" if o.status in {"not started", "deferred"} else None,
        )
        for o in outcomes
    ]  # fmt: skip
    return junit.suite(f"patch {run}", cases)


STYLE = {"patched": "green", "current": "green", "failed": "bold red", "unreachable": "red",
         "not started": "yellow", "deferred": "yellow"}  # fmt: skip


def show_outcomes(outcomes: list[HostOutcome], report: Path) -> None:
    console = Console(stderr=True)
    table = Table(title="patch run")
    for col in ("host", "UAI", "kind", "result", "detail", "reboot"):
        table.add_column(col, overflow="fold")
    for o in outcomes:
        table.add_row(*map(escape, (o.host, o.uai, o.kind)), f"[{STYLE[o.status]}]{o.status}[/]", escape(o.detail),
                      escape(o.reboot))  # fmt: skip
    console.print(table)
    run = json.loads((report / "run.json").read_text())
    if run["wave_stopped"]:
        console.print("the wave stopped: a host failed its health check above max_fail_percentage; "
                      "rollback guidance is in its result and in /var/lib/socle/rollback-<run>.txt on it",
                      style="bold red", markup=False)  # fmt: skip
    console.print(f"run record: {report}/run.json, junit.xml, ansible.log", markup=False)


def failed(outcomes: list[HostOutcome]) -> bool:
    return any(o.status in {"failed", "unreachable", "not started"} for o in outcomes)
