"""The school year as the unit of operation: `year.new`, and which year's masters each wave runs (fixed days)."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest

from socle.conformity import expected
from socle.conformity.model import Target
from socle.core.errors import SocleError
from socle.operations import reimage, schoolyear
from socle.registry import rollout, specs, store


@pytest.fixture
def masters(tmp_path, monkeypatch):
    """A copy of the project's masters/ (locks left out), used as the specs folder."""
    folder = tmp_path / "masters"
    shutil.copytree(specs.MASTERS_DIR, folder, ignore=shutil.ignore_patterns("*.lock"))
    monkeypatch.setattr(specs, "MASTERS_DIR", folder)
    return folder


def test_year_new_makes_next_year_from_this_one(masters):
    made = schoolyear.create("2027-2028")
    assert made.source == "2026-2027" and made.folder == masters / "2027-2028"
    assert set(made.files) == {p.name for p in (masters / "2026-2027").glob("*.y*ml")}
    assert not list(masters.glob(".*.partial")) and not list(made.folder.glob("*.lock"))
    for profile in specs.available_profiles("2027-2028"):
        spec = specs.load_spec(profile, "2027-2028")
        assert spec.version == "2027-2028.0" and spec.year == "2027-2028"
    plan = rollout.load_rollout("2027-2028")
    assert plan.starts["pilot"] == dt.date(2027, 6, 8) and plan.starts["3"] == dt.date(2027, 8, 28)
    assert "2026-2027" not in (made.folder / "rollout.yml").read_text()  # comments say the new year too
    # the discipline tables are their owners' decision: listed, never edited
    assert "thonny" in made.to_decide["nsi-snt"] and not made.carried
    with pytest.raises(SocleError, match="exists already"):
        schoolyear.create("2027-2028")


def test_year_new_leaves_nothing_when_the_result_does_not_check(masters):
    spec = masters / "2026-2027" / "ci.yaml"
    spec.write_text(spec.read_text().replace("  - name: base\n", "  - name: no_such_role\n", 1))
    with pytest.raises(SocleError, match="role 'no_such_role' does not exist") as err:
        schoolyear.create("2027-2028")
    assert str(err.value.where).startswith(f"{masters}/2026-2027/ci.yaml")
    assert not (masters / "2027-2028").exists() and not list(masters.glob(".*"))
    with pytest.raises(SocleError, match="is not a school year"):
        schoolyear.create("2027-2029")
    with pytest.raises(SocleError, match="no masters for 2030-2031 to start 2031-2032 from"):
        schoolyear.create("2031-2032")


@pytest.mark.parametrize(
    ("wave", "day", "year"),
    [
        ("pilot", "2027-06-07", "2026-2027"),  # the day before the pilots move
        ("pilot", "2027-06-08", "2027-2028"),  # pilot schools run next year's masters from June
        ("2", "2027-06-08", "2026-2027"),  # the other waves keep this year's over the summer…
        ("2", "2027-08-26", "2027-2028"),  # … until their own day, before the rentrée
        ("3", "2027-08-27", "2026-2027"),
        ("1", "2026-11-30", "2026-2027"),
    ],
)
def test_each_wave_runs_the_year_its_rollout_assigns(masters, wave, day, year):
    schoolyear.create("2027-2028")
    assert rollout.assigned_year(wave, dt.date.fromisoformat(day)) == year
    target = Target("p01", "0671000Y", "Lycée", "S101", "ci", [], wave=wave)
    assert expected.reference_year(target, dt.date.fromisoformat(day)) == year
    assert expected.reference_year(target, dt.date.fromisoformat(day), "2027-2028") == "2027-2028"  # --year


def test_a_wave_before_any_rollout_day_has_no_masters(masters):
    with pytest.raises(SocleError, match="no school year's masters are assigned to wave pilot on 2026-06-01"):
        rollout.assigned_year("pilot", dt.date(2026, 6, 1))


def test_a_rollout_without_a_day_for_a_wave_is_refused_where_it_is(masters):
    path = masters / "2026-2027" / "rollout.yml"
    good = path.read_text()
    path.write_text(good.replace('  "3": "2026-08-28"\n', ""))
    with pytest.raises(SocleError, match=r"one day per wave of order \(missing: 3") as err:
        rollout.load_rollout("2026-2027")
    assert "rollout.yml:" in str(err.value.where)
    path.write_text(good.replace('"2026-08-26"', '"2027-01-15"'))
    with pytest.raises(SocleError, match="not between January and the rentrée of 2026"):
        rollout.load_rollout("2026-2027")


def test_a_salle_receives_the_master_of_its_wave_year(masters, tmp_path, monkeypatch):
    """A pilot school in June 2027 reimages to next year's master; a wave-2 school to this year's;
    --year and a version naming its year choose explicitly."""
    monkeypatch.setenv("SOCLE_DIST", str(tmp_path / "dist"))
    schoolyear.create("2027-2028")
    for version in ("2026-2027.0", "2026-2027.1", "2027-2028.0"):
        folder = store.master_dir(version[:9], "ci", version)
        folder.mkdir(parents=True)
        (folder / "manifest.json").write_text(json.dumps({"version": version, "school_year": version[:9]}))
        for name in store.SIGNED_FILES:
            (folder / name).write_text("x")
    june = dt.date(2027, 6, 15)

    def room(wave):
        return reimage.Salle("0671000Y", "Lycée", "S101", "ci", ["p01"], "srv", "srv", {}, {}, wave)

    assert reimage.master_source(room("pilot"), today=june)[0]["version"] == "2027-2028.0"
    assert reimage.master_source(room("2"), today=june)[0]["version"] == "2026-2027.1"
    assert reimage.master_source(room("2"), "2027-2028", today=june)[0]["version"] == "2027-2028.0"
    assert reimage.master_source(room("pilot"), version="2026-2027.0", today=june)[0]["version"] == "2026-2027.0"


def test_serveurs_stage_next_year_ahead_of_their_wave(masters):
    schoolyear.create("2027-2028")
    now = [{"year": "2026-2027", "profile": "ci"}, {"year": "2026-2027", "profile": "serveur"}]
    assert rollout.to_stage("2", ["serveur", "ci", "ci"], dt.date(2027, 3, 1)) == now
    ahead = [*now, {"year": "2027-2028", "profile": "ci"}, {"year": "2027-2028", "profile": "serveur"}]
    assert rollout.to_stage("2", ["serveur", "ci"], dt.date(2027, 7, 20)) == ahead  # 37 days before its day
    assert rollout.to_stage("pilot", ["ci"], dt.date(2027, 6, 20)) == [{"year": "2027-2028", "profile": "ci"}]
