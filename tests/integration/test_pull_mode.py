"""Pull mode, delivered: two lycée serveurs of the ci-serveur master, each with its postes (ci master),
run their nightly unit (what their timer starts) and write their results into the Région's
PostgreSQL themselves, over TLS, each with its own role. The serveurs were configured the way the
Région (AWX) does it: playbooks/pull-mode.yml through ansible-runner, each with its own key and a
certificate for its own établissement (principal serveur-<UAI>, forced collector). A lycée that tries
to write another school's rows is refused by the database, and its key is refused by another school's
postes (real sshd); the Région report shows both schools, a poste switched off as "not seen", and
flags the third school, which never reported.

Network: one podman network this test creates; PostgreSQL listens on its gateway (the host side of
that bridge) and nowhere else."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from socle.build import ee
from socle.conformity import history, nightly, regiondb
from socle.core import playbook, sshid
from socle.core.paths import ROOT
from socle.inventory import generator
from socle.inventory import model as inv_model
from socle.operations import enrolment
from tests.integration import pglab
from tests.integration.conftest import CiMaster, build_ci, newest_master, podman, wait_booted

pytestmark = pytest.mark.integration

NETWORK = "socle-pull-test"
LYCEES = {"a": ["t-pa01", "t-pa02"], "b": ["t-pb01"]}
OFF = "t-pa02"  # switched off for the night
IDENTITY = "/var/lib/socle/data/identity/ssh_host_ed25519_key"


def address(name: str) -> str:
    return podman("inspect", "-f", f'{{{{(index .NetworkSettings.Networks "{NETWORK}").IPAddress}}}}',
                  name).stdout.strip()  # fmt: skip


def enrol(name: str, uai: str, workdir: Path) -> None:
    """What `invoke install` does once per poste: its host key signed by the Région's host CA, its
    établissement recorded beside it (the same command as socle.operations.enrolment)."""
    pub = podman("exec", name, "cat", f"{IDENTITY}.pub").stdout.strip()
    cert = sshid.sign_host_key(pub, name, workdir)
    subprocess.run(["podman", "exec", "-i", name, "sh", "-c", enrolment.install_identity_command(uai)],
                   input=cert + "\n", text=True, check=True, capture_output=True)  # fmt: skip


@pytest.fixture(scope="module")
def lab(ci_master: CiMaster, tmp_path_factory):
    shutil.copy(ROOT / "masters" / "2026-2027" / "ci-serveur.yaml", ci_master.masters_dir / "2026-2027")
    proc = build_ci(ci_master.masters_dir, ci_master.dist, profile="ci-serveur")
    assert proc.returncode == 0, proc.stderr[-4000:]
    serveurs = {k: f"t-psrv-{k}" for k in LYCEES}
    names = [*serveurs.values(), *(p for postes in LYCEES.values() for p in postes)]
    for name in names:
        podman("rm", "-f", "-t", "0", name, check=False)
    podman("network", "rm", "-f", NETWORK, check=False)
    podman("network", "create", NETWORK)
    for name in serveurs.values():
        podman("run", "-d", "--name", name, "--hostname", name, "--network", NETWORK,
               "localhost/socle/ci-serveur:2026-2027.0")  # fmt: skip
    for postes in LYCEES.values():
        for name in postes:
            podman("run", "-d", "--name", name, "--hostname", name, "--network", NETWORK, ci_master.image)
    wait_booted(*names)
    net = json.loads(podman("network", "inspect", NETWORK).stdout)[0]["subnets"][0]
    server = pglab.start(net["gateway"], net["subnet"])
    work = tmp_path_factory.mktemp("pull")
    try:
        # the Région's inventory: three lycées; the third has no serveur here and never reports
        region = work / "region"
        generator.generate(region, etabs=3, postes=6, seed=20)
        files = sorted((region / "etablissements").glob("*.yaml"))
        uais = {}
        for (key, postes), path in zip(LYCEES.items(), files, strict=False):
            school = yaml.safe_load(path.read_text())
            uais[key] = school["uai"]
            macs = [p["mac"] for s in school["salles"] for p in s["postes"]]
            school["serveurs"] = [{"hostname": serveurs[key], "role": "serveur", "ip": address(serveurs[key])}]
            school["salles"] = [{"id": "INFO1", "usage": "salle informatique", "disciplines": ["nsi-snt"],
                                 "profile": "ci", "postes": [{"hostname": h, "mac": m, "ip": address(h)}
                                                             for h, m in zip(postes, macs, strict=False)]}]  # fmt: skip
            path.write_text(inv_model.render(school))
        third = yaml.safe_load(files[2].read_text())["uai"]
        # what the serveurs use to reach their postes (copied to them), and how the controller reaches
        # the serveurs here (host_vars: podman, never copied)
        (region / "group_vars").mkdir()
        shutil.copy(ROOT / "inventories" / "grand-est" / "group_vars" / "all.yml", region / "group_vars" / "all.yml")
        (region / "host_vars").mkdir()
        regiondb.provision(server.admin)
        for key, name in serveurs.items():
            (region / "host_vars" / f"{name}.yml").write_text(yaml.safe_dump({
                "ansible_connection": "podman_pipe", "ansible_host": name, "ansible_user": "root",
                "ansible_become": False,
                # from Ansible Vault in production (host_vars/<serveur>/vault.yml)
                "socle_pull_db_password": regiondb.add_lycee(server.admin, uais[key]),
            }))  # fmt: skip
        # postes and serveurs are enrolled at their install; the serveur checks itself over SSH too
        for key, name in serveurs.items():
            for host in (name, *LYCEES[key]):
                enrol(host, uais[key], work / "certs")
        # the reference manifest of the master the postes run, as the serveur's image cache holds it
        master = newest_master(ci_master.dist)
        version = master.name
        for name in serveurs.values():
            cache = f"/srv/socle/masters/2026-2027/ci/{version}"
            podman("exec", name, "mkdir", "-p", cache)
            podman("cp", str(master / "manifest.json"), f"{name}:{cache}/manifest.json")
        rc, events = playbook.run(ROOT / "playbooks" / "pull-mode.yml", data_dir=work / "runner", inventory=region,
                                  label="pull-mode", extravars={
                                      "socle_pull_inventory_dir": str(region),
                                      "socle_pull_db_host": pglab.NAME, "socle_pull_db_hostaddr": net["gateway"],
                                      "socle_pull_db_ca": server.ca.read_text(),
                                      "socle_pull_known_hosts": sshid.known_hosts().read_text(),
                                      "socle_pull_wake_wait_s": 3,
                                      "socle_pull_target": ",".join(serveurs.values()),
                                  })  # fmt: skip
        assert rc == 0, events.failures
        reporter = server.url("region_reports", regiondb.add_reporter(server.admin, "region_reports"))
        yield {"serveurs": serveurs, "uais": uais, "third": third, "region": region, "reporter": reporter,
               "server": server, "version": version, "addresses": {n: address(n) for n in names}}  # fmt: skip
    finally:
        server.stop()
        for name in names:
            podman("rm", "-f", "-t", "0", name, check=False)
        podman("network", "rm", "-f", NETWORK, check=False)


def test_each_serveur_writes_its_night_and_the_region_reads_them(lab, tmp_path):
    podman("stop", "-t", "0", OFF)  # switched off at night: neither conformant nor drift
    for key, name in lab["serveurs"].items():
        # the master carries socle, its timer, and nothing from the test tools
        assert podman("exec", name, "systemctl", "is-enabled", "socle-nightly.timer").stdout.strip() == "enabled"
        tools = podman("exec", name, "/opt/socle/venv/bin/python", "-c", "import pytest", check=False)
        assert tools.returncode != 0
        night = podman("exec", name, "systemctl", "start", "socle-nightly.service", check=False)
        journal = podman("exec", name, "journalctl", "-u", "socle-nightly", "--no-pager", "-n", "60").stdout
        assert night.returncode == 0, journal[-3000:]
        assert f"socle-nightly {lab['uais'][key]}:" in journal
    rates, missing = history.school_rates([*lab["uais"].values(), lab["third"]], db=lab["reporter"])
    assert missing == {lab["third"]: None}
    assert set(rates) == set(lab["uais"].values())
    summary = nightly.region_report(region=lab["region"], report=tmp_path / "region", db=lab["reporter"])
    hosts = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "region" / "hosts").glob("*.json")}
    assert hosts[OFF]["status"] == "not seen"
    assert hosts["t-pa01"]["status"] in ("conformant", "drift") and hosts["t-pb01"]["status"] in ("conformant", "drift")
    assert {s["uai"] for s in summary["silent"]} == {lab["third"]}
    assert "t-psrv-a" in hosts and hosts["t-psrv-a"]["status"] != "not seen"  # the serveur checked itself too


def test_a_lycee_cannot_write_another_schools_rows(lab):
    """From the serveur itself, with its own configuration (its role, its passfile)."""
    other = lab["uais"]["b"]
    script = (
        "import yaml, sqlalchemy as sa\n"
        "url = yaml.safe_load(open('/etc/socle/pull.yml'))['database']\n"
        "with sa.create_engine(url).begin() as con:\n"
        f"    con.execute(sa.text(\"INSERT INTO conformity_runs (target, at) VALUES ('{other}', 'now')\"))\n"
    )
    proc = podman("exec", "-u", "socle-pull", lab["serveurs"]["a"], "/opt/socle/venv/bin/python", "-c", script,
                  check=False)  # fmt: skip
    assert proc.returncode != 0 and "row-level security" in proc.stderr


def test_the_execution_environment_runs_the_conformity_playbook(lab, tmp_path):
    """socle's execution environment, built here with no registry, runs the conformity playbook on the
    lycée's postes the way AWX would: ansible-runner with the image, the project mounted, SSH to the
    postes with their host certificates checked."""
    image = ee.build("test")
    assert podman("run", "--rm", image, "python3", "-c", "import socle, ansible_runner, sqlalchemy").returncode == 0
    assert podman("run", "--rm", image, "python3", "-c", "import pytest", check=False).returncode != 0
    postes = ["t-pa01", "t-pb01"]
    rc, events = playbook.run(
        ROOT / "playbooks" / "conformity.yml", data_dir=tmp_path / "runner", inventory=lab["region"],
        label="conformity-ee", limit=",".join(postes), envvars=sshid.ansible_env(), results=tmp_path / "raw",
        container=playbook.Container(image, options=("--network", NETWORK), mounts=(str(lab["region"]),)),
    )  # fmt: skip
    records = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "raw").glob("*.json")}
    assert rc == 0, events.failures
    assert {h: r["status"] for h, r in records.items()} == dict.fromkeys(postes, "collected")
    assert all(r["snapshot"]["master"]["profile"] == "ci" for r in records.values())
    command = json.loads((tmp_path / "runner" / "artifacts" / "conformity-ee" / "command").read_text())
    assert command["command"][0] == "podman" and image in command["command"]


def _pull_ssh(lab, serveur: str, poste: str, command: str) -> subprocess.CompletedProcess[str]:
    """ssh from ``serveur`` as its nightly check's account, with its own key and certificate."""
    return podman("exec", "-u", "socle-pull", serveur, "ssh", "-i", "/etc/socle/ssh/pull_ed25519",
                  "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=yes",
                  "-o", "UserKnownHostsFile=/etc/socle/ssh/known_hosts", "-o", f"HostKeyAlias={poste}",
                  f"ansible@{lab['addresses'][poste]}", command, check=False)  # fmt: skip


