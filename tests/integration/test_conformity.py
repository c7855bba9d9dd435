"""Nightly conformity against a fleet of real containers started from the ci master, with injected drift;
the patch waves' gate reading what the nightly runs recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
import yaml

from socle.core.paths import ROOT
from socle.inventory import generator
from socle.inventory import model as inv_model
from tests.conftest import run_invoke, screenshot
from tests.integration.conftest import CiMaster, wait_booted

pytestmark = pytest.mark.integration

UAI = "0671000Y"


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=check)


@pytest.fixture(scope="module")
def fleet(ci_master: CiMaster, tmp_path_factory):
    """One établissement, two salles of three postes, each poste a container of the current master."""
    manifests = sorted(ci_master.dist.glob("masters/2026-2027/ci/*/manifest.json"))
    reference = max((json.loads(p.read_text()) for p in manifests), key=lambda m: int(m["version"].rsplit(".", 1)[1]))
    region = tmp_path_factory.mktemp("region")
    generator.generate(region, etabs=1, postes=6, seed=7)
    path = region / "etablissements" / f"{UAI}.yaml"
    school = yaml.safe_load(path.read_text())
    postes = [p for s in school["salles"] for p in s["postes"]]
    school["salles"] = [
        {
            "id": "INFO1",
            "usage": "salle informatique",
            "disciplines": ["nsi-snt"],
            "profile": "ci",
            "postes": postes[:3],
        },
        {"id": "S101", "usage": "salle de sciences", "disciplines": ["svt"], "profile": "ci", "postes": postes[3:]},
    ]
    school["serveurs"] = []  # postes only here; serveurs are checked in test_patching.py
    path.write_text(inv_model.render(school))
    (region / "group_vars").mkdir()
    (region / "group_vars" / "all.yml").write_text(
        "ansible_connection: podman_pipe\nansible_python_interpreter: /usr/bin/python3\n"
    )
    names = [p["hostname"] for p in postes]
    for name in names:
        podman("rm", "-f", name, check=False)
        podman("run", "-d", "--name", name, "--hostname", name, reference["oci"]["image"])
    wait_booted(*names)
    yield {"region": region, "names": names, "dist": ci_master.dist, "reference": reference}
    for name in names:
        podman("rm", "-f", "-t", "0", name, check=False)


def inject(names: list[str]) -> dict[str, str]:
    """Real drift on five postes; the sixth stays clean."""
    removed, unapproved, sshd, old_master, down, clean = names
    podman("exec", removed, "dpkg", "--remove", "sqlite3")
    script = (
        "set -e; d=$(mktemp -d); mkdir -p $d/DEBIAN $d/usr/games; echo '#!/bin/sh' > $d/usr/games/jeu;"
        "chmod 755 $d/usr/games/jeu;"
        "printf 'Package: jeu-non-approuve\\nVersion: 1.0\\nArchitecture: all\\nMaintainer: eleve <e@example.org>\\n"
        "Description: a game a pupil installed\\n' > $d/DEBIAN/control; dpkg-deb --build $d /tmp/jeu.deb >/dev/null;"
        "dpkg -i /tmp/jeu.deb >/dev/null"
    )
    podman("exec", unapproved, "sh", "-c", script)
    podman("exec", sshd, "sh", "-c", "echo 'PasswordAuthentication yes' > /etc/ssh/sshd_config.d/00-eleve.conf")
    podman("exec", old_master, "sh", "-c",
           "sed -i 's/\"version\": \"[^\"]*\"/\"version\": \"2025-2026.4\"/' /etc/socle/master.json")  # fmt: skip
    podman("stop", "-t", "2", down)
    return {"removed": removed, "unapproved": unapproved, "sshd": sshd, "old": old_master, "down": down,
            "clean": clean}  # fmt: skip


def test_every_injected_drift_is_caught_and_attributed(fleet, tmp_path):
    who = inject(fleet["names"])
    report = tmp_path / "report"
    proc = run_invoke(
        "conformity", "--etab", UAI, "--report", str(report), "--inventory", str(fleet["region"]),
        env={"SOCLE_DIST": str(fleet["dist"]), "SOCLE_HISTORY_DB": str(tmp_path / "history.sqlite")},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]

    def host(name: str) -> dict:
        return json.loads((report / "hosts" / f"{name}.json").read_text())

    def checks(name: str) -> set[str]:
        return {f"{d['category']}:{d['check']}" for d in host(name)["drifts"]}

    assert host(who["clean"])["status"] == "conformant", host(who["clean"])
    assert "catalogue:missing" in checks(who["removed"])
    assert host(who["removed"])["salle"] == "INFO1"
    assert "unknown-software:outside-master" in checks(who["unapproved"])
    assert any("jeu-non-approuve" in d["message"] for d in host(who["unapproved"])["drifts"])
    assert "hardening:R63 | sshd.PasswordAuthentication" in checks(who["sshd"])
    assert "master:version" in checks(who["old"])
    assert host(who["down"])["status"] == "not seen"
    # nothing else drifted on the drifted hosts
    assert checks(who["removed"]) == {"catalogue:missing"}
    assert checks(who["sshd"]) == {"hardening:R63 | sshd.PasswordAuthentication"}
    summary = json.loads((report / "summary.json").read_text())
    assert summary["hosts"] == 6 and summary["statuses"]["conformant"] == 1
    junit = ET.parse(report / "junit.xml").getroot()
    # the poste switched off is "not seen": skipped, neither a pass nor a failure
    assert junit.get("tests") == "6" and junit.get("failures") == "4"
    assert junit.find(f".//testcase[@name='{who['down']}']/skipped") is not None
    page = (report / "report.html").read_text()
    school = (report / "etablissements" / f"{UAI}.html").read_text()
    assert f'href="etablissements/{UAI}.html"' in page and f'href="etablissements/{UAI}.html#salle-INFO1"' in page
    assert who["sshd"] in school and 'id="salle-INFO1"' in school and "PasswordAuthentication" in school
    assert "salle" in proc.stderr and "report.html" in proc.stderr
    screenshot(report / "report.html", report / "report.png")
    screenshot(report / "etablissements" / f"{UAI}.html", report / "etablissement.png")
    # the CMIL's by-hand suite agrees with the nightly run, host by host
    env = {"SOCLE_DIST": str(fleet["dist"])}
    clean = run_pytest("tests/conformity", f"--hosts=podman://{who['clean']}", env=env)
    assert clean.returncode == 0, clean.stdout[-3000:]
    drifted = run_pytest("tests/conformity", f"--hosts=podman://{who['sshd']}", env=env)
    assert drifted.returncode == 1 and "PasswordAuthentication-no]" in drifted.stdout
    assert "1 failed" in drifted.stdout


def run_pytest(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_bad_target_is_a_clear_error():
    proc = run_invoke("conformity", "--salle", "0671000Y")
    assert proc.returncode == 2 and "--salle takes UAI/ROOM" in proc.stderr
    proc = run_invoke("conformity")
    assert proc.returncode == 2 and "say what to check" in proc.stderr
    proc = run_invoke("conformity", "--etab", "0671000A")
    assert proc.returncode == 2 and "expected '0671000Y'" in proc.stderr


def test_the_wave_gate_opens_only_on_fresh_results_of_every_school_of_the_previous_wave(fleet, tmp_path):
    """Two pilot établissements, one poste each (clean containers of the current master), one school of
    wave 1. The gate for wave 1 reads the one place the nightly run writes (the results database)."""
    import sqlite3

    region = tmp_path / "region"
    generator.generate(region, etabs=3, postes=3, seed=31)
    paths = sorted((region / "etablissements").glob("*.yaml"))
    names = []
    for path, wave in zip(paths, ("pilot", "pilot", "1"), strict=True):
        school = yaml.safe_load(path.read_text())
        poste = next(p for s in school["salles"] for p in s["postes"])
        poste["hostname"] = f"{school['uai'].lower()}-gate-01"  # none of the fleet's containers
        salle = {"id": "GATE", "usage": "salle informatique", "disciplines": ["nsi-snt"], "profile": "ci",
                 "postes": [poste]}  # fmt: skip
        school.update(wave=wave, serveurs=[], salles=[salle])
        path.write_text(inv_model.render(school))
        names.append(poste["hostname"])
    assert not set(names) & set(fleet["names"])
    (region / "group_vars").mkdir()
    (region / "group_vars" / "all.yml").write_text(
        "ansible_connection: podman_pipe\nansible_python_interpreter: /usr/bin/python3\n"
    )
    a, b, _ = (p.stem for p in paths)
    pilots = names[:2]  # the wave-1 school's poste is never contacted: the gate is decided on the controller
    for name in pilots:
        podman("rm", "-f", name, check=False)
        podman("run", "-d", "--name", name, "--hostname", name, fleet["reference"]["oci"]["image"])
    wait_booted(*pilots)
    db = tmp_path / "history.sqlite"
    env = {"SOCLE_DIST": str(fleet["dist"]), "SOCLE_HISTORY_DB": str(db)}

    def gate() -> str:
        """What ``invoke patch --wave 1 --check`` says of the gate (the output unwrapped)."""
        proc = run_invoke("patch", "--wave", "1", "--check", "--inventory", str(region), env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
        said = " ".join(proc.stderr.split())
        return said[said.index("gate ") :]

    def nightly(uai: str) -> None:
        proc = run_invoke("conformity", "--etab", uai, "--inventory", str(region), "--report", str(tmp_path / uai),
                          env=env)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]

    try:
        assert gate().startswith(f"gate closed: wave pilot has no fresh conformity results from 2 établissement(s): "
                                 f"{a} (never), {b} (never)")  # fmt: skip
        nightly(a)
        assert gate().startswith(f"gate closed: wave pilot has no fresh conformity results from 1 établissement(s): "
                                 f"{b} (never)")  # fmt: skip
        nightly(b)
        assert gate().startswith("gate open: wave pilot is 100.0 % conformant (needs ≥ 95 %)")
        # B's results grow old (its serveur silent for two nights): the gate closes again, and says since when
        with sqlite3.connect(db) as con:
            con.execute("UPDATE conformity_runs SET recorded = datetime('now', '-40 hours') WHERE target = ?", (b,))
        closed = gate()
        assert closed.startswith("gate closed: wave pilot has no fresh conformity results from 1 établissement(s): "
                                 f"{b} (last 20")  # fmt: skip
        # a drifted poste at A: measured, but below the threshold
        nightly(b)
        podman("exec", pilots[0], "dpkg", "--remove", "sqlite3")
        nightly(a)
        assert gate().startswith("gate closed: wave pilot is 50.0 % conformant (needs ≥ 95 %)")
    finally:
        for name in pilots:
            podman("rm", "-f", "-t", "0", name, check=False)
