"""`invoke build-master --profile ci` end to end, twice (reproducibility), and against a tampered lock."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from socle.registry import store
from tests.integration.conftest import CiMaster, build_ci

pytestmark = pytest.mark.integration

VOLATILE_BUILD_KEYS = {"duration_s", "steps_s"}


@pytest.fixture(scope="module")
def masters_dir(ci_master: CiMaster) -> Path:
    return ci_master.masters_dir


@pytest.fixture(scope="module")
def first(ci_master: CiMaster) -> Path:
    return ci_master.path


def build(masters_dir: Path, dist: Path, *extra: str):
    return build_ci(masters_dir, dist, *extra)


def stable(manifest: dict) -> dict:
    out = {k: v for k, v in manifest.items() if k not in {"artefacts", "oci", "verification"}}
    out["build"] = {k: v for k, v in manifest["build"].items() if k not in VOLATILE_BUILD_KEYS}
    return out


def test_artefacts_exist_and_match_the_manifest(first, masters_dir):
    manifest = json.loads((first / "manifest.json").read_text())
    assert store.verify_artefacts(first) == []
    assert {"rootfs.squashfs", "sbom.cdx.json"} <= set(manifest["artefacts"])
    assert manifest["verification"]["testinfra"]["passed"] is True
    assert manifest["catalogue"]["entries"] == [
        {"name": "sqlite3", "software": "sqlite3", "version": manifest["packages"]["sqlite3"]["version"]}
    ]
    assert "sqlite3" in manifest["packages"] and "openssh-server" in manifest["packages"]
    assert all(p.get("sha256") for p in manifest["packages"].values()), "every package has its index sha256"
    assert (masters_dir / "2026-2027" / "ci.lock").exists()
    lynis = manifest["verification"]["lynis"]
    assert isinstance(lynis.get("hardening_index"), int), lynis
    # OpenSCAP with content that knows trixie (data/openscap.yaml): rules judged, none failed
    scap = manifest["verification"]["openscap"]
    assert scap["content"].endswith("ssg-debian13-ds.xml") and scap["profile"] == "anssi_bp28_minimal", scap
    assert scap["pass"] >= 10 and scap["fail"] == 0 and scap["failed"] == [] and scap["score"] == 100.0, scap
    sbom = json.loads((first / "sbom.cdx.json").read_text())
    assert sbom["bomFormat"] == "CycloneDX" and len(sbom["components"]) == len(manifest["packages"])
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    problem = JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(sbom))
    assert problem is None, problem
    assert not list(first.parent.glob(".*.partial")), "no half-written artefact is left"
    for identity in ("etc/machine-id", "etc/hostname", "etc/resolv.conf"):  # empty: each poste gets its own
        out = subprocess.run(["unsquashfs", "-cat", str(first / "rootfs.squashfs"), identity], capture_output=True)
        assert out.returncode == 0 and out.stdout.strip() == b"", (identity, out)


def test_a_corrupted_artefact_is_detected(first, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(first, copy)
    with (copy / "rootfs.squashfs").open("r+b") as fh:
        fh.seek(4096)
        fh.write(b"\0" * 16)
    assert store.verify_artefacts(copy) == ["rootfs.squashfs: sha256 mismatch"]


def test_rebuild_from_the_lock_is_reproducible(first, masters_dir, tmp_path):
    proc = build(masters_dir, tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    second = tmp_path / "masters" / "2026-2027" / "ci" / "2026-2027.0"
    a = json.loads((first / "manifest.json").read_text())
    b = json.loads((second / "manifest.json").read_text())
    assert stable(a) == stable(b)


def test_a_lock_that_the_mirror_cannot_satisfy_fails_clearly(first, masters_dir, tmp_path):
    spec_dir = tmp_path / "masters"
    shutil.copytree(masters_dir, spec_dir)
    lock_path = spec_dir / "2026-2027" / "ci.lock"
    lock = json.loads(lock_path.read_text())
    lock["packages"]["sqlite3"]["version"] = "3.0.0-1"
    lock_path.write_text(json.dumps(lock))
    dist = tmp_path / "dist"
    proc = build(spec_dir, dist)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "sqlite3" in proc.stderr and ("lock" in proc.stderr)
    assert not (dist / "masters" / "2026-2027" / "ci" / "2026-2027.0").exists(), "nothing is published"


def test_patch_release_keeps_the_lock_and_bumps_the_version(first, masters_dir):
    dist = first.parent.parent.parent.parent  # the first build's SOCLE_DIST
    proc = build(masters_dir, dist, "--patch")
    assert proc.returncode == 0, proc.stderr[-4000:]
    patch = first.parent / "2026-2027.1"
    manifest = json.loads((patch / "manifest.json").read_text())
    assert manifest["version"] == "2026-2027.1"
    base = json.loads((first / "manifest.json").read_text())
    # same lock: only security updates may differ, and they are listed
    changed = {n for n in manifest["packages"] if manifest["packages"][n] != base["packages"].get(n)}
    assert set(manifest["patched"]) == changed
    assert set(manifest["packages"]) == set(base["packages"])


def test_an_added_entry_reuses_the_configuration_and_a_withdrawn_one_builds_clean(first, masters_dir, tmp_path):
    """A teacher's request merged: the rebuild configures on top of the previous configuration and
    gets the new entry with its dependencies. The request withdrawn: the rebuild starts from the base
    (apt cannot tell what a removal should take along) and is back to the clean build's packages."""
    import yaml

    spec_dir = tmp_path / "masters"
    shutil.copytree(masters_dir, spec_dir)
    spec_path = spec_dir / "2026-2027" / "ci.yaml"
    original = spec_path.read_text()
    data = yaml.safe_load(original)
    data["catalogue"]["software"].append("git")
    data["catalogue"].setdefault("disciplines", []).append("nsi-snt")
    spec_path.write_text(yaml.safe_dump(data))
    added = build(spec_dir, tmp_path / "added", "--update-lock")
    assert added.returncode == 0, added.stderr[-4000:]
    assert "on the profile's last build" in added.stderr
    with_git = json.loads((spec_dir / "2026-2027" / "ci.lock").read_text())["packages"]
    clean = json.loads((first / "manifest.json").read_text())["packages"]
    assert {"git", "perl"} <= set(with_git) and set(clean) < set(with_git)
    spec_path.write_text(original)  # the request is withdrawn
    removed = build(spec_dir, tmp_path / "removed", "--update-lock")
    assert removed.returncode == 0, removed.stderr[-4000:]
    assert "configuring from the base: git left the catalogue selection" in removed.stderr
    again = json.loads((spec_dir / "2026-2027" / "ci.lock").read_text())["packages"]
    assert set(again) == set(clean)