def test_a_serveurs_key_collects_its_own_postes_and_nothing_else(lab):
    """Root on lycée A's serveur (its pull key and certificate): the collector on A's postes, no
    command of its choosing there, and nothing at all on lycée B's."""
    serveur = lab["serveurs"]["a"]
    cert = podman("exec", serveur, "ssh-keygen", "-L", "-f", "/etc/socle/ssh/pull_ed25519-cert.pub").stdout
    assert f"serveur-{lab['uais']['a']}" in cert and "force-command /usr/local/sbin/socle-collect" in cert
    own = _pull_ssh(lab, serveur, "t-pa01", "collect")
    assert own.returncode == 0, own.stderr
    assert json.loads(own.stdout)["hostname"] == "t-pa01"
    root = _pull_ssh(lab, serveur, "t-pa01", "sudo -n id -u")  # what the shared key allowed before #36
    assert root.returncode == 2 and root.stdout == "" and "only 'collect'" in root.stderr
    other = _pull_ssh(lab, serveur, "t-pb01", "collect")
    assert other.returncode == 255 and "Permission denied" in other.stderr
    other_serveur = _pull_ssh(lab, serveur, lab["serveurs"]["b"], "collect")
    assert other_serveur.returncode == 255


def test_a_revoked_serveur_key_is_refused_once_the_list_reaches_the_postes(lab, tmp_path):
    """Revocation: the serveur's public key in management_revoked_keys, pushed by the management
    role's own tasks (what regional IT runs, playbooks/ssh-access.yml), and A's poste refuses it."""
    serveur, poste = lab["serveurs"]["a"], "t-pa01"
    pub = podman("exec", serveur, "cat", "/etc/socle/ssh/pull_ed25519.pub").stdout.strip()
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {poste: {
        "ansible_connection": "podman_pipe", "ansible_host": poste, "ansible_user": "root", "ansible_become": False,
    }}}}))  # fmt: skip

    def push(revoked: list[str]) -> None:
        rc, events = playbook.run(ROOT / "playbooks" / "ssh-access.yml", data_dir=tmp_path / "runner",
                                  inventory=inventory, label="ssh-access",
                                  extravars={"management_revoked_keys": revoked,
                                             "socle_access_target": poste})  # fmt: skip
        assert rc == 0, events.failures

    push([f"key: {pub}"])
    try:
        refused = _pull_ssh(lab, serveur, poste, "collect")
        assert refused.returncode == 255 and "Permission denied" in refused.stderr
    finally:
        push([])
    assert _pull_ssh(lab, serveur, poste, "collect").returncode == 0
