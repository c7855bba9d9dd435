"""The decisions of the boot chain, one by one: GRUB's boot state as socle-slot writes it, mark-good
after a fallback or a slot chosen by hand, which masters a poste refuses, the serial, how the
controller reads a poste's boot, and the host certificates. (The whole chain on machines that boot:
tests/integration/test_salle_qemu.py.)"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from socle.conformity.evaluate import fallback
from socle.core import sshid
from socle.core.paths import ROOT
from socle.operations.reimage import judge_boot
from socle.registry.store import serial_of
from tests.conftest import load_script

SOCLE_SLOT = ROOT / "roles" / "reimage_client" / "files" / "usr" / "local" / "sbin" / "socle-slot"


def load_socle_slot():
    """socle-slot as a fresh module, reading the environment as it is now."""
    return load_script(SOCLE_SLOT, "socle_slot")


@pytest.fixture
def slot(tmp_path, monkeypatch):
    """socle-slot as a module, its slots and data in tmp_path, its kernel command line given by the test."""
    monkeypatch.setenv("SOCLE_SLOTS", str(tmp_path / "slots"))
    monkeypatch.setenv("SOCLE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("SOCLE_SLOT_LOCK", str(tmp_path / "lock" / "socle-slot.lock"))
    module = load_socle_slot()
    (tmp_path / "slots").mkdir()
    module.cmdline = lambda: dict(module.CMDLINE)
    module.CMDLINE = {}
    module.writable = lambda: None
    return module


def _release(slot, name: str, version: str) -> None:
    folder = Path(slot.SLOTS) / name
    folder.mkdir(exist_ok=True)
    (folder / "release.json").write_text(json.dumps({"version": version, "serial": serial_of(version)}))


def test_grubenv_is_a_grub_environment_block(slot):
    slot.write_boot({**slot.BOOT_DEFAULTS, "ORDER": "B A", "B_OK": "1"})
    raw = (Path(slot.SLOTS) / "grubenv").read_bytes()
    assert len(raw) == 1024 and raw.startswith(b"# GRUB Environment Block\n") and raw.endswith(b"#")
    assert slot.read_boot()["ORDER"] == "B A" and slot.active() == "B"


def test_an_automatic_boot_of_the_previous_slot_is_a_fallback(slot):
    _release(slot, "A", "2026-2027.1")
    _release(slot, "B", "2026-2027.2")
    slot.write_boot({**slot.BOOT_DEFAULTS, "ORDER": "B A", "A_OK": "1", "B_OK": "1", "B_TRY": "1", "A_TRY": "1"})
    slot.CMDLINE = {"socle.slot": "A", "socle.auto": "1"}
    out = slot.mark_good()
    assert out["fell_back_from"] == {"slot": "B", "version": "2026-2027.2"}
    state = slot.read_boot()
    assert state["ORDER"] == "A B" and state["B_OK"] == "0" and state["A_OK"] == "1" and state["A_TRY"] == "0"


def test_a_slot_chosen_by_hand_changes_nothing_else(slot):
    _release(slot, "A", "2026-2027.1")
    _release(slot, "B", "2026-2027.2")
    slot.write_boot({**slot.BOOT_DEFAULTS, "ORDER": "B A", "A_OK": "1", "B_OK": "1", "B_TRY": "1"})
    slot.CMDLINE = {"socle.slot": "A"}
    out = slot.mark_good()
    assert out["fell_back_from"] is None and out["chosen_by_hand"]
    state = slot.read_boot()
    assert state["ORDER"] == "B A" and state["B_OK"] == "1" and state["B_TRY"] == "0"


def test_the_new_slot_booting_healthy_stays_the_default(slot):
    _release(slot, "B", "2026-2027.2")
    slot.write_boot({**slot.BOOT_DEFAULTS, "ORDER": "B A", "A_OK": "1", "B_OK": "1", "B_TRY": "1"})
    slot.CMDLINE = {"socle.slot": "B", "socle.auto": "1"}
    assert slot.mark_good()["fell_back_from"] is None
    assert slot.read_boot() == {"ORDER": "B A", "A_OK": "1", "A_TRY": "0", "B_OK": "1", "B_TRY": "0"}


@pytest.mark.parametrize(
    ("signed", "asked", "running", "rollback", "refused"),
    [
        ("2026-2027.2", "2026-2027.2", "2026-2027.1", False, None),
        ("2026-2027.0", "2026-2027.3", "2026-2027.1", False, "not the 2026-2027.3"),  # served under a newer name
        ("2026-2027.0", "2026-2027.0", "2026-2027.1", False, "older than the running"),
        ("2026-2027.0", "2026-2027.0", "2026-2027.1", True, None),  # an explicit rollback
        ("2027-2028.0", "2027-2028.0", "2026-2027.9", False, None),  # next school year
    ],
)
def test_which_masters_a_poste_refuses(slot, signed, asked, running, rollback, refused):
    release = {"version": signed, "serial": serial_of(signed), "profile": "poste-linux"}
    reason = slot.judge(release, SimpleNamespace(version=asked, rollback=rollback, profile=""),
                        {"version": running, "serial": serial_of(running), "profile": "poste-linux"})  # fmt: skip
    assert (reason is None) if refused is None else (refused in reason)


def test_one_command_changes_the_slots_at_a_time(slot, capsys):
    """Issue #36: two commands that change slots or boot state never run together; status still does."""
    held = slot.hold_lock(1)
    slot.LOCK_WAIT_S = 0.3
    try:
        assert slot.main(["reset"]) == 3
        assert "another socle-slot command is running" in capsys.readouterr().out
        assert slot.main(["status"]) == 0
    finally:
        os.close(held)
    assert slot.main(["reset"]) != 3


