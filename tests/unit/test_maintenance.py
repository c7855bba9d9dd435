"""Maintenance windows with fixed clocks: class hours, Wednesday afternoon, holidays by zone, --now."""

import datetime as dt

import pytest

from socle.core.clock import PARIS
from socle.core.errors import SocleError
from socle.operations import maintenance

CAL = maintenance.load_calendar("2025-2026")


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("moment", "zone", "allowed", "preferred"),
    [
        ("2025-11-17 10:00", "B", False, False),  # Monday morning, class
        ("2025-11-19 14:00", "B", True, False),  # Wednesday afternoon
        ("2025-11-19 10:00", "B", False, False),  # Wednesday morning, class
        ("2025-11-17 19:30", "B", True, False),  # Monday evening
        ("2025-11-22 10:00", "B", True, False),  # Saturday
        ("2025-10-21 10:00", "B", True, True),  # Toussaint, every zone
        ("2025-10-18 17:00", "A", True, False),  # last day before holidays: not yet (Saturday, outside class hours)
        ("2025-11-03 10:00", "C", False, False),  # classes resume the morning of the end date
        ("2026-02-10 10:00", "A", True, True),  # hiver zone A
        ("2026-02-10 10:00", "B", False, False),  # … but zone B is in class
        ("2026-02-24 10:00", "B", True, True),  # hiver zone B
        ("2026-03-03 10:00", "C", True, True),  # hiver zone C
        ("2026-07-20 10:00", "B", True, True),  # summer
    ],
)
def test_decisions(moment, zone, allowed, preferred):
    decision = maintenance.decide(at(moment), zone=zone, calendar=CAL)
    assert (decision.allowed, decision.preferred) == (allowed, preferred), decision.reason


def test_now_overrides_class_hours_and_is_recorded():
    decision = maintenance.decide(at("2025-11-17 10:00"), zone="B", calendar=CAL, now=True)
    assert decision.allowed and decision.forced and "--now" in decision.reason


def test_school_specific_class_hours():
    hours = {"forbidden": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat"], "from": "07:30", "to": "19:00"}]}
    assert not maintenance.decide(at("2025-11-22 10:00"), zone="B", class_hours=hours, calendar=CAL).allowed
    assert not maintenance.decide(at("2025-11-19 14:00"), zone="B", class_hours=hours, calendar=CAL).allowed


def test_next_window_from_monday_morning_is_the_evening():
    window = maintenance.next_window(at("2025-11-17 09:07"), zone="B", calendar=CAL)
    assert window == at("2025-11-17 18:00+01:00") and window.tzinfo is PARIS


@pytest.mark.parametrize(
    ("utc", "allowed"),
    [
        ("2025-11-17T07:30:00+00:00", False),  # 08:30 in Paris (winter, UTC+1): class
        ("2025-11-17T17:30:00+00:00", True),  # 18:30 in Paris
        ("2026-06-15T06:30:00+00:00", False),  # 08:30 in Paris (summer time, UTC+2): class
        ("2026-06-15T16:30:00+00:00", True),  # 18:30 in Paris
        ("2026-06-15T15:30:00+00:00", False),  # 17:30 in Paris: a naive UTC clock would have said 15:30… and open
    ],
)
def test_windows_are_judged_in_paris_whatever_the_controller_zone(utc, allowed, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    decision = maintenance.decide(dt.datetime.fromisoformat(utc), zone="B", calendar=CAL)
    assert decision.allowed == allowed, decision.reason


def test_the_next_window_of_a_utc_controller_is_paris_evening():
    window = maintenance.next_window(at("2026-06-15T07:00:00+00:00"), zone="B", calendar=CAL)
    assert window.astimezone(dt.UTC) == at("2026-06-15T16:00:00+00:00")  # 18:00 in Paris, summer time


def test_next_window_refuses_an_impossible_schedule():
    always = {"forbidden": [{"days": list(maintenance.DAYS), "from": "00:00", "to": "23:59"}]}
    with pytest.raises(SocleError, match="no maintenance window"):
        maintenance.next_window(at("2025-11-17 09:00"), zone="B", class_hours=always, calendar=[], horizon_days=2)


def test_unknown_year_has_no_holidays_but_still_protects_class_hours():
    assert maintenance.load_calendar("2031-2032") == []
    assert not maintenance.decide(at("2031-10-20 10:00"), zone="B").allowed


def test_import_of_the_ministry_dataset(tmp_path):
    # the columns of the "fr-en-calendrier-scolaire" CSV export; rows written for this test
    csv_path = tmp_path / "fr-en-calendrier-scolaire.csv"
    csv_path.write_text(
        "Description;Population;Date de début;Date de fin;Académies;Zones;annee_scolaire\n"
        "Vacances de la Toussaint;-;2025-10-17T22:00:00+00:00;2025-11-02T23:00:00+00:00;Strasbourg;Zone B;2025-2026\n"
        "Vacances de la Toussaint;-;2025-10-17T22:00:00+00:00;2025-11-02T23:00:00+00:00;Lyon;Zone A;2025-2026\n"
        "Pont de l'Ascension;Enseignants;2026-05-13;2026-05-18;Lyon;Zone A;2025-2026\n"
        "Vacances de Noël;-;2025-12-19;2026-01-05;Ajaccio;Corse;2025-2026\n"
    )
    [path] = maintenance.import_dataset(csv_path, tmp_path / "out")
    periods = maintenance.load_calendar("2025-2026", tmp_path / "out")
    assert path.name == "2025-2026.yaml"
    assert [(p.description, sorted(p.zones)) for p in periods] == [("Vacances de la Toussaint", ["A", "B"])]
    # the offsets are read: midnight in Paris written in UTC is the next day, not the day before
    assert (periods[0].start, periods[0].end) == (dt.date(2025, 10, 18), dt.date(2025, 11, 3))


def test_the_2026_2027_calendar_is_shipped():
    """The ministry's dates for 2026-2027 (arrêté of October 2025): zone C leaves first in winter and spring."""
    cal = maintenance.load_calendar("2026-2027")
    starts = {(p.description, z): p.start for p in cal for z in p.zones}
    assert starts[("Vacances de la Toussaint", "B")] == dt.date(2026, 10, 17)
    assert starts[("Vacances d'hiver", "C")] < starts[("Vacances d'hiver", "A")] < starts[("Vacances d'hiver", "B")]
    assert {z for p in cal for z in p.zones} == {"A", "B", "C"}
    assert maintenance.decide(at("2027-02-24 10:00"), zone="B", calendar=cal).preferred  # hiver zone B
    assert not maintenance.decide(at("2027-02-24 10:00"), zone="C", calendar=cal).allowed  # zone C is back


def test_import_refuses_another_file(tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_text("a;b\n1;2\n")
    with pytest.raises(SocleError, match="not a calendar export"):
        maintenance.import_dataset(bad, tmp_path)
