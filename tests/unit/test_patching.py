import datetime as dt
import json

import pytest

from socle.core.clock import PARIS
from socle.core.errors import SocleError
from socle.operations import maintenance, patching


def test_plan_in_class_hours_gives_the_next_window():
    p = patching.plan(wave="pilot", moment=dt.datetime(2026, 11, 23, 10, 0))
    schools, gates, cfg = p.schools, p.gates, p.settings
    assert {s.uai for s in schools} == {"0671000Y", "0681001U"}
    evening = dt.datetime(2026, 11, 23, 18, 0, tzinfo=PARIS)
    assert all(not s.decision.allowed and s.next_window == evening for s in schools)
    assert cfg["max_fail_percentage"] == 5
    assert maintenance.load_calendar("2026-2027")  # shipped: no warning about a missing calendar
    assert not any("no holiday calendar" in g for g in gates)


def test_now_forces_and_says_so():
    schools = patching.plan(etab="0671000Y", moment=dt.datetime(2026, 11, 23, 10, 0), now=True).schools
    assert schools[0].decision.allowed and schools[0].decision.forced


def test_later_waves_wait_for_the_previous_one():
    p = patching.plan(wave="1", moment=dt.datetime(2026, 11, 23, 20, 0))
    assert any("wave pilot" in g for g in p.gates)


def test_unknown_wave():
    with pytest.raises(SocleError, match="unknown wave '4'"):
        patching.plan(wave="4", moment=dt.datetime(2026, 11, 23, 20, 0))


def test_applying_in_class_hours_is_refused_with_the_next_window(tmp_path):
    p = patching.plan(wave="pilot", moment=dt.datetime(2026, 11, 23, 10, 0))
    with pytest.raises(SocleError, match="inside its maintenance window") as err:
        patching.apply(p, scope="wave pilot", report=tmp_path / "run")
    assert "Monday 23/11/2026 18:00" in str(err.value) and "--now" in str(err.value)
    assert not (tmp_path / "run").exists()  # nothing half-written


def test_a_closed_gate_refuses_to_apply(tmp_path):
    p = patching.plan(wave="1", moment=dt.datetime(2026, 11, 23, 20, 0))
    p.blocked = True
    with pytest.raises(SocleError, match="gate is closed"):
        patching.apply(p, scope="wave 1", report=tmp_path / "run")


def test_outcomes_tell_patched_current_failed_and_not_started():
    record = {"updates": [{"package": "socle-sonde", "from": "1.0", "to": "1.1"}], "installed": True}
    assert patching._outcome("a", "X", "serveur", {"status": "ok", "record": record}, True, False).status == "patched"
    current = patching._outcome("a", "X", "serveur", {"status": "ok", "record": {"updates": []}}, False, False)
    assert current.status == "current" and current.detail == "no pending security update"
    failed = {"status": "failed", "reason": "health check failed", "record": {**record, "reboot_required": True}}
    out = patching._outcome("b", "X", "serveur", failed, True, True)
    assert out.status == "failed" and out.reboot == "reboot waits for the next window"
    assert patching._outcome("c", "X", "serveur", None, True, False).status == "not started"
    assert patching._outcome("c", "X", "serveur", None, False, False).status == "unreachable"


def test_check_lists_the_updates_each_target_takes(tmp_path, monkeypatch):
    monkeypatch.setenv("SOCLE_DIST", str(tmp_path / "empty-dist"))
    report = tmp_path / "conformity" / "20261124T2300Z"
    (report / "raw").mkdir(parents=True)
    (report / "summary.json").write_text("{}")
    snapshot = {"status": "collected", "snapshot": {"updates": {"known": True, "security": ["libssl3t64", "openssl"]}}}
    (report / "raw" / "srv-0681001u.json").write_text(json.dumps(snapshot))
    p = patching.plan(etab="0681001U", moment=dt.datetime(2026, 11, 23, 20, 0))
    rows = {(target, kind): what for target, kind, what in patching.pending_updates(p, tmp_path / "conformity")}
    assert rows[("srv-0681001u", "serveur")].startswith("2 security update(s) pending") and "openssl" in rows[
        ("srv-0681001u", "serveur")]  # fmt: skip
    linux = [what for (target, kind), what in rows.items() if kind == "poste-linux"]
    assert linux and all("no published poste-linux master" in w for w in linux)


def test_check_survives_a_truncated_or_odd_result(tmp_path, monkeypatch):
    """A serveur's result cut in the middle (disk full, killed run) or of the wrong shape: its updates
    are "not known", the plan is still shown."""
    monkeypatch.setenv("SOCLE_DIST", str(tmp_path / "empty-dist"))
    report = tmp_path / "conformity" / "20261124T2300Z"
    (report / "raw").mkdir(parents=True)
    (report / "summary.json").write_text('{"when": "2026-11-24T23:00:00Z", "per_et')
    p = patching.plan(etab="0681001U", moment=dt.datetime(2026, 11, 23, 20, 0))
    for content in ('{"status": "collected", "snapshot": {"upda', '{"snapshot": ["x"]}',
                    '{"snapshot": {"updates": {"security": "openssl"}}}'):  # fmt: skip
        (report / "raw" / "srv-0681001u.json").write_text(content)
        rows = {(t, k): w for t, k, w in patching.pending_updates(p, tmp_path / "conformity")}
        assert rows[("srv-0681001u", "serveur")].startswith("its pending security updates (not known")
