"""Nightly conformity: what each host should be (derived), what it is (one snapshot), the drift.

Expected state is never written per host: it comes from the inventory (the room's profile and
disciplines), the master's manifest (version, package set), the catalogue (the room's software)
and the `hardening` role's own defaults (the same variables that remediate).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from rich.console import Console

from socle import ROOT, catalogue, inventory, masters, proc
from socle.errors import SocleError

HARDENING_DEFAULTS = ROOT / "roles" / "hardening" / "defaults" / "main.yml"
WIN_HARDENING_DEFAULTS = ROOT / "roles" / "win_hardening" / "defaults" / "main.yml"
#: salle profiles whose postes run Windows (collector win_socle_facts, expectations win_hardening)
WINDOWS_PROFILES = {"poste-windows"}
#: well-known SIDs of the principals CIS 2.2.21 denies network logon to
PRINCIPAL_SIDS = {"Guests": "S-1-5-32-546", "Local account": "S-1-5-113"}
#: sshd -T prints some values under another name than sshd_config accepts
SSHD_ALIASES = {"prohibit-password": "without-password"}
MIN_FREE_DISK_PERCENT = 10
MAX_PATCH_AGE_DAYS = 35


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
    status: str  # conformant | drift | unreachable | failed
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


# --- expected state ---------------------------------------------------------------------------
def targets(region: Path, etab: str | None = None, salle: str | None = None) -> list[Target]:
    out = []
    for school in inventory.fast_load(region):
        if etab and school["uai"] != etab:
            continue
        for room in school.get("salles") or []:
            if salle and str(room["id"]) != salle:
                continue
            for poste in room.get("postes") or []:
                out.append(
                    Target(poste["hostname"], school["uai"], school["name"], str(room["id"]), room["profile"],
                           list(room.get("disciplines") or []))
                )  # fmt: skip
        if not salle:
            out += [Target(srv["hostname"], school["uai"], school["name"], "serveurs", "serveur", [], "serveur")
                    for srv in school.get("serveurs") or []]  # fmt: skip
    if not out:
        where = f"{etab or ''}{'/' + salle if salle else ''}" or "the inventory"
        raise SocleError(f"no poste matches {where}", hint="check the UAI and room id with 'ansible-inventory --graph'")
    return out


def reference_manifest(profile: str, year: str) -> dict[str, Any] | None:
    """The newest published master of ``profile`` for ``year`` (the reference)."""
    root = masters.dist_dir() / "masters" / year / profile
    if not root.is_dir():
        return None
    versions = [p for p in root.iterdir() if (p / "manifest.json").exists() and not p.name.startswith(".")]
    if not versions:
        return None
    newest = max(versions, key=lambda p: int(p.name.rsplit(".", 1)[1]))
    return json.loads((newest / "manifest.json").read_text())


def hardening_expectations(windows: bool = False) -> dict[str, Any]:
    return yaml.safe_load((WIN_HARDENING_DEFAULTS if windows else HARDENING_DEFAULTS).read_text())


# --- evaluation -------------------------------------------------------------------------------
def evaluate(
    target: Target,
    raw: dict[str, Any] | None,
    *,
    manifest: dict[str, Any] | None,
    expected_software: dict[str, str],
    hardening: dict[str, Any],
    today: dt.date,
) -> HostResult:
    """Compare one host's snapshot with what it should be. Pure function: no I/O."""
    result = HostResult(target.host, target.uai, target.salle, target.profile, "conformant")
    if raw is None:
        result.status, result.reason = "unreachable", "no answer (host down or not reached)"
        return result
    if raw.get("status") != "collected":
        result.status, result.reason = raw.get("status", "failed"), raw.get("reason", "")
        return result
    snap = raw["snapshot"]
    patch = snap.get("last_patch") or {}
    result.last_patch = patch.get("socle") or patch.get("apt_history")
    result.patch_latency_h = patch_latency(patch.get("history") or [], today)
    drifts = result.drifts
    installed: dict[str, str] = snap.get("packages") or {}
    windows = snap.get("platform") == "windows"
    # master identity
    ident = snap.get("master") or {}
    if manifest is None:
        drifts.append(Drift("master", "reference", f"no published master for profile {target.profile}"))
    else:
        if ident.get("profile") != target.profile:
            drifts.append(Drift("master", "profile", "wrong master profile for this salle", target.profile,
                                ident.get("profile")))  # fmt: skip
        if ident.get("version") != manifest["version"]:
            drifts.append(
                Drift("master", "version", "not on the current master", manifest["version"], ident.get("version"))
            )
        reference = {n: p["version"] for n, p in manifest["packages"].items()}
        unknown = sorted(set(installed) - set(reference))
        for name in unknown:
            drifts.append(Drift("unknown-software", "outside-master", f"{name} is not part of the master", None,
                                installed[name]))  # fmt: skip
        # catalogue software is reported once, as catalogue drift
        catalogue_names = {_installed_name(reference, k, windows) for k in expected_software} - {None}
        for name in sorted(set(reference) - set(installed) - catalogue_names):
            drifts.append(Drift("master", "package-missing", f"{name} of the master is missing", reference[name], None))
    # catalogue software of the room
    for pkg, software in sorted(expected_software.items()):
        name = _installed_name(installed, pkg, windows)
        if name is None:
            drifts.append(Drift("catalogue", "missing", f"{software} ({pkg}) is missing", "installed", None))
        elif manifest and name in manifest["packages"] and installed[name] != manifest["packages"][name]["version"]:
            drifts.append(Drift("catalogue", "version", f"{software} ({pkg}) is not at the approved version",
                                manifest["packages"][name]["version"], installed[name]))  # fmt: skip
    if windows:
        _windows_hardening_and_health(snap, hardening, drifts)
        result.last_patch = (snap.get("last_patch") or {}).get("windows_update")
        result.status = "drift" if drifts else "conformant"
        return result
    # hardening: the role's own variables are the expectation
    hard = snap.get("hardening") or {}
    if hardening.get("hardening_rule_sshd") and "openssh-server" in installed:
        effective = hard.get("sshd") or {}
        for key, value in hardening.get("hardening_sshd_settings", {}).items():
            want = SSHD_ALIASES.get(str(value).lower(), str(value).lower())
            got = str(effective.get(key.lower(), "")).lower()
            if got != want:
                drifts.append(Drift("hardening", f"sshd.{key}", f"sshd {key} is '{got}'", want, got))
    if hardening.get("hardening_rule_sysctl"):
        values = hard.get("sysctl") or {}
        for key, value in hardening.get("hardening_sysctl", {}).items():
            if str(values.get(key)) != str(value):
                drifts.append(Drift("hardening", f"sysctl.{key}", f"sysctl {key} not set to {value}", str(value),
                                    values.get(key)))  # fmt: skip
    if hardening.get("hardening_rule_root_password_locked") and hard.get("root_password") not in {"L", "LK"}:
        drifts.append(Drift("hardening", "root-password", "root password login is not locked", "L",
                            hard.get("root_password")))  # fmt: skip
    if hardening.get("hardening_rule_sudo") and "sudo" in installed and not hard.get("sudoers_present"):
        drifts.append(Drift("hardening", "sudo", "sudo hardening drop-in missing", True, False))
    if hardening.get("hardening_rule_unattended_upgrades") and not hard.get("unattended_upgrades"):
        drifts.append(Drift("hardening", "unattended-upgrades", "unattended security upgrades not configured", True,
                            False))  # fmt: skip
    # health
    ts = snap.get("timesync") or {}
    if ts.get("timesyncd_enabled") != "enabled":
        drifts.append(Drift("health", "time-sync", "systemd-timesyncd is not enabled", "enabled",
                            ts.get("timesyncd_enabled")))  # fmt: skip
    _disk_and_updates(snap, drifts)
    result.status = "drift" if drifts else "conformant"
    return result


