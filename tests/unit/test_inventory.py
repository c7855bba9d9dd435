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
    for apply in (False, True):  # the dry run says it already, at the CSV's line
        with pytest.raises(SocleError, match="nothing was imported") as err:
            importer.import_csv(csv_path, KLEBER, region=region, apply=apply)
        assert f"postes.csv:2: MAC address {taken} belongs to 0681001u-" in str(err.value)
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


def test_csv_import_keeps_the_cmils_comments_and_layout(region, tmp_path):
    path = region / "etablissements" / f"{KLEBER}.yaml"
    text = path.read_text().replace("salles:\n", "# salles: tenu par le CMIL (M. Dupont)\nsalles:\n", 1)
    text = text.replace("    usage: salle informatique\n", "    usage: salle informatique  # rénovée en 2025\n", 1)
    path.write_text(text)
    csv_path = tmp_path / "postes.csv"
    csv_path.write_text(CMIL_CSV + "S101;0671000y-s101-32;52:54:0a:00:00:03;dhcp;GE-NEW-3;On\n")
    diff = importer.import_csv(csv_path, KLEBER, region=region, apply=True)
    # only additions: nothing the CMIL wrote is rewritten
    assert not [ln for ln in diff.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    after = path.read_text()
    assert after.startswith(text.split("salles:")[0]) and "# rénovée en 2025" in after
    assert "# salles: tenu par le CMIL (M. Dupont)\nsalles:" in after
    # a cell YAML 1.1 would read as a boolean stays text
    assert 'model: "On"}' in after
    poste = next(p for s in yaml.safe_load(after)["salles"] for p in s["postes"] if p["hostname"].endswith("s101-32"))
    assert poste["model"] == "On" and poste["mac"] == "52:54:0a:00:00:03"
    assert [f for f in inv_checks.check(region) if f.severity == "error"] == []


def test_csv_duplicates_are_refused_in_the_dry_run_with_their_lines(region, tmp_path):
    other = yaml.safe_load((region / "etablissements" / "0681001U.yaml").read_text())["salles"][0]["postes"][0]
    csv_path = tmp_path / "postes.csv"
    csv_path.write_text(
        "salle;nom;mac\n"
        "S101;0671000y-s101-41;52:54:0a:00:01:01\n"
        "S101;0671000y-s101-42;52:54:0a:00:01:01\n"  # the same MAC twice
        "S101;0671000y-s101-41;52:54:0a:00:01:03\n"  # the same name twice
        f"S101;{other['hostname']};52:54:0a:00:01:04\n"  # another school's poste
        "INFO1;0671000y-info1-01;52:54:0a:00:01:05\n"  # this school's own poste: an update
    )
    with pytest.raises(SocleError, match="3 duplicate") as err:
        importer.import_csv(csv_path, KLEBER, region=region)
    text = str(err.value)
    assert "postes.csv:3: MAC address 52:54:0a:00:01:01 is already on line 2 of the file" in text
    assert "postes.csv:4: host name 0671000y-s101-41 is already on line 2 of the file" in text
    assert f"postes.csv:5: host name {other['hostname']} belongs to {other['hostname']} (0681001U/" in text
    assert "info1-01" not in text


def test_linuxmuster_roles_and_hardware_classes_come_from_the_mapping(region, tmp_path):
    csv_path = tmp_path / "devices.csv"
    csv_path.write_text(
        "lab9;0671000y-lab9-01;win11;52:54:0b:00:00:04;dhcp;;;;classroom-studentcomputer;;1\n"
        "server;srv2-0671000y;server;52:54:0b:00:00:02;10.67.0.2;;;;server;;1\n"
        "r1;imprimante-1;printer;52:54:0b:00:00:03;10.67.0.3;;;;printer;;1\n"
    )
    importer.import_csv(csv_path, KLEBER, region=region, apply=True)
    school = yaml.safe_load((region / "etablissements" / f"{KLEBER}.yaml").read_text())
    assert {"hostname": "srv2-0671000y", "role": "serveur", "mac": "52:54:0b:00:00:02", "ip": "10.67.0.2"} in school[
        "serveurs"
    ]
    lab9 = next(s for s in school["salles"] if s["id"] == "lab9")
    assert lab9["profile"] == "poste-windows" and [p["hostname"] for p in lab9["postes"]] == ["0671000y-lab9-01"]
    assert "imprimante-1" not in str(school), "printers are not socle's"
    # a role the mapping does not know is a located error; so is a bad mapping file
    csv_path.write_text("lab9;0671000y-lab9-02;win11;52:54:0b:00:00:05;dhcp;;;;robot;;1\n")
    with pytest.raises(SocleError, match=r"devices\.csv:1: linuxmuster role 'robot' is not in the mapping"):
        importer.import_csv(csv_path, KLEBER, region=region)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("roles:\n  server: serveurs\n")
    with pytest.raises(SocleError, match="is not one of poste, serveur, ignore") as err:
        importer.import_csv(csv_path, KLEBER, region=region, mapping=mapping)
    assert err.value.where.startswith(f"{mapping}:2")


def test_an_import_the_region_check_refuses_names_the_etablissement_file(region, tmp_path):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("roles: {classroom-studentcomputer: poste}\nhardware_classes: {weird: no-such-profile}\n")
    csv_path = tmp_path / "devices.csv"
    csv_path.write_text("lab8;0671000y-lab8-01;weird;52:54:0b:00:00:05;dhcp;;;;classroom-studentcomputer;;1\n")
    with pytest.raises(SocleError, match="unknown master profile 'no-such-profile'") as err:
        importer.import_csv(csv_path, KLEBER, region=region, mapping=mapping)
    assert f"etablissements/{KLEBER}.yaml:" in str(err.value) and "/tmp/tmp" not in str(err.value)
