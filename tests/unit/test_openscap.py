"""The OpenSCAP content is the pinned package or nothing, and a failed rule leads to its hardening task.
Offline: a small .deb built here stands for ssg-debian, served from a file: URL."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from socle.build.linux import openscap

X = "http://checklists.nist.gov/xccdf/1.2"
ANSSI = "https://cyber.gouv.fr/sites/default/files/document/linux_configuration-en-v2.pdf"
RULE = "xccdf_org.ssgproject.content_rule_"
STREAM = f"""<?xml version="1.0"?>
<ds:data-stream-collection xmlns:ds="http://scap.nist.gov/schema/scap/source/1.2" xmlns:x="{X}">
 <x:Benchmark id="b">
  <x:Rule id="{RULE}sshd_disable_root_login"><x:title>Disable SSH Root Login</x:title>
   <x:reference href="{ANSSI}">anssi</x:reference><x:reference href="{ANSSI}">R63</x:reference></x:Rule>
  <x:Rule id="{RULE}dir_perms_world_writable_root_owned"><x:title>World-Writable Directories Owned by root</x:title>
   <x:reference href="{ANSSI}">R54</x:reference><x:reference href="https://example.org/other">R1</x:reference></x:Rule>
 </x:Benchmark>
</ds:data-stream-collection>
"""
RESULTS = f"""<?xml version="1.0"?>
<x:TestResult xmlns:x="{X}">
 <x:rule-result idref="{RULE}sshd_disable_root_login"><x:result>fail</x:result></x:rule-result>
 <x:rule-result idref="{RULE}dir_perms_world_writable_root_owned"><x:result>fail</x:result></x:rule-result>
 <x:rule-result idref="{RULE}package_telnet_removed"><x:result>pass</x:result></x:rule-result>
 <x:rule-result idref="{RULE}other"><x:result>notapplicable</x:result></x:rule-result>
</x:TestResult>
"""


@pytest.fixture
def package(tmp_path, monkeypatch) -> openscap.Pin:
    monkeypatch.setenv("SOCLE_CACHE", str(tmp_path / "cache"))
    tree = tmp_path / "pkg"
    (tree / "DEBIAN").mkdir(parents=True)
    control = ["Package: ssg-debian", "Version: 0.1.82-1", "Architecture: all", "Maintainer: t <t@example.org>",
               "Description: test content"]  # fmt: skip
    (tree / "DEBIAN" / "control").write_text("\n".join(control) + "\n")
    content = tree / openscap.CONTENT_DIR
    content.mkdir(parents=True)
    (content / "ssg-debian13-ds.xml").write_text(STREAM)
    deb = tmp_path / "ssg-debian.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(tree), str(deb)], check=True, capture_output=True)
    sha = hashlib.sha256(deb.read_bytes()).hexdigest()
    return openscap.Pin("ssg-debian", "0.1.82-1", deb.as_uri(), sha, "anssi_bp28_minimal")


def test_the_shipped_pin_is_complete():
    pin = openscap.pin()
    assert pin.url.endswith(f"{pin.package}_{pin.version}_all.deb") and len(pin.sha256) == 64


def test_the_pinned_content_is_fetched_once_and_other_bytes_are_refused(package):
    stream = openscap.content("trixie", package)
    assert isinstance(stream, Path) and stream.name == "ssg-debian13-ds.xml"
    assert openscap.content("trixie", package) == stream  # from the cache
    assert "no Debian 12 data stream" in str(openscap.content("bookworm", package))
    other = openscap.Pin(package.package, package.version, package.url, "0" * 64, package.profile)
    reason = openscap.content("trixie", other)
    assert isinstance(reason, str) and "refused" in reason and "data/openscap.yaml" in reason
    assert not (openscap.cache_dir() / "ssg" / ("0" * 16)).exists()  # nothing half-unpacked
    gone = openscap.Pin(package.package, package.version, package.url + ".gone", package.sha256[::-1], "x")
    assert "cannot fetch" in str(openscap.content("trixie", gone))


def test_a_failed_rule_names_its_bp028_ids_and_the_hardening_task(package, tmp_path):
    stream = openscap.content("trixie", package)
    assert isinstance(stream, Path)
    results = tmp_path / "results.xml"
    results.write_text(RESULTS)
    counts, failed = openscap.outcomes(results)
    assert counts == {"fail": 2, "pass": 1, "notapplicable": 1}
    ssh, perms = (openscap.explain(rule, stream) for rule in failed)
    assert ssh["rule"] == "sshd_disable_root_login" and ssh["anssi"] == ["R63"]
    assert ssh["tasks"] == ["roles/hardening/tasks/main.yml: R63 | sshd | Harden the SSH server"]
    assert perms["anssi"] == ["R54"] and perms["tasks"] == ["no task of roles/hardening is tagged R54"]


def test_every_hardening_control_is_a_task_tag():
    """The R ids the hardening role declares are the ones its tasks carry (a failed rule finds them)."""
    tasks = openscap.hardening_tasks()
    assert {"R62", "R63", "R39", "R61", "R33", "R56"} <= set(tasks)
    assert any("R62 | services" in name for name in tasks["R62"])
