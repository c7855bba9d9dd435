"""Reimage a salle (curative maintenance, issue #7): every poste back to the current master.

The controller finds the salle, its lycée serveur and the newest signed master of the salle's
profile, runs playbooks/reimage.yml (stage on the serveur, wake the postes, multicast with HTTP
fallback, verify, switch), then prints one row per poste and writes the intervention record.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from socle.core import history, operator, playbook
from socle.core.clock import in_paris, run_id, utc_stamp
from socle.core.errors import SocleError
from socle.core.files import append_line, write_atomic
from socle.core.i18n import translate
from socle.core.paths import ROOT
from socle.core.playbook import load_raw
from socle.inventory.model import DEFAULT_REGION, fast_load
from socle.registry import specs, store
from socle.registry.rollout import assigned_year

REBOOT_CHOICES = ("now", "end-of-period", "no")


@dataclass
class Salle:
    """Machines one serveur distributes a master to: a salle's postes, or for the install of a serveur
    (``salle`` empty) that one serveur, armed from another (socle.operations.install.find_serveur)."""

    uai: str
    school: str
    salle: str
    profile: str
    postes: list[str]
    serveur: str
    serveur_address: str
    macs: dict[str, str]
    addresses: dict[str, str]
    #: the établissement's rollout wave: which school year's masters it runs (rollout.assigned_year)
    wave: str = ""


@dataclass
class PosteOutcome:
    host: str
    status: str  # done | staged | already current | reset | fell back | refused | unreachable | failed
    detail: str = ""
    method: str = ""
    seconds: float | None = None
    bytes: int | None = None
    boot: dict[str, Any] | None = None  # the slot that came up, healthy or not, and any fallback


def find_school(region: Path, etab: str) -> dict[str, Any]:
    schools = {s["uai"]: s for s in fast_load(region)}
    school = schools.get(etab) or schools.get(etab.upper())
    if school is None:
        raise SocleError(f"no établissement {etab} in {region}", hint="check the UAI (7 digits + letter)")
    return school


def address_of(entry: dict[str, Any]) -> str:
    """How the controller reaches a poste or serveur: its fixed IP, else its name (DHCP)."""
    return entry["ip"] if entry.get("ip") not in (None, "dhcp") else entry["hostname"]


def find_salle(region: Path, etab: str, salle: str) -> Salle:
    school = find_school(region, etab)
    rooms = {str(r["id"]): r for r in school.get("salles") or []}
    room = rooms.get(salle)
    if room is None:
        raise SocleError(f"no salle '{salle}' in {school['uai']} ({school['name']})",
                         hint=f"salles: {', '.join(sorted(rooms)) or 'none'}")  # fmt: skip
    if specs.is_windows(room["profile"]):
        raise SocleError(f"salle {salle} has Windows postes", hint="Windows reimage is not in this command yet")
    serveurs = school.get("serveurs") or []
    if not serveurs:
        raise SocleError(f"{school['uai']} has no serveur to distribute the image",
                         where=school.get("__file__"), hint="add the lycée serveur under 'serveurs:'")  # fmt: skip
    srv = serveurs[0]
    postes = [p["hostname"] for p in room["postes"]]
    macs = {p["hostname"]: str(p.get("mac", "")).lower() for p in room["postes"]}
    addresses = {p["hostname"]: address_of(p) for p in room["postes"]}
    return Salle(school["uai"], school["name"], salle, room["profile"], postes, srv["hostname"], address_of(srv), macs,
                 addresses, str(school["wave"]))  # fmt: skip


def master_source(room: Salle, year: str = "", *, version: str = "", rollback: bool = False,
                  today: dt.date | None = None) -> tuple[dict[str, Any], Path]:  # fmt: skip
    """The signed master a salle receives: of the school year ``year``, else the one its wave is assigned
    today (``rollout.assigned_year``, Paris date); within it the newest published, the one ``version``
    names (2027-2028.0 names its year too), or with ``rollback`` and no version the one before the newest."""
    profile = room.profile
    if version and not year:
        year = version.rsplit(".", 1)[0]
    if not year and room.wave:
        year = assigned_year(room.wave, today or in_paris().date())
    year = specs.resolve_year(year or None)
    versions = store.published(year, profile)
    if not versions:
        raise SocleError(f"no published master of profile {profile} for {year}",
                         hint=f"invoke build-master --profile {profile} --year {year}")  # fmt: skip
    if version:
        chosen = [v for v in versions if v.name == version]
        if not chosen:
            raise SocleError(f"no published master {version} of profile {profile}",
                             hint=f"published: {', '.join(v.name for v in versions)}")  # fmt: skip
        folder = chosen[0]
    elif rollback:
        if len(versions) < 2:
            raise SocleError(f"no master of profile {profile} older than {versions[-1].name} to roll back to",
                             hint="name the version with --version")  # fmt: skip
        folder = versions[-2]
    else:
        folder = versions[-1]
    manifest = json.loads((folder / "manifest.json").read_text())
    missing = [f for f in store.SIGNED_FILES if not (folder / f).exists()]
    if missing:
        raise SocleError(f"master {manifest['version']} has no {', '.join(missing)}", where=str(folder),
                         hint="rebuild it (squashfs artefact and signature are needed to reimage)")  # fmt: skip
    return manifest, folder


def end_of_period(now: dt.datetime) -> str:
    """French class periods end on the hour (55 min + break): reboot at the next full hour (``now`` on
    Paris time, as the postes' clocks are)."""
    return f"{(now + dt.timedelta(hours=1)).hour:02d}:00"


def restore_salle(
    *, etab: str, salle: str, reset: bool = False, force: bool = False, reboot: str = "now",
    multicast: bool = True, full: bool = False, region: Path | None = None, report: Path | None = None,
    forks: int = 50, version: str = "", rollback: bool = False, request: history.Request | None = None,
    year: str = "", fetch: bool = False,
) -> tuple[list[PosteOutcome], Path]:  # fmt: skip
    """Reimage (or, with ``reset``, reset) every poste of a salle; the outcomes and the record's folder."""
    request = request or history.Request()
    if reboot not in REBOOT_CHOICES:
        raise SocleError(f"unknown --reboot '{reboot}'", hint=f"use one of: {', '.join(REBOOT_CHOICES)}")
    begun = time.monotonic()
    region = region or DEFAULT_REGION
    room = find_salle(region, etab, salle)
    started = dt.datetime.now(dt.UTC)
    run = run_id(started)
    report = report or ROOT / "reports" / "reimage" / run
    raw = report / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    if reset:
        book, manifest = ROOT / "playbooks" / "reset.yml", None
        extra: dict[str, Any] = {
            "socle_reimage_serveur": room.serveur,
            "socle_reimage_postes": ",".join(room.postes),
            "socle_reimage_reboot": reboot,
            "socle_reimage_reboot_at": end_of_period(in_paris()),
        }
    else:
        manifest, folder = master_source(room, year, version=version, rollback=rollback)
        rel = f"{manifest['school_year']}/{room.profile}/{manifest['version']}"
        book = ROOT / "playbooks" / "reimage.yml"
        extra = {
            "socle_reimage_serveur": room.serveur,
            "socle_reimage_postes": ",".join(room.postes),
            "socle_reimage_source": str(folder),
            "socle_reimage_files": store.served_files(folder),
            "socle_reimage_rel": rel,
            "socle_reimage_version": manifest["version"],
            "socle_reimage_sums_sha256": store.sha256_file(folder / "SHA256SUMS"),
            "socle_reimage_rollback": rollback,
            "socle_reimage_base_url": f"http://{room.serveur_address}/socle/masters/{rel}",
            "socle_reimage_force": force,
            "socle_reimage_fetch": fetch,
            "socle_reimage_full": full,
            "socle_reimage_multicast": multicast,
            "socle_reimage_run": f"{room.uai}-{room.salle}-{run}".lower(),
            "socle_reimage_multicast_wait": 20,
            "socle_reimage_session_timeout": 1800,
            "socle_reimage_sender_options": "",
            "socle_reimage_reboot": reboot,
            "socle_reimage_reboot_at": end_of_period(in_paris()),
        }
    (report / "extra-vars.json").write_text(json.dumps(extra, indent=2))
    log = report / "ansible.log"
    what = "reset" if reset else f"reimage to {manifest['version']}"  # type: ignore[index]
    t0 = time.monotonic()
    Console(stderr=True, soft_wrap=True).print(
        f"{what}: salle {salle} of {room.uai}, {len(room.postes)} postes (log: {log})", markup=False
    )
    # one fork per poste: the whole room joins one multicast session
    rc, phases = playbook.operation(book, region, results=raw, log=log, forks=max(forks, len(room.postes) + 1),
                                    extravars=extra, label="reset" if reset else "reimage")  # fmt: skip
    duration = time.monotonic() - t0
    phases.insert(0, {"phase": "find the salle and its master", "seconds": round(t0 - begun, 2)})
    serveur_raw = load_raw(raw / f"{room.serveur}.json")
    outcomes = [_outcome(h, load_raw(raw / f"{h}.json"), serveur_raw) for h in room.postes]
    record = {
        "run": run, "operation": "reset" if reset else "reimage",
        "started": utc_stamp(started), "duration_s": round(duration, 1),
        "uai": room.uai, "school": room.school, "salle": salle, "profile": room.profile,
        "master": None if manifest is None else manifest["version"], "serveur": room.serveur,
        "reboot": reboot, "force": force, "multicast": multicast, "full": full, "rollback": rollback,
        "ansible_rc": rc, "outcome": "success" if not failed(outcomes) else "incomplete",
        "phases": phases, "postes": [asdict(o) for o in outcomes],
    }  # fmt: skip
    write_record(report, record, request)
    return outcomes, report


#: poste statuses that leave the poste on the master the operation aimed at
BACK_ON_MASTER = frozenset({"done", "already current", "reset", "installed"})


def write_record(report: Path, record: dict[str, Any], request: history.Request) -> None:
    """The run's intervention record: record.json (written whole), its line in the shared
    interventions.jsonl, and its row in the history database, with who ran it and why."""
    entry = history.Intervention(
        record["operation"], operator.current(), record["started"], utc_stamp(), record["outcome"],
        run=record["run"], uai=record["uai"], salle=record.get("salle") or "",
        postes=[p["host"] for p in record["postes"]],
        postes_ok=sum(p["status"] in BACK_ON_MASTER for p in record["postes"]), request=request,
        master=f"{record['profile']}/{record['master']}" if record.get("master") else "",
        detail={k: record[k] for k in ("serveur", "reboot", "rollback", "installed") if k in record},
    )  # fmt: skip
    record = {**record, **history.operator_fields(entry)}
    write_atomic(report / "record.json", json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    append_line(report.parent / "interventions.jsonl", json.dumps(record, ensure_ascii=False, sort_keys=True))
    history.record(entry)


def _outcome(host: str, raw: dict[str, Any] | None, serveur: dict[str, Any] | None) -> PosteOutcome:
    if raw is None:
        if serveur and serveur.get("status") != "ok":
            return PosteOutcome(host, "failed", f"serveur: {serveur.get('reason', '')[:300]}")
        return PosteOutcome(host, "failed", "no result (see ansible.log)")
    if raw.get("status") == "unreachable" or "Wait for the poste" in raw.get("task", ""):
        return PosteOutcome(host, "unreachable", "no answer, even after Wake-on-LAN")
    rec = raw.get("record") or {}
    result = rec.get("result", "failed")
    if result == "refused":
        return PosteOutcome(host, "refused", str(rec.get("reason", ""))[:400])
    status, detail = judge_boot(rec)
    if raw.get("status") == "ok" and status:
        return PosteOutcome(host, status, detail, rec.get("method", ""), rec.get("seconds"), rec.get("bytes"),
                            rec.get("boot"))  # fmt: skip
    return PosteOutcome(host, "failed", str(rec.get("reason") or raw.get("reason") or detail)[:400],
                        boot=rec.get("boot"))  # fmt: skip


def judge_boot(rec: dict[str, Any]) -> tuple[str, str]:
    """A poste's status from its record: ``done`` only once it booted the new slot and reported healthy.
    Returns ("", why) when the record says the poste is not where it should be."""
    result = rec.get("result", "")
    where = f"slot {rec.get('slot', '')} {rec.get('version', '') or ''}".strip()
    if result in {"already current", "staged", "reset scheduled"}:
        return ("staged" if result == "reset scheduled" else result), where
    if result not in {"done", "reset"}:
        return "", result
    boot = rec.get("boot") or {}
    if boot.get("fell_back_from"):
        back = boot["fell_back_from"]
        return "fell back", f"slot {back.get('slot')} ({back.get('version')}) did not boot healthy; back on " \
                            f"slot {boot.get('booted')} {boot.get('version') or ''}"  # fmt: skip
    if not boot.get("healthy"):
        return "", "rebooted, but no healthy boot was reported"
    if result == "done" and boot.get("booted") != rec.get("slot"):
        return "", f"booted slot {boot.get('booted')}, not the new slot {rec.get('slot')}"
    return ("done" if result == "done" else "reset"), f"slot {boot.get('booted')} {boot.get('version') or ''}".strip()


STYLE = {"done": "green", "already current": "green", "reset": "green", "staged": "yellow", "fell back": "bold red",
         "refused": "bold red", "unreachable": "red", "failed": "bold red"}  # fmt: skip


def show(outcomes: list[PosteOutcome], report: Path) -> None:
    console = Console(stderr=True)
    rec = json.loads((report / "record.json").read_text())
    title = f"{rec['operation']} {rec['uai']} / {rec['salle']}" + (f" → {rec['master']}" if rec["master"] else "")
    table = Table(title=escape(f"{title} ({rec['duration_s']} s)"))
    for col in ("poste", "result", "method", "seconds", "detail"):
        table.add_column(translate(col), overflow="fold")
    for o in outcomes:
        table.add_row(escape(o.host), f"[{STYLE[o.status]}]{escape(translate(o.status))}[/]", escape(o.method),
                      "" if o.seconds is None else f"{o.seconds:.1f}", escape(translate(o.detail)))  # fmt: skip
    console.print(table)
    record = f"{report}/record.json (and {report.parent}/interventions.jsonl)"
    console.print(translate(f"intervention record: {record}"), markup=False, soft_wrap=True)  # a path is copied whole


def failed(outcomes: list[PosteOutcome]) -> bool:
    return any(o.status in {"refused", "unreachable", "failed", "fell back"} for o in outcomes)
