"""Conformity evaluation on a recorded snapshot (socle_facts output from a real ci master container)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest
import yaml

from socle.catalogue import model as catmodel
from socle.conformity import evaluate as ev
from socle.conformity import expected, history, nightly
from socle.conformity import model as cmodel
from socle.core import errors
from socle.core.paths import ROOT

RAW = json.loads((Path(__file__).parent.parent / "data" / "snapshot-ci-clean.json").read_text())
TARGET = cmodel.Target("0671000y-s101-03", "0671000Y", "Lycée (fictif)", "S101", "ci", ["nsi-snt"])
MANIFEST = {
    "version": "2026-2027.0",
    "packages": {n: {"version": v} for n, v in RAW["snapshot"]["packages"].items()},
    "spec": {"catalogue": {"software": ["sqlite3"]}},
}
EXPECTED = {"sqlite3": "sqlite3"}


def evaluate(raw, manifest=MANIFEST, target=TARGET):
    return ev.evaluate(
        target,
        raw,
        manifest=manifest,
        expected_software=EXPECTED,
        hardening=expected.hardening_expectations(),
        today=dt.date(2026, 11, 24),
    )


def changed(fn) -> dict:
    raw = copy.deepcopy(RAW)
    fn(raw["snapshot"])
    return raw


def checks(result) -> set[str]:
    return {f"{d.category}:{d.check}" for d in result.drifts}


def test_recorded_clean_host_is_conformant():
    result = evaluate(RAW)
    assert result.status == "conformant", result.drifts


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        (lambda s: s["packages"].pop("sqlite3"), {"catalogue:missing"}),
        (lambda s: s["packages"].update({"jeu": "1.0"}), {"unknown-software:outside-master"}),
        (lambda s: s["packages"].update({"sqlite3": "0.1"}), {"catalogue:version"}),
        (lambda s: s["packages"].pop("cron"), {"master:package-missing"}),
        (lambda s: s["master"].update(version="2025-2026.3"), {"master:version"}),
        (lambda s: s["master"].update(profile="poste-linux"), {"master:profile"}),
        (lambda s: s["hardening"]["sshd"].update(permitrootlogin="yes"), {"hardening:R63 | sshd.PermitRootLogin"}),
        (
            lambda s: s["hardening"]["sysctl"].pop("kernel.kptr_restrict"),
            {"hardening:R9 | sysctl.kernel.kptr_restrict"},
        ),
        (lambda s: s["hardening"].update(root_password="P"), {"hardening:R33 | root-password"}),
        (lambda s: s["hardening"].update(sudoers_present=False), {"hardening:R39 | sudo"}),
        # apt upgrading by itself bypasses the patch waves (postes: patch releases; serveurs: the wave)
        (lambda s: s["hardening"].update(unattended_upgrades="on"), {"hardening:R61 | unattended-upgrades"}),
        (lambda s: s["timesync"].update(timesyncd_enabled="disabled"), {"health:time-sync"}),
        (lambda s: s["disk"].update(free_mb=100), {"health:disk"}),
        (lambda s: s["updates"].update(known=True, security=["openssl"]), {"health:security-updates"}),
    ],
)
def test_each_drift_is_detected_alone(mutation, expected):
    result = evaluate(changed(mutation))
    assert result.status == "drift"
    assert checks(result) == expected


def test_no_answer_is_not_seen_and_a_failure_keeps_its_reason():
    assert evaluate(None).status == "not seen"
    assert evaluate({"status": "unreachable", "reason": "no route"}).status == "not seen"
    failed = evaluate({"status": "failed", "reason": "python3 missing"})
    assert failed.status == "failed" and failed.reason == "python3 missing"


def test_missing_reference_master_is_reported():
    assert "master:reference" in checks(evaluate(RAW, manifest=None))


def test_summary_rates_per_school_and_room():
    results = [evaluate(RAW), evaluate(changed(lambda s: s["disk"].update(free_mb=1))), evaluate(None)]
    summary = cmodel.summarize(results, when="2026-11-24T02:00:00Z", target="0671000Y", duration=1.0)
    # a poste switched off is neither conformant nor drift: 1 conformant of 2 seen
    assert summary["conformity_percent"] == 50.0 and summary["seen"] == 2 and summary["statuses"]["not seen"] == 1
    assert summary["per_salle"]["0671000Y/S101"]["drift"] == 1
    assert summary["top_drifts"] == [("health: disk", 1)]


def test_history_records_runs_and_last_conformant(tmp_path):
    results = [evaluate(RAW)]
    summary = cmodel.summarize(results, when="2026-11-23T02:00:00Z", target="x", duration=1.0)
    history.record(tmp_path / "h.sqlite", summary, results)
    bad = [evaluate(changed(lambda s: s["disk"].update(free_mb=1)))]
    summary2 = cmodel.summarize(bad, when="2026-11-24T02:00:00Z", target="x", duration=1.0)
    recorded = history.record(tmp_path / "h.sqlite", summary2, bad)
    assert [t["percent"] for t in recorded["trend"]] == [100.0, 0.0]
    assert recorded["last_conformant"]["0671000y-s101-03"] == "2026-11-23T02:00:00Z"


def _result(t, status):
    drifts = [cmodel.Drift("health", "disk", "disk almost full")] if status == "drift" else []
    return cmodel.HostResult(t.host, t.uai, t.salle, t.profile, status, drifts)


def _night(db, uai, rows, *, hours_ago=0.0):
    """One lycée serveur's run (what its nightly unit writes), recorded ``hours_ago``."""
    summary = cmodel.summarize(rows, when="2026-11-30T02:00:00Z", target=uai, duration=1.0)
    history.record(db, summary, rows)
    if hours_ago:
        import sqlalchemy as sa

        with history.transaction(db, history.RUNS.metadata) as con:
            newest = con.execute(sa.select(sa.func.max(history.RUNS.c.id))).scalar()
            when = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago)
            con.execute(history.RUNS.update().where(history.RUNS.c.id == newest).values(recorded=when))


