"""A salle that really boots (issue #17): blank UEFI VMs are installed from the ci-serveur, boot slot A
from their disk, are enrolled (the one-time secret of their armed install, issue #36) and checked over
real SSH (the Région's certificate, host certificate verified), reimaged to a patch release and
rebooted into it. In CI: one poste, install, conformity and reimage (about 20 min of TCG on 2 cores,
the masters' builds included). Under `invoke test --heavy` (two postes) also: a blank serveur-secours
installed from its own master armed by the lycée's serveur, reset, fallback from a master that cannot
boot, an older master refused then rolled back (about 30 min for one poste).

The lab (tests/qemu_lab.py) is a network namespace the test creates: a bridge, the lycée's DHCP
server, the ci-serveur container, the VMs' taps. Nothing else is reached.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from socle.core import signing, sshid
from socle.core.paths import ROOT
from socle.inventory import generator
from socle.inventory import model as inv_model
from socle.registry import store
from tests.integration.conftest import CiMaster, build_ci, newest_master
from tests.qemu_lab import SERVEUR_IP, Lab, sh

# CI boots the one-poste salle through install, conformity and reimage; what only adds minutes of TCG
# (the serveur-secours, reset, fallback, rollback) is marked heavy: `invoke test --heavy` runs all of
# it, with two postes (SOCLE_QEMU_POSTES=2)
pytestmark = [pytest.mark.integration, pytest.mark.qemu]

POSTES = int(os.environ.get("SOCLE_QEMU_POSTES", "1"))
SALLE = "S101"
SECOURS = "srv-secours"
INSTALL_TIMEOUT = 1200


@pytest.fixture(scope="module")
def salle(ci_master: CiMaster, tmp_path_factory):
    """The ci master in this module's own dist, the ci-serveur, the lab."""
    dist = tmp_path_factory.mktemp("salle-dist")
    shutil.copytree(ci_master.path, dist / "masters" / "2026-2027" / "ci" / ci_master.path.name)
    serveur_spec = ci_master.masters_dir / "2026-2027" / "ci-serveur.yaml"
    if not serveur_spec.exists():
        shutil.copy(ROOT / "masters" / "2026-2027" / "ci-serveur.yaml", serveur_spec)
    proc = build_ci(ci_master.masters_dir, dist, profile="ci-serveur")
    assert proc.returncode == 0, proc.stderr[-4000:]
    work = tmp_path_factory.mktemp("salle")
    lab = Lab(work)
    lab.up("localhost/socle/ci-serveur:2026-2027.0")
    try:
        vms = [lab.add_vm(f"p{i:02d}", i) for i in range(1, POSTES + 1)]
        lab.add_vm("stranger", 9)  # PXE-boots while the salle is armed: not in the inventory
        secours = lab.add_vm(SECOURS, 20)  # a blank serveur, installed from its master by the lycée's serveur
        lab.dhcp()
        region = work / "region"
        generator.generate(region, etabs=1, postes=len(vms), seed=17)
        path = next((region / "etablissements").glob("*.yaml"))
        school = yaml.safe_load(path.read_text())
        school["serveurs"] = [{"hostname": "ci-serveur", "role": "serveur", "ip": SERVEUR_IP},
                              {"hostname": SECOURS, "role": "serveur-secours", "ip": secours.ip, "mac": secours.mac,
                               "profile": "ci-serveur"}]  # fmt: skip
        school["salles"] = [{"id": SALLE, "usage": "salle informatique", "disciplines": ["nsi-snt"], "profile": "ci",
                             "postes": [{"hostname": vm.name, "mac": vm.mac, "ip": vm.ip} for vm in vms]}]  # fmt: skip
        path.write_text(inv_model.render(school))
        (region / "group_vars").mkdir()
        shutil.copy(ROOT / "inventories" / "grand-est" / "group_vars" / "all.yml", region / "group_vars" / "all.yml")
        (region / "host_vars").mkdir()
        # the serveur is a container of the lab (podman); the installed postes' console is the serial port
        (region / "host_vars" / "ci-serveur.yml").write_text(
            f"ansible_connection: podman_pipe\nansible_host: {lab.serveur}\npxe_kernel_args: console=ttyS0\n"
        )
        # its own SSH control sockets: a master connection of an earlier lab would answer for 10.77.0.11
        (work / "cp").mkdir()
        env = {**os.environ, "SOCLE_DIST": str(dist), "SOCLE_MASTERS_DIR": str(ci_master.masters_dir),
               "ANSIBLE_SSH_CONTROL_PATH_DIR": str(work / "cp")}  # fmt: skip
        yield {"lab": lab, "vms": vms, "secours": secours, "region": region, "work": work, "uai": school["uai"],
               "env": env, "dist": dist, "keys": {}}  # fmt: skip
    finally:
        lab.down()


