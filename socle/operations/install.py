"""First install (issue #17): blank poste or serveur → installed → managed over SSH.

The controller stages the signed master on the lycée serveur and arms its PXE for the inventory's
MACs of the chosen postes, for a bounded window (playbooks/install.yml). The CMIL powers the postes
on; each installs itself and reboots into slot A. The controller waits for each poste's SSH, enrols
its host key (socle.operations.enrolment), reads what it installed and disarms its MAC
(playbooks/install-done.yml), then writes the intervention record, like a reimage.

A serveur installs the same way from its own profile's master (``serveur`` unless its inventory entry
names another), armed by another serveur of the établissement on the same network (``--via``).
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from socle.core import history, playbook
from socle.core.clock import run_id, utc_stamp
from socle.core.errors import SocleError
from socle.core.i18n import translate
from socle.core.paths import ROOT
from socle.core.playbook import load_raw
from socle.inventory.model import DEFAULT_REGION
from socle.operations import enrolment, reimage
from socle.operations.reimage import Salle, find_salle, master_source, write_record
from socle.registry import specs, store

#: Longest arming window: one morning or one afternoon (the serveur refuses more than 8 h)
MAX_WINDOW_MINUTES = 240
#: The master a serveur installs when its inventory entry names no profile
DEFAULT_SERVEUR_PROFILE = "serveur"


@dataclass
class Installed:
    host: str
    status: str  # installed | not installed | not enrolled | failed
    detail: str = ""
    seconds: float | None = None


def _ssh_up(address: str) -> bool:
    try:
        with socket.create_connection((address, 22), timeout=3) as conn:
            conn.settimeout(5)
            return conn.recv(4).startswith(b"SSH-")
    except OSError:
        return False


def check_window(window: int) -> None:
    if not 1 <= window <= MAX_WINDOW_MINUTES:
        raise SocleError(f"--window {window}: the arming window is 1 to {MAX_WINDOW_MINUTES} minutes",
                         hint="arm again for the machines not installed in time")  # fmt: skip


def install_salle(
    *, etab: str, salle: str, postes: list[str] | None = None, window: int = 60, region: Path | None = None,
    report: Path | None = None, request: history.Request | None = None,
) -> tuple[list[Installed], Path]:  # fmt: skip
    """Arm the serveur for the postes' MACs, wait for each install, enrol, disarm, record."""
    check_window(window)
    region = region or DEFAULT_REGION
    room = find_salle(region, etab, salle)
    chosen = postes or room.postes
    unknown = sorted(set(chosen) - set(room.postes))
    if unknown:
        raise SocleError(f"no poste {', '.join(unknown)} in salle {salle}", hint=f"postes: {', '.join(room.postes)}")
    missing_mac = [h for h in chosen if not room.macs.get(h)]
    if missing_mac:
        raise SocleError(f"no MAC in the inventory for {', '.join(missing_mac)}: PXE arms MACs only",
                         hint="add each poste's mac: in the établissement file")  # fmt: skip
    return _install(room, chosen, window, region, report, request or history.Request())


def find_serveur(region: Path, etab: str, serveur: str, via: str = "") -> Salle:
    """The serveur to install (its MAC, address and profile) and the serveur of the same établissement
    that arms PXE for it: ``via``, or the first other one. PXE answers on the lycée's network only, so
    a lone serveur is installed from an installer declared beside it (docs/install.md)."""
    school = reimage.find_school(region, etab)
    where = school.get("__file__")
    serveurs = {str(s["hostname"]): s for s in school.get("serveurs") or []}
    target = serveurs.get(serveur)
    if target is None:
        raise SocleError(f"no serveur '{serveur}' in {school['uai']} ({school['name']})", where=where,
                         hint=f"serveurs: {', '.join(serveurs) or 'none'}")  # fmt: skip
    if not target.get("mac"):
        raise SocleError(f"no MAC in the inventory for serveur {serveur}: PXE arms MACs only", where=where,
                         hint="add the serveur's mac: in the établissement file")  # fmt: skip
    others = [name for name in serveurs if name != serveur]
    if via and via not in others:
        raise SocleError(f"--via {via}: not another serveur of {school['uai']}", where=where,
                         hint=f"other serveurs: {', '.join(others) or 'none'}")  # fmt: skip
    if not others:
        raise SocleError(f"{school['uai']} has no other serveur to arm PXE for {serveur}", where=where,
                         hint="declare an installer on the lycée's network (a second serveur, or a VM installed from "
                              "the serveur master) under serveurs: as serveur-secours (docs/install.md)")  # fmt: skip
    arming = serveurs[via or others[0]]
    profile = str(target.get("profile") or DEFAULT_SERVEUR_PROFILE)
    return Salle(school["uai"], school["name"], "", profile, [serveur], str(arming["hostname"]),
                 reimage.address_of(arming), {serveur: str(target["mac"]).lower()},
                 {serveur: reimage.address_of(target)}, str(school["wave"]))  # fmt: skip


