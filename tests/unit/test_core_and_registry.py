"""The decisions made once: the clock's stamps, the one JUnit writer, a profile's platform, where a
published master lives and which one is the newest."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET

import pytest

from socle.core import clock, junit
from socle.registry import specs, store


def test_utc_stamps_round_trip_and_run_ids_have_no_colon():
    moment = dt.datetime(2026, 11, 30, 15, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert clock.utc_stamp(moment) == "2026-11-30T14:04:05Z"
    assert clock.parse_utc(clock.utc_stamp(moment)) == moment
    assert clock.from_epoch(0) == "1970-01-01T00:00:00Z"
    assert clock.run_id(moment) == "20261130T140405Z"
    with pytest.raises(ValueError):
        clock.parse_utc("2026-11-30 14:04")


def test_junit_counts_failures_skips_nothing_else_and_escapes():
    text = junit.suite(
        'a "suite" & more',
        [
            junit.Case("0671000Y.S101", "poste<1>", failure="drift", text="R63 | sshd & <x>"),
            junit.Case("0671000Y", "poste-2", skipped="deferred: window closed"),
            junit.Case("catalogue", "CAT013", output="a note"),
        ],
    )
    root = ET.fromstring(text)
    assert (root.get("name"), root.get("tests"), root.get("failures")) == ('a "suite" & more', "3", "1")
    failed, skipped, passed = root.findall("testcase")
    assert failed.get("name") == "poste<1>" and failed.find("failure").text == "R63 | sshd & <x>"
    assert skipped.find("skipped").get("message") == "deferred: window closed" and skipped.find("failure") is None
    assert passed.find("system-out").text == "a note" and passed.find("failure") is None


def test_the_platform_of_a_profile_is_its_specs():
    assert specs.is_windows("poste-windows") and specs.platform_of("poste-windows", "2026-2027") == "windows"
    assert not specs.is_windows("poste-linux") and specs.platform_of("serveur") == "linux"
    assert specs.platform_of("a-profile-with-no-spec") == "linux"


def test_the_store_knows_where_masters_live_and_which_is_newest(tmp_path, monkeypatch):
    monkeypatch.setenv("SOCLE_DIST", str(tmp_path))
    assert store.newest("ci", "2026-2027") is None
    for version in ("2026-2027.0", "2026-2027.10", "2026-2027.2"):
        folder = store.master_dir("2026-2027", "ci", version)
        folder.mkdir(parents=True)
        (folder / "manifest.json").write_text(json.dumps({"version": version}))
    store.master_dir("2026-2027", "ci", ".2026-2027.11.partial").mkdir()  # a build in progress is not published
    manifest, folder = store.newest("ci", "2026-2027")
    assert (
        manifest["version"] == "2026-2027.10" and folder == tmp_path / "masters" / "2026-2027" / "ci" / "2026-2027.10"
    )
    assert store.next_patch_version(specs.load_spec("ci", "2026-2027")) == "2026-2027.11"


def test_a_published_version_is_never_overwritten(tmp_path, monkeypatch):
    """Platform.run as every build runs it, with a platform whose artefact is one small file: the
    spec's version is published once; a forced rebuild, or one from other inputs, takes the next .N;
    the same inputs again are "already built"; publication itself refuses an existing version."""
    from socle.build import pipeline
    from socle.core.errors import SocleError

    monkeypatch.setenv("SOCLE_DIST", str(tmp_path / "dist"))
    monkeypatch.setenv("SOCLE_HISTORY_DB", str(tmp_path / "history.sqlite"))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1790000000")
    builds = []

    class Small(pipeline.Platform):
        name = "small"

        def build(self, spec, *, update_lock, patch, force):
            return self.run(spec, patch=patch, rebuild=force, resume="")

        def produce(self, ctx):
            builds.append(ctx.version)
            (ctx.staging / "image").write_text(f"image of {ctx.version} built #{len(builds)}\n")
            return {"version": ctx.version, "build": {}, "artefacts": store.write_sums(ctx.staging, {"image": "image"})}

        def tidy(self, ctx):
            return None

    spec = specs.load_spec("ci", "2026-2027")
    first = Small().build(spec, update_lock=False, patch=False, force=False)
    sums = (first / "SHA256SUMS").read_bytes()
    assert first.name == spec.version == "2026-2027.0"
    assert Small().build(spec, update_lock=False, patch=False, force=False) == first and len(builds) == 1
    forced = Small().build(spec, update_lock=False, patch=False, force=True)
    assert forced.name == "2026-2027.1" and (first / "SHA256SUMS").read_bytes() == sums
    monkeypatch.setattr(pipeline, "inputs_sha256", lambda spec: "other inputs")  # a merged request
    changed = Small().build(spec, update_lock=False, patch=False, force=False)
    assert changed.name == "2026-2027.2" and (first / "SHA256SUMS").read_bytes() == sums
    assert [v["version"] for v in json.loads((first.parent / "index.json").read_text())["versions"]] == [
        "2026-2027.0", "2026-2027.1", "2026-2027.2"]  # fmt: skip
    staging = tmp_path / "staging"
    staging.mkdir()
    with pytest.raises(SocleError, match=r"2026-2027\.0 is published already: a published version is never"):
        store.publish(staging, first, {"version": "2026-2027.0"})
    assert (first / "SHA256SUMS").read_bytes() == sums