INVOKE = os.path.join(os.path.dirname(sys.executable), "invoke")


def invoke(salle, task: str, *args: str, timeout: float = 1800) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`invoke TASK ARGS` as regional IT runs it, from inside the lab's network; its report folder."""
    report = salle["work"] / f"{task}-{len(list(salle['work'].glob(task + '-*')))}"
    proc = salle["lab"].run(INVOKE, task, *args, "--inventory", str(salle["region"]), "--report", str(report),
                            cwd=ROOT, timeout=timeout, env=salle["env"])  # fmt: skip
    return proc, report


def ssh(salle, vm, command: str) -> subprocess.CompletedProcess[str]:
    """The controller's own check: management key, host certificate verified through the Région's CA."""
    return salle["lab"].run(
        "ssh", "-i", str(sshid.controller_key()), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={sshid.known_hosts()}",
        "-o", f"HostKeyAlias={vm.name}", f"ansible@{vm.ip}", command, timeout=120,
    )  # fmt: skip


def slot_status(salle, vm) -> dict:
    proc = ssh(salle, vm, "sudo /usr/local/sbin/socle-slot status")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def host_key(salle, vm) -> str:
    proc = ssh(salle, vm, "sudo cat /var/lib/socle/data/identity/ssh_host_ed25519_key.pub")
    assert proc.returncode == 0, proc.stderr
    return " ".join(proc.stdout.split()[:2])


def pxe_status(lab: Lab) -> dict:
    out = subprocess.run(["podman", "exec", lab.serveur, "/usr/local/sbin/socle-pxe", "status"], capture_output=True,
                         text=True).stdout  # fmt: skip
    return json.loads(out) if out.strip() else {}


def record(proc: subprocess.CompletedProcess[str], report: Path) -> dict:
    assert (report / "record.json").exists(), proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads((report / "record.json").read_text())


def outcome(rec: dict, host: str) -> dict:
    return next(p for p in rec["postes"] if p["host"] == host)


