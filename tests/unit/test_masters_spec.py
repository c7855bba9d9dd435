import datetime as dt
from pathlib import Path

import pytest

from socle.build.linux import configure
from socle.core import clock
from socle.core.errors import SocleError
from socle.registry import specs


@pytest.mark.parametrize(
    ("day", "year"),
    [(dt.date(2026, 11, 24), "2026-2027"), (dt.date(2027, 6, 30), "2026-2027"), (dt.date(2027, 9, 1), "2027-2028")],
)
def test_school_year_starts_at_the_rentree(day, year):
    assert clock.school_year_of(day) == year


def test_default_year_falls_back_to_the_latest_existing():
    assert specs.resolve_year(None, dt.date(2031, 1, 1)) == specs.available_years()[-1]


def test_specs_of_the_year_are_valid():
    profiles = specs.available_profiles("2026-2027")
    assert {"ci", "poste-linux", "serveur"} <= set(profiles)
    for profile in profiles:
        spec = specs.load_spec(profile, "2026-2027")
        assert spec.version.startswith("2026-2027.")


def test_ci_rootfs_key_is_stable_and_content_based():
    spec = specs.load_spec("ci", "2026-2027")
    assert configure.rootfs_spec(spec).key() == configure.rootfs_spec(spec).key()
    assert "openssh-server" in configure.rootfs_spec(spec).packages


def test_invalid_spec_is_located(tmp_path: Path, monkeypatch):
    year = tmp_path / "2026-2027"
    year.mkdir()
    (year / "ci.yaml").write_text("schema_version: 1\nprofile: ci\nschool_year: '2026-2027'\nversion: 1.0\n")
    monkeypatch.setattr(specs, "MASTERS_DIR", tmp_path)
    with pytest.raises(SocleError) as err:
        specs.load_spec("ci", "2026-2027")
    assert "invalid master spec" in str(err.value) and "ci.yaml" in str(err.value)


def test_lock_mismatch_names_the_packages():
    lock = {"packages": {"bash": {"version": "5.2-1"}, "gone": {"version": "1"}}}
    installed = {"bash": {"version": "5.2-2"}, "new": {"version": "3"}}
    with pytest.raises(SocleError) as err:
        configure.compare_lock(lock, installed, patch=False)
    text = str(err.value)
    assert "bash 5.2-1 -> 5.2-2" in text and "not in the lock: new" in text and "--update-lock" in text


def test_patch_allows_updates_only():
    lock = {"packages": {"bash": {"version": "5.2-1"}}}
    assert configure.compare_lock(lock, {"bash": {"version": "5.2-2"}}, patch=True) == {
        "updated": {"bash": ["5.2-1", "5.2-2"]}
    }
    with pytest.raises(SocleError, match="may only update packages"):
        configure.compare_lock(lock, {"bash": {"version": "5.2-2"}, "x": {"version": "1"}}, patch=True)


def test_a_configuration_is_reused_across_catalogue_and_version_changes_only():
    spec = specs.load_spec("ci", "2026-2027")
    rootfs = configure.rootfs_spec(spec)
    key = configure.reuse_key(spec, rootfs)
    changed = {**spec.data, "catalogue": {"software": ["git"]}, "version": "2026-2027.4"}
    catalogue = specs.MasterSpec(spec.path, changed)
    assert configure.reuse_key(catalogue, rootfs) == key
    hardening = specs.MasterSpec(spec.path, {**spec.data, "hardening_level": "intermediary"})
    assert configure.reuse_key(hardening, rootfs) != key
    other_base = specs.MasterSpec(spec.path, {**spec.data, "packages": {"extra": ["vim"]}})
    assert configure.reuse_key(other_base, configure.rootfs_spec(other_base)) != key