def test_the_region_report_reads_the_results_database_and_flags_silent_schools(tmp_path):
    db = tmp_path / "h.sqlite"
    mine = expected.targets(ROOT / "inventories" / "grand-est", "0671000Y", None)[:3]
    ok, drift, off = (_result(t, status) for t, status in zip(mine, ("conformant", "drift", "not seen"), strict=True))
    hostile = [
        cmodel.HostResult("../../etc/cron.d/x", "0671000Y", "S101", "ci", "conformant"),
        cmodel.HostResult("<script>alert(1)</script>", "0671000Y", "S101", "ci", "conformant"),
        cmodel.HostResult("0671000y-s101-99", "0671000Y", "S101", "ci", "conformant"),  # not in the inventory
        cmodel.HostResult(mine[0].host.replace("01", "02"), "0671000Y", "S101", "ci", "owned"),  # no such status
    ]
    _night(db, "0671000Y", [ok, drift, off, *hostile])
    old = expected.targets(ROOT / "inventories" / "grand-est", "0681001U", None)[:1]
    _night(db, "0681001U", [_result(old[0], "conformant")], hours_ago=40)
    summary = nightly.region_report(report=tmp_path / "region", db=db)
    assert summary["per_etablissement"]["0671000Y"]["conformant"] == 1
    assert summary["per_etablissement"]["0671000Y"]["drift"] == 1
    assert summary["per_etablissement"]["0671000Y"]["percent"] == 50.0  # 1 of the 2 seen
    silent = {s["uai"]: s["last"] for s in summary["silent"]}
    assert set(silent) == {"0681001U", "0541002W", "0571003F"}
    assert silent["0541002W"] is None and silent["0681001U"].startswith("20")
    assert summary["ignored_rows"] == {"not in the inventory": 1, "unreadable": 3}
    # every host of the inventory is there; not one file outside hosts/, nothing unescaped
    assert summary["hosts"] == 4 * 121 and summary["seen"] == 2
    assert sorted(p.name for p in (tmp_path / "region").iterdir()) == ["etablissements", "hosts", "junit.xml",
                                                                      "report.html", "summary.json"]  # fmt: skip
    page = (tmp_path / "region" / "report.html").read_text()
    assert "<script>" not in page and "sans résultat depuis plus de 36 h" in page and "0541002W" in page
    # one page per établissement, linked from the Région's, each with its salles and postes
    schools = sorted(p.name for p in (tmp_path / "region" / "etablissements").iterdir())
    assert schools == ["0541002W.html", "0571003F.html", "0671000Y.html", "0681001U.html"]
    assert all(f'href="etablissements/{name}"' in page for name in schools)
    school = (tmp_path / "region" / "etablissements" / "0671000Y.html").read_text()
    assert 'id="salle-S101"' in school and mine[0].host in school and "écart" in school


def test_the_gate_reads_fresh_results_of_every_school_of_the_previous_wave(tmp_path):
    db = tmp_path / "h.sqlite"
    targets = {u: expected.targets(ROOT / "inventories" / "grand-est", u, None)[:2] for u in ("0671000Y", "0681001U")}
    _night(db, "0671000Y", [_result(t, "conformant") for t in targets["0671000Y"]])
    _night(db, "0681001U", [_result(targets["0681001U"][0], "conformant")], hours_ago=40)
    rates, missing = history.school_rates(["0671000Y", "0681001U", "0541002W"], db=db)
    assert rates == {"0671000Y": 100.0} and missing["0541002W"] is None and missing["0681001U"].startswith("20")
    from socle.operations import patching

    closed, why = patching.gate("pilot", "1", rates, missing, 95)
    assert closed and "0541002W (never)" in why and "0681001U (last 20" in why
    assert patching.gate("pilot", "1", {"0671000Y": 100.0, "0681001U": 90.0}, {}, 95) == (
        False, "gate open: wave pilot is 95.0 % conformant (needs ≥ 95 %)")  # fmt: skip
    assert patching.gate("pilot", "1", {"0671000Y": 100.0, "0681001U": 80.0}, {}, 95)[0]


