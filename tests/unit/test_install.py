"""What `invoke install` arms, decided from the inventory before anything is touched: a salle's postes,
or one serveur from another serveur of its établissement (issue #17). The install itself runs in QEMU
(tests/integration/test_salle_qemu.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from socle.core.errors import SocleError
from socle.operations import install
from tests.conftest import run_invoke
from tests.unit.test_inventory import KLEBER, mutate

MAC = "52:54:00:aa:bb:01"


def serveurs(region: Path, *entries: dict) -> None:
    mutate(region, KLEBER, lambda d: d.update(serveurs=list(entries)))


def test_a_serveur_is_armed_by_another_serveur_of_its_etablissement(region):
    serveurs(region, {"hostname": "srv-a", "role": "serveur", "ip": "10.67.0.2"},
             {"hostname": "srv-b", "role": "serveur-secours", "ip": "10.67.0.3", "mac": MAC.upper()})  # fmt: skip
    target = install.find_serveur(region, KLEBER, "srv-b")
    assert (target.serveur, target.serveur_address) == ("srv-a", "10.67.0.2")
    assert target.postes == ["srv-b"] and target.macs == {"srv-b": MAC} and target.addresses == {"srv-b": "10.67.0.3"}
    assert target.profile == "serveur" and target.salle == ""


def test_a_serveur_installs_its_own_profile_and_via_names_the_armer(region):
    serveurs(region, {"hostname": "srv-a", "role": "serveur", "ip": "dhcp", "mac": MAC, "profile": "ci-serveur"},
             {"hostname": "srv-b", "role": "serveur", "ip": "10.67.0.3"},
             {"hostname": "srv-c", "role": "serveur-secours", "ip": "10.67.0.4"})  # fmt: skip
    target = install.find_serveur(region, KLEBER, "srv-a", via="srv-c")
    assert target.serveur == "srv-c" and target.profile == "ci-serveur" and target.addresses == {"srv-a": "srv-a"}


@pytest.mark.parametrize(
    ("entries", "name", "via", "expected"),
    [
        ([{"hostname": "srv-a", "role": "serveur", "ip": "10.67.0.2"}], "srv-z", "", "no serveur 'srv-z'"),
        ([{"hostname": "srv-a", "role": "serveur", "ip": "10.67.0.2"},
          {"hostname": "srv-b", "role": "serveur", "ip": "10.67.0.3"}], "srv-b", "", "no MAC in the inventory"),
        ([{"hostname": "srv-a", "role": "serveur", "ip": "10.67.0.2", "mac": MAC}], "srv-a", "",
         "no other serveur to arm PXE"),
        ([{"hostname": "srv-a", "role": "serveur", "ip": "10.67.0.2", "mac": MAC},
          {"hostname": "srv-b", "role": "serveur", "ip": "10.67.0.3"}], "srv-a", "srv-a", "not another serveur"),
    ],
)  # fmt: skip
def test_what_cannot_be_armed_is_refused_before_anything_runs(region, entries, name, via, expected):
    serveurs(region, *entries)
    with pytest.raises(SocleError) as err:
        install.find_serveur(region, KLEBER, name, via)
    assert expected in err.value.message and err.value.hint


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "either --salle ROOM or --serveur NAME"),
        (["--etab", KLEBER, "--salle", "S101", "--serveur", "srv-0671000y"], "either --salle ROOM or --serveur NAME"),
        (["--etab", KLEBER, "--serveur", "srv-0671000y", "--poste", "x"], "--poste chooses postes of a salle"),
        (["--etab", KLEBER, "--salle", "S101", "--via", "srv-0671000y"], "--via names the serveur"),
        (["--etab", KLEBER, "--serveur", "srv-0671000y", "--window", "500"], "the arming window is 1 to 240"),
        (["--etab", KLEBER, "--serveur", "srv-0671000y"], "no MAC in the inventory for serveur srv-0671000y"),
    ],
)
def test_install_command_line_errors_are_one_line(args, expected):
    proc = run_invoke("install", *args)
    assert proc.returncode == 2 and expected in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