# --- run --------------------------------------------------------------------------------------
def collect(region: Path, hosts: list[str], raw_dir: Path, *, forks: int = 50) -> None:
    """Run playbooks/conformity.yml on ``hosts``; the callback writes one JSON per host."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    limit = raw_dir.parent / "limit.txt"
    limit.write_text("\n".join(hosts) + "\n")
    log = raw_dir.parent / "ansible.log"
    with Console(stderr=True).status(f"collecting {len(hosts)} host(s) (log: {log})"):
        proc.playbook(ROOT / "playbooks" / "conformity.yml", region, results=raw_dir, log=log, forks=forks,
                      args=["--limit", f"@{limit}"], quiet=bool(os.environ.get("CI")))  # fmt: skip


def run(
    *,
    region: Path | None = None,
    etab: str | None = None,
    salle: str | None = None,
    report: Path | None = None,
    db: Path | None = None,
    today: dt.date | None = None,
) -> dict[str, Any]:
    region = region or inventory.DEFAULT_REGION
    today = today or dt.date.today()
    started = time.monotonic()
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    chosen = targets(region, etab, salle)
    report = report or ROOT / "reports" / "conformity" / when.replace(":", "")
    raw_dir = report / "raw"
    collect(region, [t.host for t in chosen], raw_dir)
    year = masters.resolve_year(None, today)
    cat = catalogue.load_catalogue()
    manifests: dict[str, dict[str, Any] | None] = {}
    hardening = {False: hardening_expectations(), True: hardening_expectations(windows=True)}
    results = []
    expected_cache: dict[tuple[str, tuple[str, ...]], dict[str, str]] = {}
    for t in chosen:
        if t.profile not in manifests:
            manifests[t.profile] = reference_manifest(t.profile, year)
        manifest = manifests[t.profile]
        key = (t.profile, tuple(sorted(t.disciplines)))
        if key not in expected_cache:
            expected_cache[key] = _expected_software(cat, year, t, manifest)
        path = raw_dir / f"{t.host}.json"
        raw = json.loads(path.read_text()) if path.exists() else None
        results.append(
            evaluate(
                t,
                raw,
                manifest=manifest,
                expected_software=expected_cache[key],
                hardening=hardening[t.profile in WINDOWS_PROFILES],
                today=today,
            )
        )
    summary = summarize(results, when=when, target=etab or "all", duration=time.monotonic() - started)
    from socle import reports

    history = record(db or default_db(), summary, results)
    reports.write(report, summary, results, history)
    return summary


def _expected_software(
    cat: catalogue.Catalogue, year: str, t: Target, manifest: dict[str, Any] | None
) -> dict[str, str]:
    """Debian package -> card id the room's disciplines need, restricted to what the master selects."""
    spec = (manifest or {}).get("spec", {})
    if t.profile in WINDOWS_PROFILES:  # display name (Uninstall keys) -> card id
        out = {}
        for sid in sorted(catalogue.select_software(cat, year=year, disciplines=t.disciplines)):
            win = ((cat.card(sid) or {}).get("platforms") or {}).get("windows") or {}
            if win and win.get("source") != "none":
                out[win["detect"]["display_name"]] = sid
        return out
    if t.kind == "serveur" or (manifest and "catalogue_software" not in {r.get("name") for r in spec.get("roles", [])}):
        return {}  # a master without the catalogue (serveurs) carries no teaching software
    spec_sel = spec.get("catalogue", {})
    chosen = catalogue.select_software(
        cat, year=year, disciplines=t.disciplines, software=spec_sel.get("software") or None
    )
    out = {}
    for sid in sorted(chosen):
        lin = ((cat.card(sid) or {}).get("platforms") or {}).get("linux") or {}
        for pkg in (lin.get("apt") or {}).get("packages") or []:
            out[pkg] = sid
    return out


