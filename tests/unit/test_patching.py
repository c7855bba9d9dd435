import datetime as dt

import pytest

from socle import maintenance, patching
from socle.errors import SocleError


def test_plan_in_class_hours_gives_the_next_window():
    schools, gates, cfg = patching.plan(wave="pilot", moment=dt.datetime(2026, 11, 23, 10, 0))
    assert {s.uai for s in schools} == {"0671000Y", "0681001U"}
    assert all(not s.decision.allowed and s.next_window == dt.datetime(2026, 11, 23, 18, 0) for s in schools)
    assert cfg["max_fail_percentage"] == 5
    if not maintenance.load_calendar("2026-2027"):
        assert any("no holiday calendar for 2026-2027" in g for g in gates)


def test_now_forces_and_says_so():
    schools, _, _ = patching.plan(etab="0671000Y", moment=dt.datetime(2026, 11, 23, 10, 0), now=True)
    assert schools[0].decision.allowed and schools[0].decision.forced


def test_later_waves_wait_for_the_previous_one():
    _, gates, _ = patching.plan(wave="1", moment=dt.datetime(2026, 11, 23, 20, 0))
    assert any("wave pilot" in g for g in gates)


def test_unknown_wave():
    with pytest.raises(SocleError, match="unknown wave '4'"):
        patching.plan(wave="4", moment=dt.datetime(2026, 11, 23, 20, 0))