@pytest.mark.parametrize(
    ("signed", "asked", "running", "refused"),
    [
        ("serveur", "", "poste-linux", "of profile serveur, not poste-linux"),  # a LAN neighbour's answer
        ("serveur", "serveur", "poste-linux", None),  # the controller changes the salle's profile
        ("poste-linux", "serveur", "poste-linux", "not serveur"),
        (None, "", "poste-linux", "of profile None"),  # a release without a profile
        ("poste-linux", "", None, "no profile to check"),  # an install the PXE script gave no profile
    ],
)
def test_a_poste_refuses_a_signed_master_of_another_profile(slot, signed, asked, running, refused):
    """Issue #36: the signature says the Région made it, not that it is this poste's."""
    release = {"version": "2026-2027.3", "serial": serial_of("2026-2027.3"), "profile": signed}
    reason = slot.judge(release, SimpleNamespace(version="", rollback=False, profile=asked),
                        {"version": "2026-2027.2", "serial": serial_of("2026-2027.2"), "profile": running})  # fmt: skip
    assert (reason is None) if refused is None else (refused in reason)


def test_the_serial_only_grows():
    versions = ["2026-2027.0", "2026-2027.1", "2026-2027.10", "2027-2028.0"]
    assert [serial_of(v) for v in versions] == sorted(serial_of(v) for v in versions)
    assert serial_of("2026-2027.3") == 2026000003


@pytest.mark.parametrize(
    ("record", "status"),
    [
        ({"result": "done", "slot": "B", "boot": {"booted": "B", "healthy": True, "version": "v2"}}, "done"),
        ({"result": "done", "slot": "B", "boot": {"booted": "A", "healthy": True,
                                                  "fell_back_from": {"slot": "B", "version": "v2"}}}, "fell back"),
        ({"result": "done", "slot": "B", "boot": {"booted": "B", "healthy": False}}, ""),
        ({"result": "done", "slot": "B", "boot": None}, ""),
        ({"result": "done", "slot": "B", "version": "v2"}, ""),  # rebooted, no health report
        ({"result": "staged", "slot": "B"}, "staged"),
        ({"result": "reset scheduled", "slot": "A"}, "staged"),
        ({"result": "reset", "slot": "A", "boot": {"booted": "A", "healthy": True}}, "reset"),
    ],
)  # fmt: skip
def test_done_means_booted_the_new_slot_and_healthy(record, status):
    assert judge_boot(record)[0] == status


def test_conformity_sees_a_fallback_of_this_boot_only():
    last = {"fell_back_from": {"slot": "B", "version": "v2"}, "boot_id": "one"}
    assert fallback({"boot_id": "one", "last_boot": last}) == {"slot": "B", "version": "v2"}
    assert fallback({"boot_id": "two", "last_boot": last}) is None
    assert fallback(None) is None


def test_a_host_certificate_names_the_poste_and_verifies_with_the_ca(tmp_path):
    key = tmp_path / "host"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    cert = sshid.sign_host_key(key.with_suffix(".pub").read_text(), "s101-07", tmp_path / "certs")
    (tmp_path / "cert.pub").write_text(cert + "\n")
    shown = subprocess.run(["ssh-keygen", "-L", "-f", str(tmp_path / "cert.pub")], capture_output=True, text=True)
    assert "host certificate" in shown.stdout and "s101-07" in shown.stdout
    assert sshid.known_hosts().read_text().startswith("@cert-authority * ssh-ed25519 ")
    with pytest.raises(Exception, match="not an SSH public key"):
        sshid.sign_host_key("<html>", "s101-07", tmp_path / "certs")