def _installed_name(installed: dict[str, str], key: str, windows: bool) -> str | None:
    """Debian packages match exactly; Windows display names by prefix ("GeoGebra Classic 6.0.8…")."""
    if key in installed:
        return key
    if windows:
        low = key.lower()
        return next((n for n in sorted(installed) if n.lower().startswith(low)), None)
    return None


def _disk_and_updates(snap: dict[str, Any], drifts: list[Drift]) -> None:
    """Health checks both platforms share: free disk, pending security updates."""
    disk = snap.get("disk") or {}
    if disk.get("total_mb") and 100 * disk["free_mb"] / disk["total_mb"] < MIN_FREE_DISK_PERCENT:
        drifts.append(Drift("health", "disk", f"less than {MIN_FREE_DISK_PERCENT}% free disk",
                            f">= {MIN_FREE_DISK_PERCENT}%", f"{disk['free_mb']} MB"))  # fmt: skip
    updates = snap.get("updates") or {}
    if updates.get("known") and updates.get("security"):
        drifts.append(Drift("health", "security-updates", f"{len(updates['security'])} security update(s) pending", 0,
                            len(updates["security"])))  # fmt: skip


def _windows_hardening_and_health(snap: dict[str, Any], rules: dict[str, Any], drifts: list[Drift]) -> None:
    """win_hardening's variables are the expectation; the collector reports effective values."""
    hard = snap.get("hardening") or {}

    def check(rule: str, check_id: str, message: str, want: Any, got: Any) -> None:
        if rules.get(rule) and got != want:
            drifts.append(Drift("hardening", check_id, message, want, got))

    check("win_hardening_rule_smb1_disabled", "smb1", "SMBv1 server is enabled", False, hard.get("smb1_enabled"))
    check("win_hardening_rule_llmnr_disabled", "llmnr", "LLMNR is not disabled", 0, hard.get("llmnr_enable_multicast"))
    check("win_hardening_rule_autorun_disabled", "autorun", "AutoRun is not disabled on every drive", 255,
          hard.get("autorun_no_drive_type"))  # fmt: skip
    for key, want in (("EnableLUA", 1), ("ConsentPromptBehaviorAdmin", 2), ("PromptOnSecureDesktop", 1)):
        check(
            "win_hardening_rule_uac", f"uac.{key}", f"UAC {key} is not {want}", want, (hard.get("uac") or {}).get(key)
        )
    for fw_profile in ("Domain", "Private", "Public"):
        check("win_hardening_rule_firewall", f"firewall.{fw_profile}", f"firewall {fw_profile} profile is off", True,
              (hard.get("firewall") or {}).get(fw_profile))  # fmt: skip
    check("win_hardening_rule_defender_realtime", "defender", "Defender real-time protection is off", True,
          hard.get("defender_realtime"))  # fmt: skip
    if rules.get("win_hardening_rule_deny_network_logon_local_accounts"):
        want = sorted(PRINCIPAL_SIDS.get(p, p) for p in rules.get("win_hardening_deny_network_logon_principals", []))
        got = sorted(hard.get("deny_network_logon") or [])
        if not set(want) <= set(got):
            drifts.append(Drift("hardening", "deny-network-logon", "local accounts may log on over the network",
                                want, got))  # fmt: skip
    if (snap.get("timesync") or {}).get("w32time") != "Running":
        drifts.append(Drift("health", "time-sync", "the Windows Time service is not running", "Running",
                            (snap.get("timesync") or {}).get("w32time")))  # fmt: skip
    _disk_and_updates(snap, drifts)


