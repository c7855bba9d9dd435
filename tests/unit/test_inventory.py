"""Inventories: the samples pass; every kind of bad input fails, located; the Ansible plugin groups."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from socle.core.errors import SocleError
from socle.core.paths import ROOT
from socle.inventory import checks as inv_checks
from socle.inventory import generator, importer
from socle.inventory import model as inv_model

SAMPLE = ROOT / "inventories" / "grand-est"
KLEBER = "0671000Y"


def mutate(region: Path, code: str, change) -> Path:
    path = region / "etablissements" / f"{code}.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(inv_model.render(data))
    return path


def errors_of(region: Path, check: str) -> list:
    return [f for f in inv_checks.check(region) if f.check == check and f.severity == "error"]


def test_samples_pass():
    assert [f for f in inv_checks.check() if f.severity == "error"] == []
    schools = inv_model.fast_load(SAMPLE)
    assert 3 <= len(schools) <= 5
    for school in schools:
        assert school["serveurs"]
        for salle in school["salles"]:
            assert 20 <= len(salle["postes"]) <= 35


def test_wrong_uai_letter_names_the_expected_one(region):
    mutate(region, KLEBER, lambda d: d.update(uai="0671000A"))
    hit = errors_of(region, "INV002")[0]
    assert "expected '0671000Y'" in hit.message and hit.keypath == "uai" and hit.line == 3


def test_duplicates_across_schools_are_located(region):
    other = "0681001U"
    first = yaml.safe_load((region / "etablissements" / f"{KLEBER}.yaml").read_text())["salles"][0]["postes"][0]

    def clash(d):
        d["salles"][0]["postes"][0].update(hostname=first["hostname"], mac=first["mac"], asset=first["asset"])
        d["salles"][0]["postes"][1]["ip"] = "10.67.0.1"  # the Kléber serveur's address

    mutate(region, other, clash)
    messages = " ".join(f.message for f in errors_of(region, "INV003"))
    assert f"hostname '{first['hostname']}'" in messages
    assert f"MAC '{first['mac']}'" in messages
    assert f"asset tag '{first['asset']}'" in messages
    assert "fixed IP '10.67.0.1'" in messages
    assert all(f.file.endswith(f"{other}.yaml") for f in errors_of(region, "INV003"))


def test_empty_room_unknown_vocabulary_and_bad_addresses(region):
    def change(d):
        d["zone"] = "D"
        d["wave"] = "4"
        d["salles"][0]["postes"] = []
        d["salles"][1]["profile"] = "poste-mac"
        d["salles"][1]["disciplines"] = ["astrologie"]
        d["salles"][2]["postes"][0]["mac"] = "52:54:00:zz:00:01"
        d["salles"][2]["postes"][1]["ip"] = "10.0.0.300"
        d["serveurs"][0]["profile"] = "poste-linux"

    mutate(region, KLEBER, change)
    found = inv_checks.check(region)
    text = "\n".join(f.render() for f in found)
    assert "unknown holiday zone 'D'" in text
    assert "unknown rollout wave '4'" in text
    assert "salle 0671000Y/INFO1 has no postes" in text
    assert "unknown master profile 'poste-mac' in 0671000Y/S101" in text
    assert "unknown discipline 'astrologie'" in text
    assert "MAC address '52:54:00:zz:00:01' is malformed" in text
    assert "IP address '10.0.0.300' is malformed" in text
    assert "unknown serveur profile 'poste-linux' for srv-0671000y" in text
    assert all(f.line > 1 for f in found)


def test_zone_must_match_the_academie(region):
    mutate(region, KLEBER, lambda d: d.update(zone="A"))
    assert "académie strasbourg is in zone B, not A" in errors_of(region, "INV004")[0].message


def test_broken_yaml_is_a_located_finding(region):
    path = region / "etablissements" / f"{KLEBER}.yaml"
    path.write_text(path.read_text().replace("zone: B", "zone: B\nzone: C"))
    hit = errors_of(region, "INV001")[0]
    assert "duplicate key 'zone'" in hit.message


def ansible(*args: str) -> subprocess.CompletedProcess[str]:
    bindir = os.path.dirname(sys.executable)
    env = {
        **os.environ,
        "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
    }
    return subprocess.run([os.path.join(bindir, args[0]), *args[1:]], cwd=ROOT, env=env, capture_output=True, text=True)


def test_plugin_groups_and_room_targeting():
    graph = ansible("ansible-inventory", "-i", "inventories/grand-est", "--list")
    assert graph.returncode == 0, graph.stderr
    data = json.loads(graph.stdout)
    for group in ("etab_0671000y", "salle_0671000y_s101", "profile_poste_linux", "discipline_svt",
                  "academie_strasbourg", "type_lycee_gt", "zone_b", "wave_pilot", "postes", "serveurs"):  # fmt: skip
        assert group in data, group
    assert "WARNING" not in graph.stderr
    hosts = ansible("ansible", "-i", "inventories/grand-est", "salle_0671000y_s101", "--list-hosts")
    listed = [ln.strip() for ln in hosts.stdout.splitlines()[1:]]
    school = yaml.safe_load((SAMPLE / "etablissements" / f"{KLEBER}.yaml").read_text())
    room = next(s for s in school["salles"] if s["id"] == "S101")
    assert sorted(listed) == sorted(p["hostname"] for p in room["postes"])
    first = room["postes"][0]
    mac = data["_meta"]["hostvars"][first["hostname"]]["socle_macs"][first["hostname"]]
    assert (mac.get("__ansible_unsafe") if isinstance(mac, dict) else mac) == first["mac"]
    debug = ansible("ansible", "-i", "inventories/grand-est", first["hostname"], "-m", "debug", "-a", "var=socle_mac")
    assert first["mac"] in debug.stdout, debug.stdout + debug.stderr
    room_vars = ansible("ansible-inventory", "-i", "inventories/grand-est", "--host", room["postes"][0]["hostname"])
    merged = json.loads(room_vars.stdout)
    assert merged["socle_disciplines"] == room["disciplines"] and merged["socle_profile"] == room["profile"]


def test_pull_mode_loads_one_school_only():
    os.environ["SOCLE_INVENTORY_ONLY_UAI"] = KLEBER
    try:
        data = json.loads(ansible("ansible-inventory", "-i", "inventories/grand-est", "--list").stdout)
    finally:
        del os.environ["SOCLE_INVENTORY_ONLY_UAI"]
    assert "etab_0671000y" in data and "etab_0681001u" not in data


def test_generator_is_deterministic(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert generator.generate(a, etabs=7, postes=500, seed=1) == 500
    generator.generate(b, etabs=7, postes=500, seed=1)
    files = sorted(p.name for p in (a / "etablissements").iterdir())
    assert files == sorted(p.name for p in (b / "etablissements").iterdir())
    assert all((a / "etablissements" / f).read_text() == (b / "etablissements" / f).read_text() for f in files)
    assert [f for f in inv_checks.check(a) if f.severity == "error"] == []


CMIL_CSV = """Salle;Nom du poste;Adresse MAC;IP;Numéro d'inventaire;Modèle
S101;0671000y-s101-31;52:54:0a:00:00:01;dhcp;GE-NEW-1;Dell OptiPlex 7010
LABO2;0671000y-labo2-01;52-54-0A-00-00-02;10.67.10.21;GE-NEW-2;HP Elite Mini
"""


def test_csv_import_is_a_dry_run_with_a_diff(region, tmp_path):
    csv_path = tmp_path / "postes.csv"
    csv_path.write_text(CMIL_CSV)
    before = (region / "etablissements" / f"{KLEBER}.yaml").read_text()
    diff = importer.import_csv(csv_path, KLEBER, region=region)
    assert "+      - {hostname: 0671000y-s101-31" in diff and "+  - id: LABO2" in diff
    assert (region / "etablissements" / f"{KLEBER}.yaml").read_text() == before
    importer.import_csv(csv_path, KLEBER, region=region, apply=True)
    assert "0671000y-labo2-01" in (region / "etablissements" / f"{KLEBER}.yaml").read_text()
    assert [f for f in inv_checks.check(region) if f.severity == "error"] == []


def test_csv_bad_rows_are_listed_by_line_and_nothing_is_written(region, tmp_path):
    csv_path = tmp_path / "postes.csv"
    csv_path.write_text(CMIL_CSV + "S101;Poste 33;52:54:00;dhcp;;\nS101;ok-name;52:54:0a:00:00:09;999.1.1.1;;\n")
    with pytest.raises(SocleError) as err:
        importer.import_csv(csv_path, KLEBER, region=region, apply=True)
    text = str(err.value)
    assert "2 bad row(s); nothing was imported" in text
    assert "postes.csv:4: hostname 'Poste 33'" in text and "postes.csv:5: IP address '999.1.1.1'" in text


def test_csv_import_refusing_a_duplicate_writes_nothing(region, tmp_path):
    school = yaml.safe_load((region / "etablissements" / "0681001U.yaml").read_text())
    taken = school["salles"][0]["postes"][0]["mac"]
    csv_path = tmp_path / "postes.csv"
    csv_path.write_text(f"salle,nom,mac\nS101,0671000y-s101-40,{taken}\n")
    before = (region / "etablissements" / f"{KLEBER}.yaml").read_text()
    with pytest.raises(SocleError, match="nothing was written"):
        importer.import_csv(csv_path, KLEBER, region=region, apply=True)
    assert (region / "etablissements" / f"{KLEBER}.yaml").read_text() == before


def test_linuxmuster_devices_csv(region, tmp_path):
    csv_path = tmp_path / "devices.csv"
    csv_path.write_text(
        "# linuxmuster.net 7 devices.csv\n"
        "s101;0671000y-s101-32;win11;52:54:0b:00:00:01;10.67.20.32;;;;classroom-studentcomputer;;1\n"
    )
    diff = importer.import_csv(csv_path, KLEBER, region=region)
    assert "0671000y-s101-32" in diff and "10.67.20.32" in diff


def test_windows_remoting_rules(region):
    def weak(d):
        d["salles"][2]["vars"] = {
            "ansible_connection": "winrm",
            "ansible_port": 5985,
            "ansible_winrm_transport": "ntlm",
            "ansible_winrm_server_cert_validation": "ignore",
            "ansible_password": "Azerty123",
        }

    mutate(region, KLEBER, weak)
    text = "\n".join(f.render() for f in errors_of(region, "INV007"))
    assert "Windows remoting over plain HTTP" in text
    assert "ntlm authentication over HTTP" in text
    assert "certificate validation is disabled" in text
    assert "a password is written in clear" in text
    (region / "group_vars" / "profile_poste_windows.yml").write_text(
        "ansible_connection: psrp\nansible_psrp_cert_validation: ignore\n"
    )
    hits = [f for f in errors_of(region, "INV007") if f.file.endswith("profile_poste_windows.yml")]
    assert hits and hits[0].line == 2 and hits[0].keypath == "ansible_psrp_cert_validation"


def test_sample_windows_settings_are_accepted():
    vars_ = yaml.safe_load((SAMPLE / "group_vars" / "profile_poste_windows.yml").read_text())
    assert inv_checks.remoting_problems(vars_) == []
