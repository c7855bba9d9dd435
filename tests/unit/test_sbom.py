"""The masters' SBOM is valid CycloneDX 1.6, with purls that say what Debian says."""

from __future__ import annotations

import json

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from socle.build.sbom import cyclonedx

PACKAGES = {
    "libc6": {"version": "2.41-12+deb13u1", "arch": "amd64", "sha256": "a" * 64},
    "live-boot": {"version": "1:20250815~deb13u1", "arch": "all", "sha256": "b" * 64},
    "sqlite3": {"version": "3.46.1-7", "arch": "amd64"},
}


def bom(profile: str = "ci", version: str = "2026-2027.0", packages: dict | None = None) -> dict:
    return cyclonedx(profile=profile, version=version, release="trixie", packages=packages or PACKAGES,
                     timestamp="2026-12-01T06:00:00Z")  # fmt: skip


def test_the_sbom_is_valid_cyclonedx():
    problem = JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(bom()))
    assert problem is None, problem


def test_purls_are_percent_encoded_and_name_the_release_number():
    purls = {c["name"]: c["purl"] for c in bom()["components"]}
    assert purls["libc6"] == "pkg:deb/debian/libc6@2.41-12%2Bdeb13u1?arch=amd64&distro=debian-13"
    assert purls["live-boot"] == "pkg:deb/debian/live-boot@1:20250815~deb13u1?arch=all&distro=debian-13"
    assert all("trixie" not in p for p in purls.values())


def test_the_serial_names_one_master():
    first = bom()["serialNumber"]
    assert first.startswith("urn:uuid:") and first[9:][14] == "5", "a UUID version 5"
    assert bom()["serialNumber"] == first, "the same build, the same serial"
    assert bom(profile="poste-linux")["serialNumber"] != first, "two profiles with the same packages"
    assert bom(version="2026-2027.1")["serialNumber"] != first
    assert bom(packages={**PACKAGES, "git": {"version": "1", "arch": "amd64"}})["serialNumber"] != first


def test_a_broken_sbom_is_caught_by_the_schema():
    broken = bom()
    broken["components"][0]["hashes"] = [{"alg": "SHA-256", "content": "not hex"}]
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(broken)) is not None