def test_history_database_error_is_clear(tmp_path):
    summary = cmodel.summarize([], when="t", target="x", duration=0.0)
    with pytest.raises(errors.SocleError, match="history database error"):
        history.record(f"sqlite:///{tmp_path}", summary, [])  # a directory is not a database
    with pytest.raises(errors.SocleError, match="cannot use the history database"):
        history.record("nosuchdriver://host/db", summary, [])


# --- Windows ----------------------------------------------------------------------------------
# A document shaped as plugins/modules/win_socle_facts.ps1 returns it (written from the collector's
# code: there is no Windows host here to record one); evaluated by the same code as Linux.
WIN_RAW = json.loads((Path(__file__).parent.parent / "data" / "snapshot-windows-clean.json").read_text())
WIN_TARGET = cmodel.Target("0681001u-lang-01", "0681001U", "Lycée (fictif)", "LANG", "poste-windows",
                               ["langues-vivantes"])  # fmt: skip
WIN_EXPECTED = {"Mozilla Firefox ESR": "firefox-esr", "LibreOffice": "libreoffice"}
WIN_MANIFEST = {"version": "2026-2027.0",
                "packages": {n: {"version": v} for n, v in WIN_RAW["snapshot"]["packages"].items()}}  # fmt: skip


def win_evaluate(raw, software=WIN_EXPECTED):
    return ev.evaluate(WIN_TARGET, raw, manifest=WIN_MANIFEST, expected_software=software,
                               hardening=expected.hardening_expectations(windows=True),
                               today=dt.date(2026, 11, 24))  # fmt: skip


def test_windows_clean_poste_is_conformant_and_display_names_match_by_prefix():
    result = win_evaluate(WIN_RAW)
    assert result.status == "conformant", result.drifts
    assert result.last_patch == "2026-11-12"


def test_windows_drift_is_found_with_effective_values():
    raw = copy.deepcopy(WIN_RAW)
    snap = raw["snapshot"]
    snap["hardening"]["firewall"]["Public"] = False
    snap["hardening"]["smb1_enabled"] = True
    snap["packages"]["Jeu de course 3D"] = "1.0"
    del snap["packages"]["LibreOffice 24.8.3.2"]
    snap["updates"]["security"] = ["2026-11 Cumulative Update for Windows 11 Version 24H2 (KB5046617)"]
    checks = {f"{d.category}:{d.check}" for d in win_evaluate(raw).drifts}
    assert checks == {"hardening:firewall.Public", "hardening:smb1", "unknown-software:outside-master",
                      "catalogue:missing", "health:security-updates"}  # fmt: skip


def test_windows_network_logon_rule_is_checked_when_on():
    rules = {**expected.hardening_expectations(windows=True),
             "win_hardening_rule_deny_network_logon_local_accounts": True}  # fmt: skip
    raw = copy.deepcopy(WIN_RAW)
    raw["snapshot"]["hardening"]["deny_network_logon"] = ["S-1-5-32-546"]
    result = ev.evaluate(WIN_TARGET, raw, manifest=WIN_MANIFEST, expected_software=WIN_EXPECTED,
                                 hardening=rules, today=dt.date(2026, 11, 24))  # fmt: skip
    assert [d.check for d in result.drifts] == ["deny-network-logon"]


def test_windows_rooms_expect_the_display_names_of_their_cards():
    cat = catmodel.load_catalogue()
    wanted = expected.software(cat, "2026-2027", WIN_TARGET, None, windows=True)
    assert wanted.get("Mozilla Firefox ESR") == "firefox-esr"
    assert all(isinstance(k, str) and k for k in wanted)


def test_hardening_tasks_and_drift_ids_carry_the_control_declared_in_the_role():
    """`hardening_controls` is the one declaration: each task of a switch names and tags its control,
    and each drift of that switch starts with it."""
    rules = expected.hardening_expectations()
    controls = rules["hardening_controls"]
    tasks_dir = ROOT / "roles" / "hardening" / "tasks"
    named = [t for f in sorted(tasks_dir.glob("*.yml")) for t in yaml.safe_load(f.read_text()) if " | " in t["name"]]
    assert len(named) >= 10
    by_area = {"sshd": "sshd", "sudo": "sudo", "unattended_upgrades": "unattended_upgrades",
               "setuid_audit": "setuid", "root_password_locked": "root"}  # fmt: skip
    for switch, area in by_area.items():
        mine = [t for t in named if t["name"].split(" | ")[1] == area]
        assert mine and all(t["name"].startswith(f"{controls[switch]} | {area} | ") for t in mine), switch
    main = {
        t["name"].split(" | ")[1]: t for t in yaml.safe_load((tasks_dir / "main.yml").read_text()) if " | " in t["name"]
    }
    assert set(controls["sysctl"].values()) <= set(main["sysctl"]["tags"])
    assert controls["sudo"] in main["sudo"]["tags"] and controls["sshd"] in main["sshd"]["tags"]
    assert ev.control(rules, "sysctl", "sysctl.kernel.yama.ptrace_scope", "kernel.yama.ptrace_scope").startswith(
        "R11 |"
    )
    assert ev.control(rules, "sysctl", "sysctl.fs.suid_dumpable", "fs.suid_dumpable").startswith("R14 |")
    assert ev.control({}, "sudo", "sudo") == "sudo"