LATENCY_WINDOW_DAYS = 90


def _utc(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def patch_latency(history: list[dict[str, Any]], today: dt.date) -> float | None:
    """Median hours between a security update's availability and its installation, recent ones only."""
    since = dt.datetime.combine(today - dt.timedelta(days=LATENCY_WINDOW_DAYS), dt.time(), dt.UTC)
    hours = []
    for entry in history:
        try:
            available, installed = _utc(entry["available_since"]), _utc(entry["installed_at"])
        except (KeyError, TypeError, ValueError):
            continue  # availability unknown: no latency to count
        if installed >= since:
            hours.append(max(0.0, (installed - available).total_seconds() / 3600))
    return round(statistics.median(hours), 1) if hours else None


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
        total = sum(c.values())
        return round(100 * c["conformant"] / total, 1) if total else 0.0

    return {
        "when": when,
        "target": target,
        "hosts": len(results),
        "statuses": dict(statuses),
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


# --- history ----------------------------------------------------------------------------------
def default_db() -> str:
    """SQLAlchemy URL of the history: SQLite by default; PostgreSQL with SOCLE_CONFORMITY_DB=postgresql+psycopg://…"""
    value = os.environ.get("SOCLE_CONFORMITY_DB", str(ROOT / ".cache" / "conformity" / "history.sqlite"))
    return value if "://" in value else f"sqlite:///{value}"


_META = sa.MetaData()
RUNS = sa.Table(
    "runs", _META,
    sa.Column("id", sa.Integer, primary_key=True), sa.Column("at", sa.String(32)), sa.Column("target", sa.String(64)),
    sa.Column("hosts", sa.Integer), sa.Column("conformant", sa.Integer), sa.Column("percent", sa.Float),
    sa.Column("duration_s", sa.Float),
)  # fmt: skip
HOST_RESULTS = sa.Table(
    "host_results", _META,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), index=True), sa.Column("host", sa.String(64), index=True),
    sa.Column("uai", sa.String(8)), sa.Column("salle", sa.String(32)), sa.Column("status", sa.String(16)),
    sa.Column("drifts", sa.Integer),
)  # fmt: skip