def install_powering_on(salle, report: Path, vms: list, *target: str) -> tuple[str, str, int]:
    """`invoke install TARGET` as regional IT runs it; the CMIL powers ``vms`` on once the serveur says
    it is armed. The command's output and exit code."""
    lab: Lab = salle["lab"]
    armed = subprocess.Popen([*lab.controller(), INVOKE, "install", "--etab", salle["uai"], *target, "--window", "30",
                              "--inventory", str(salle["region"]), "--report", str(report)],
                             cwd=ROOT, env=salle["env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not pxe_status(lab).get("running"):
            assert armed.poll() is None and time.monotonic() < deadline, armed.communicate()
            time.sleep(2)
        for vm in vms:
            lab.start(vm)
        out, err = armed.communicate(timeout=INSTALL_TIMEOUT)
    finally:
        if armed.poll() is None:
            armed.kill()
    return out, err, armed.returncode


def test_blank_postes_install_from_the_serveur_and_a_stranger_is_left_alone(ci_master, salle):
    lab: Lab = salle["lab"]
    stranger = lab.vms["stranger"]
    report = salle["work"] / "install"
    out, err, rc = install_powering_on(salle, report, [*salle["vms"], stranger], "--salle", SALLE)
    assert rc == 0, out + err
    rec = json.loads((report / "record.json").read_text())
    assert rec["outcome"] == "success" and rec["operation"] == "install"
    for vm in salle["vms"]:
        assert outcome(rec, vm.name)["status"] == "installed"
        status = slot_status(salle, vm)
        assert status["booted"] == "A" and status["slots"]["A"]["version"] == "2026-2027.0"
        assert status["last_boot"]["healthy"] and status["last_boot"]["boot_id"] == status["boot_id"]
        salle["keys"][vm.name] = host_key(salle, vm)
    # the stranger asked, was told it is not armed, and its disk is still blank
    assert "not armed for installation" in lab.console(stranger) + stranger.log()
    lab.stop(stranger)
    allocated = json.loads(sh("qemu-img", "map", "--output=json", str(stranger.disk)).stdout)
    assert not any(extent["data"] for extent in allocated), "the stranger's disk was written"
    pxe = pxe_status(lab)
    assert pxe["postes"] == {} and not pxe["running"], "installed postes stay armed"


@pytest.mark.heavy
def test_a_blank_serveur_installs_from_its_master_armed_by_the_lycee_serveur(salle):
    """The same path for a serveur: `invoke install --serveur` arms the ci-serveur for the blank
    serveur's MAC with the serveur's own master; it installs, boots slot A healthy (its image cache
    up), and is enrolled: reached with the management key and its host certificate verified."""
    lab: Lab = salle["lab"]
    secours = salle["secours"]
    report = salle["work"] / "install-serveur"
    out, err, rc = install_powering_on(salle, report, [secours], "--serveur", SECOURS)
    assert rc == 0, out + err + lab.console(secours)[-3000:]
    rec = json.loads((report / "record.json").read_text())
    assert rec["installed"] == "serveur" and rec["salle"] is None and rec["serveur"] == "ci-serveur"
    assert rec["profile"] == "ci-serveur" and outcome(rec, SECOURS)["status"] == "installed"
    status = slot_status(salle, secours)
    assert status["booted"] == "A" and status["slots"]["A"]["version"] == "2026-2027.0"
    assert status["last_boot"]["healthy"] and status["last_boot"]["boot_id"] == status["boot_id"]
    running = json.loads(ssh(salle, secours, "cat /etc/socle/master.json").stdout)
    assert running["profile"] == "ci-serveur"
    # a serveur: its image cache serves, its PXE is there and disarmed
    assert ssh(salle, secours, "systemctl is-active nginx").stdout.strip() == "active"
    pxe = json.loads(ssh(salle, secours, "sudo /usr/local/sbin/socle-pxe status").stdout)
    assert pxe["postes"] == {} and not pxe["running"]
    assert pxe_status(lab)["postes"] == {}, "the installed serveur's MAC stays armed"
    # the salle's tests go on without it: one VM less under software emulation, no traffic of its own
    lab.stop(secours)


def test_conformity_reaches_the_postes_over_verified_ssh(salle):
    proc, _ = invoke(salle, "conformity", "--salle", f"{salle['uai']}/{SALLE}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_reimage_to_a_patch_release_boots_it_and_keeps_the_host_identity(ci_master, salle):
    proc = build_ci(ci_master.masters_dir, salle["dist"], "--patch")
    assert proc.returncode == 0, proc.stderr[-4000:]
    patch = newest_master(salle["dist"])
    assert patch.name != "2026-2027.0"
    proc, report = invoke(salle, "reimage", "--etab", salle["uai"], "--salle", SALLE, "--fetch")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rec = record(proc, report)
    for vm in salle["vms"]:
        assert outcome(rec, vm.name)["status"] == "done", rec
        status = slot_status(salle, vm)
        assert status["booted"] == "B" and status["slots"]["B"]["version"] == patch.name
        running = json.loads(ssh(salle, vm, "cat /etc/socle/master.json").stdout)
        assert running["version"] == patch.name, "the running system is not the new master"
        assert host_key(salle, vm) == salle["keys"][vm.name]
    proc, _ = invoke(salle, "conformity", "--salle", f"{salle['uai']}/{SALLE}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.mark.heavy
def test_reset_drops_what_a_pupil_wrote_and_keeps_the_host_identity(salle):
    for vm in salle["vms"]:
        assert ssh(salle, vm, "echo devoir > /home/ansible/pupil.txt && sync").returncode == 0
    proc, report = invoke(salle, "reimage", "--etab", salle["uai"], "--salle", SALLE, "--reset")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rec = record(proc, report)
    for vm in salle["vms"]:
        assert outcome(rec, vm.name)["status"] == "reset", rec
        assert ssh(salle, vm, "test -e /home/ansible/pupil.txt").returncode == 1, "the overlay was not dropped"
        assert host_key(salle, vm) == salle["keys"][vm.name]


def _republish(source: Path, version: str, *, broken_initrd: bool = False, release_of: Path | None = None) -> Path:
    """A master published under ``version``: a copy of ``source``, with an initrd that panics, or with the
    files of an older master (``release_of``) served under the newer name. Signed with the build's key."""
    target = source.parent / version
    shutil.copytree(release_of or source, target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["version"] = version
    if broken_initrd:
        release = json.loads((target / "release.json").read_text())
        release.update(version=version, serial=release["serial"] + 1)
        (target / "release.json").write_text(json.dumps(release, sort_keys=True) + "\n")
        # not an initramfs: the kernel finds no root file system and panics (panic=10 reboots)
        (target / "initrd.img").write_bytes(b"socle test: this initrd cannot boot\n" * 64)
        files = {n: n for n in manifest["artefacts"]}
        manifest["artefacts"] = store.write_sums(target, files)
        signing.sign(target / "SHA256SUMS")
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return target


@pytest.mark.heavy
def test_a_master_that_cannot_boot_falls_back_on_its_own(ci_master, salle):
    patch = newest_master(salle["dist"])
    broken = _republish(patch, "2026-2027.90", broken_initrd=True)
    try:
        proc, report = invoke(salle, "reimage", "--etab", salle["uai"], "--salle", SALLE, "--fetch")
        assert proc.returncode != 0, "a poste that fell back is not a success"
        rec = record(proc, report)
        for vm in salle["vms"]:
            poste = outcome(rec, vm.name)
            assert poste["status"] == "fell back", rec
            assert "2026-2027.90" in poste["detail"]
            status = slot_status(salle, vm)
            assert status["booted"] == "B" and status["slots"]["B"]["version"] == patch.name
            assert status["last_boot"]["fell_back_from"]["version"] == "2026-2027.90"
            assert status["slots"]["A"]["ok"] is False and status["active"] == "B"
        proc, report = invoke(salle, "conformity", "--salle", f"{salle['uai']}/{SALLE}")
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        assert "master: fallback" in proc.stdout + proc.stderr
        for vm in salle["vms"]:
            drifts = json.dumps(json.loads((report / "hosts" / f"{vm.name}.json").read_text()))
            assert "not on the current master" in drifts and "fell back to its previous master" in drifts
    finally:
        shutil.rmtree(broken)


@pytest.mark.heavy
def test_an_older_master_is_refused_unless_rolled_back(ci_master, salle):
    patch = newest_master(salle["dist"])
    first = salle["dist"] / "masters" / "2026-2027" / "ci" / "2026-2027.0"
    disguised = _republish(patch, "2026-2027.91", release_of=first)
    try:
        proc, report = invoke(salle, "reimage", "--etab", salle["uai"], "--salle", SALLE, "--fetch")
        assert proc.returncode != 0
        rec = record(proc, report)
        for vm in salle["vms"]:
            assert outcome(rec, vm.name)["status"] == "refused", rec
            assert slot_status(salle, vm)["booted"] == "B"
    finally:
        shutil.rmtree(disguised)
    proc, report = invoke(
        salle, "reimage", "--etab", salle["uai"], "--salle", SALLE, "--fetch", "--rollback", "--version", first.name
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rec = record(proc, report)
    assert rec["rollback"] is True and rec["master"] == first.name
    for vm in salle["vms"]:
        assert outcome(rec, vm.name)["status"] == "done"
        status = slot_status(salle, vm)
        assert status["slots"][status["booted"]]["version"] == first.name