def install_serveur(
    *, etab: str, serveur: str, via: str = "", window: int = 60, region: Path | None = None,
    report: Path | None = None, request: history.Request | None = None,
) -> tuple[list[Installed], Path]:  # fmt: skip
    """Arm another serveur of the établissement for this serveur's MAC; then as for a salle."""
    check_window(window)
    region = region or DEFAULT_REGION
    return _install(
        find_serveur(region, etab, serveur, via), [serveur], window, region, report, request or history.Request()
    )


def _install(room: Salle, chosen: list[str], window: int, region: Path, report: Path | None,
             request: history.Request) -> tuple[list[Installed], Path]:  # fmt: skip
    """Stage and arm, wait for each machine to install, enrol it, read slot A, disarm, record."""
    manifest, folder = master_source(room)
    what = f"the postes of {room.salle}" if room.salle else f"the serveur {chosen[0]}"
    rel = f"{manifest['school_year']}/{room.profile}/{manifest['version']}"
    started = dt.datetime.now(dt.UTC)
    report = report or ROOT / "reports" / "install" / run_id(started)
    raw = report / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    extra: dict[str, Any] = {
        "socle_reimage_serveur": room.serveur, "socle_reimage_postes": ",".join(chosen),
        "socle_reimage_source": str(folder), "socle_reimage_files": store.served_files(folder),
        "socle_reimage_rel": rel,
        "socle_reimage_version": manifest["version"], "socle_install_window_minutes": window,
        # a first install is asked for by a person on site: the master may cross the WAN now
        "socle_reimage_fetch": True,
        "socle_reimage_sums_sha256": store.sha256_file(folder / "SHA256SUMS"),
        "socle_install_serveur_address": room.serveur_address, "socle_install_macs": [room.macs[h] for h in chosen],
    }  # fmt: skip
    (report / "extra-vars.json").write_text(json.dumps(extra, indent=2))
    # one secret per machine, made here, kept in memory: only that MAC's iPXE script carries it
    tokens = {h: enrolment.new_token() for h in chosen}
    console = Console(stderr=True)
    t0 = time.monotonic()
    console.print(f"install {manifest['version']}: arming {room.serveur} for {what}", markup=False)
    arming = {**extra, "socle_install_tokens": {room.macs[h]: tokens[h] for h in chosen}}
    rc, _ = playbook.operation(ROOT / "playbooks" / "install.yml", region, results=raw / "arm", log=report / "arm.log",
                            forks=10, extravars=arming, label="install-arm")  # fmt: skip
    # the secrets stay in this process: not in the run's folder (ansible-runner wrote them there)
    (report / "runner" / "env" / "extravars").unlink(missing_ok=True)
    armed = load_raw(raw / "arm" / f"{room.serveur}.json")
    if rc != 0 or not armed or armed.get("status") != "ok":
        raise SocleError(f"the serveur {room.serveur} could not be armed", where=str(report / "arm.log"),
                         hint="see the log; nothing was installed")  # fmt: skip
    console.print(f"armed for {window} min: power {what} on (network boot when the disk is blank)", markup=False)
    account = specs.load_spec(room.profile, manifest["school_year"]).management_account
    outcomes = _wait_and_enrol(room, chosen, account, window, report, console, t0, tokens)
    done = [o.host for o in outcomes if o.status == "installed"]
    if done:
        extra.update(socle_reimage_postes=",".join(done), socle_install_macs=[room.macs[h] for h in done])
        (report / "extra-vars.json").write_text(json.dumps(extra, indent=2))
        playbook.operation(ROOT / "playbooks" / "install-done.yml", region, results=raw / "done",
                           log=report / "done.log", forks=max(10, len(done) + 1), extravars=extra,
                           label="install-done")  # fmt: skip
        for o in outcomes:
            snap = load_raw(raw / "done" / f"{o.host}.json") or {}
            rec = snap.get("record") or {}
            status = rec.get("status") or {}
            healthy = status.get("booted") == "A" and (status.get("last_boot") or {}).get("healthy")
            if o.status == "installed" and not healthy:
                o.status, o.detail = "failed", f"installed, but slot A did not report a healthy boot: {status}"
            elif o.status == "installed":
                o.detail += f"; slot A {status['slots']['A']['version']}, healthy boot"
    record = {
        "run": report.name, "operation": "install", "started": utc_stamp(started),
        "duration_s": round(time.monotonic() - t0, 1), "uai": room.uai, "school": room.school,
        "salle": room.salle or None, "installed": "postes" if room.salle else "serveur",
        "profile": room.profile, "master": manifest["version"], "serveur": room.serveur, "window_minutes": window,
        "outcome": "success" if all(o.status == "installed" for o in outcomes) else "incomplete",
        "postes": [asdict(o) for o in outcomes],
    }  # fmt: skip
    write_record(report, record, request)
    return outcomes, report