def record(db: str | Path, summary: dict[str, Any], results: list[HostResult]) -> dict[str, Any]:
    """Append this run; return the trend (past runs) and time since each host was last conformant."""
    url = str(db) if "://" in str(db) else f"sqlite:///{db}"
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = sa.create_engine(url)
    except (ImportError, sa.exc.ArgumentError) as exc:
        raise SocleError(
            f"cannot use the conformity history database '{url}': {exc}",
            hint="SOCLE_CONFORMITY_DB takes a SQLite path or an SQLAlchemy URL; PostgreSQL needs `pip install psycopg`",
        ) from None
    try:
        _META.create_all(engine)
        with engine.begin() as con:
            run_id = con.execute(
                RUNS.insert().values(
                    at=summary["when"], target=summary["target"], hosts=summary["hosts"],
                    conformant=summary["statuses"].get("conformant", 0), percent=summary["conformity_percent"],
                    duration_s=summary["duration_s"],
                )
            ).inserted_primary_key[0]  # fmt: skip
            if results:
                con.execute(
                    HOST_RESULTS.insert(),
                    [{"run_id": run_id, "host": r.host, "uai": r.uai, "salle": r.salle, "status": r.status,
                      "drifts": len(r.drifts)} for r in results],
                )  # fmt: skip
            trend = con.execute(
                sa.select(RUNS.c.at, RUNS.c.percent, RUNS.c.hosts)
                .where(RUNS.c.target == summary["target"]).order_by(RUNS.c.id.desc()).limit(30)
            ).all()  # fmt: skip
            last_ok = dict(
                con.execute(
                    sa.select(HOST_RESULTS.c.host, sa.func.max(RUNS.c.at))
                    .join(RUNS, RUNS.c.id == HOST_RESULTS.c.run_id)
                    .where(HOST_RESULTS.c.status == "conformant").group_by(HOST_RESULTS.c.host)
                ).all()
            )  # fmt: skip
    except sa.exc.SQLAlchemyError as exc:
        raise SocleError(
            f"conformity history database error: {exc.__class__.__name__}: {getattr(exc, 'orig', None) or exc}",
            hint="check SOCLE_CONFORMITY_DB (an SQLAlchemy URL or a SQLite file path)",
        ) from None
    finally:
        engine.dispose()
    return {
        "trend": [{"at": a, "percent": p, "hosts": h} for a, p, h in reversed(trend)],
        "last_conformant": {r.host: last_ok.get(r.host) for r in results},
    }


# --- pull mode: aggregate the reports the lycée serveurs upload ------------------------------------
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
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    summary = summarize(results, when=when, target="region", duration=time.monotonic() - started)
    summary["sources"] = [p.name for p in folders]
    from socle import reports

    reports.write(report, summary, results, record(db or default_db(), summary, results))
    return summary