def _wait_and_enrol(room: Any, chosen: list[str], account: str, window: int, report: Path, console: Console,
                    t0: float, tokens: dict[str, str]) -> list[Installed]:  # fmt: skip
    """Each poste's SSH answers once it rebooted installed: enrol it then (inside the armed window)."""
    deadline = t0 + window * 60
    waiting = {h: room.addresses[h] for h in chosen}
    outcomes: dict[str, Installed] = {}
    with console.status("") as status:
        while waiting and time.monotonic() < deadline:
            status.update(f"waiting for {', '.join(sorted(waiting))} to install")
            for host, address in sorted(waiting.items()):
                if _ssh_up(address):
                    enrolled = enrolment.enrol(host, address, account, report, room.uai, tokens[host])
                    if enrolled.retry:
                        continue
                    outcomes[host] = Installed(host, "installed" if enrolled.ok else "not enrolled", enrolled.detail,
                                               round(time.monotonic() - t0, 1))  # fmt: skip
                    del waiting[host]
            time.sleep(5)
    for host in waiting:
        outcomes[host] = Installed(host, "not installed", f"no SSH within the {window} min window")
    return [outcomes[h] for h in chosen]


STYLE = {"installed": "green", "not installed": "red", "not enrolled": "bold red", "failed": "bold red"}


def show(outcomes: list[Installed], report: Path) -> None:
    console = Console(stderr=True)
    rec = json.loads((report / "record.json").read_text())
    where = rec["salle"] or f"serveur {outcomes[0].host}"
    table = Table(title=escape(f"install {rec['uai']} / {where} → {rec['master']} ({rec['duration_s']} s)"))
    for col in ("poste" if rec["salle"] else "serveur", "result", "seconds", "detail"):
        table.add_column(translate(col), overflow="fold")
    for o in outcomes:
        table.add_row(escape(o.host), f"[{STYLE[o.status]}]{escape(translate(o.status))}[/]",
                      "" if o.seconds is None else f"{o.seconds:.0f}", escape(translate(o.detail)))  # fmt: skip
    console.print(table)
    record = f"{report}/record.json"
    console.print(translate(f"intervention record: {record}"), markup=False, soft_wrap=True)


def failed(outcomes: list[Installed]) -> bool:
    return any(o.status != "installed" for o in outcomes)
