"""Reimage a salle for real: a podman network with one lycée serveur (ci-serveur master: nginx, udpcast)
and a room of ten postes (ci master: socle-slot, udp-receiver, sqv). The signed ci master goes to every
poste by multicast, with HTTP as the fallback; slots end byte-identical; a tampered image is refused;
a transfer killed midway leaves the active slot untouched and the next run resumes it."""

from __future__ import annotations

import http.server
import json
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
import yaml

from socle.core import history, playbook
from socle.core.paths import ROOT
from socle.inventory import generator
from socle.inventory import model as inv_model
from socle.registry import store
from tests.conftest import run_invoke
from tests.integration.conftest import CiMaster, build_ci, newest_master, podman, wait_booted

pytestmark = pytest.mark.integration

NETWORK = "socle-reimage-test"
SERVEUR = "t-rsrv"
POSTES = [f"t-rp{i:02d}" for i in range(1, 11)]
SALLE = "INFO2"
SLOTS = "/var/lib/socle/slots"


def sh(host: str, script: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return podman("exec", host, "sh", "-c", script, check=check)


def slot_json(host: str, *args: str) -> tuple[int, dict]:
    proc = podman("exec", host, "/usr/local/sbin/socle-slot", *args, check=False)
    return proc.returncode, json.loads(proc.stdout)


@pytest.fixture(scope="module")
def room(ci_master: CiMaster, tmp_path_factory):
    shutil.copy(Path("masters/2026-2027/ci-serveur.yaml"), ci_master.masters_dir / "2026-2027" / "ci-serveur.yaml")
    proc = build_ci(ci_master.masters_dir, ci_master.dist, profile="ci-serveur")
    assert proc.returncode == 0, proc.stderr[-4000:]
    for name in [SERVEUR, *POSTES]:
        podman("rm", "-f", "-t", "0", name, check=False)
    podman("network", "rm", "-f", NETWORK, check=False)
    podman("network", "create", NETWORK)
    podman("run", "-d", "--name", SERVEUR, "--hostname", SERVEUR, "--network", NETWORK,
           "localhost/socle/ci-serveur:2026-2027.0")  # fmt: skip
    for name in POSTES:
        podman("run", "-d", "--name", name, "--hostname", name, "--network", NETWORK, ci_master.image)
    address = podman("inspect", "-f", f"{{{{(index .NetworkSettings.Networks \"{NETWORK}\").IPAddress}}}}",
                     SERVEUR).stdout.strip()  # fmt: skip
    region = tmp_path_factory.mktemp("reimage-region")
    generator.generate(region, etabs=1, postes=len(POSTES), seed=5)
    path = next((region / "etablissements").glob("*.yaml"))
    school = yaml.safe_load(path.read_text())
    macs = [p["mac"] for s in school["salles"] for p in s["postes"]]
    school["serveurs"] = [{"hostname": SERVEUR, "role": "serveur", "ip": address}]
    school["salles"] = [{"id": SALLE, "usage": "salle informatique", "disciplines": ["nsi-snt"], "profile": "ci",
                         "postes": [{"hostname": h, "mac": m, "ip": "dhcp"} for h, m in zip(POSTES, macs,
                                                                                            strict=True)]}]  # fmt: skip
    path.write_text(inv_model.render(school))
    (region / "group_vars").mkdir()
    (region / "group_vars" / "all.yml").write_text(
        "ansible_connection: podman_pipe\nansible_python_interpreter: /usr/bin/python3\n"
        "socle_reimage_reach_timeout: 3\nsocle_reimage_wake_timeout: 5\n"
        # a cap on HTTP downloads (as a lycée would set during class): the kill test needs time
        "image_cache_limit_rate: 25m\n"
    )
    (region / "host_vars").mkdir()
    (region / "host_vars" / f"{SERVEUR}.yml").write_text(f"ansible_host: {SERVEUR}\n")  # podman, not the IP
    wait_booted(*POSTES)
    # the newest ci master of the dist (a patch release when test_build_master made one)
    newest = newest_master(ci_master.dist)
    manifest = json.loads((newest / "manifest.json").read_text())
    yield {"region": region, "uai": school["uai"], "dist": ci_master.dist, "address": address,
           "master": newest, "version": manifest["version"],
           "sha256": manifest["artefacts"]["rootfs.squashfs"]["sha256"]}  # fmt: skip
    for name in [SERVEUR, *POSTES]:
        podman("rm", "-f", "-t", "0", name, check=False)
    podman("network", "rm", "-f", NETWORK, check=False)


def reimage(room, report: Path, *extra: str):
    # --fetch: this lab's serveur has no nightly staging (tests/integration/test_staging.py proves it)
    return run_invoke("reimage", "--etab", room["uai"], "--salle", SALLE, "--reboot", "no", "--fetch", "--inventory",
                      str(room["region"]), "--report", str(report), *extra, env={"SOCLE_DIST": str(room["dist"])},
                      timeout=1200)  # fmt: skip


def test_a_whole_room_by_multicast_with_a_dead_poste_then_resumed(room, tmp_path):
    dead = POSTES[-1]
    podman("stop", "-t", "2", dead)
    first = tmp_path / "first"
    proc = reimage(room, first)
    assert proc.returncode == 1, proc.stderr[-4000:]  # the dead poste is reported, never waited for
    record = json.loads((first / "record.json").read_text())
    by_host = {p["host"]: p for p in record["postes"]}
    assert by_host[dead]["status"] == "unreachable"
    alive = POSTES[:-1]
    assert all(by_host[h]["status"] == "staged" for h in alive), by_host  # --reboot no
    methods = [by_host[h]["method"] for h in alive]
    assert methods.count("multicast") >= len(alive) - 1, methods  # one session for the room
    for host in alive:
        _, status = slot_json(host, "status")
        assert status["active"] == "B" and status["slots"]["B"]["version"] == room["version"]
        written = sh(host, f"sha256sum {SLOTS}/B/rootfs.squashfs").stdout.split()[0]
        assert written == room["sha256"]  # byte-identical to the master
        assert "ORDER=B A\nA_OK=1\nA_TRY=0\nB_OK=1\nB_TRY=0\n" in sh(host, f"cat {SLOTS}/grubenv").stdout  # GRUB's
    assert record["who"]["role"] and record["master"] == room["version"] and record["outcome"] == "incomplete"
    assert (tmp_path / "interventions.jsonl").exists()
    # and its row in the history database: who, the postes brought back (the staged ones are not yet)
    row = next(r for r in history.interventions(record["started"], "9999") if r["run"] == record["run"])
    assert (row["operation"], row["outcome"], row["postes_total"], row["postes_ok"]) == ("reimage", "incomplete",
                                                                                           len(POSTES), 0)  # fmt: skip
    assert row["operator"] == record["who"]["name"] and row["master"].endswith(room["version"])
    assert "unreachable" in proc.stderr and dead in proc.stderr

    # the poste is back: the same command finishes the room and skips the postes already done
    podman("start", dead)
    wait_booted(dead)
    second = tmp_path / "second"
    proc = reimage(room, second)
    assert proc.returncode == 0, proc.stderr[-4000:]
    by_host = {p["host"]: p for p in json.loads((second / "record.json").read_text())["postes"]}
    assert by_host[dead]["status"] == "staged"
    assert all(by_host[h]["status"] == "already current" for h in alive)


def test_another_salles_session_on_the_serveur_is_left_alone(room, tmp_path):
    # another salle's sender holds the first port pair (a unit of its own, as reimage.yml starts them)
    sh(SERVEUR, "mkdir -p /run/socle/udp-ports && systemd-run --unit socle-udp-sender-other --quiet sleep 900 && "
                "echo socle-udp-sender-other > /run/socle/udp-ports/9000")  # fmt: skip
    try:
        report = tmp_path / "beside"
        proc = reimage(room, report, "--force", "--full")
        assert proc.returncode == 0, proc.stderr[-4000:]
        postes = json.loads((report / "record.json").read_text())["postes"]
        assert [p["method"] for p in postes].count("multicast") >= len(POSTES) - 1, postes
        assert sh(SERVEUR, "systemctl is-active socle-udp-sender-other").stdout.strip() == "active"
        claim = sh(SERVEUR, "cat /run/socle/udp-ports/9002").stdout
        assert claim.startswith(f"socle-udp-sender-{room['uai'].lower()}-{SALLE.lower()}-"), claim
    finally:
        sh(SERVEUR, "systemctl stop socle-udp-sender-other; rm -f /run/socle/udp-ports/9000", check=False)


def test_a_room_without_multicast_is_served_over_http(room, tmp_path):
    report = tmp_path / "http"
    proc = reimage(room, report, "--no-multicast", "--force", "--full")
    assert proc.returncode == 0, proc.stderr[-4000:]
    postes = json.loads((report / "record.json").read_text())["postes"]
    assert {(p["status"], p["method"]) for p in postes} == {("staged", "http")}, postes
    size = (room["master"] / "rootfs.squashfs").stat().st_size
    assert all(p["bytes"] == size for p in postes)
    for host in POSTES:
        _, status = slot_json(host, "status")
        written = sh(host, f"sha256sum {SLOTS}/{status['active']}/rootfs.squashfs").stdout.split()[0]
        assert written == room["sha256"]


def test_a_tampered_image_or_signature_is_refused(room):
    poste = POSTES[0]
    cache = f"/srv/socle/masters/{room['version'][:9]}/ci/{room['version']}"
    before = slot_json(poste, "status")[1]
    for name, damage in (
        ("image", "printf 'x' | dd of=rootfs.squashfs bs=1 seek=4096 conv=notrunc 2>/dev/null"),
        ("sums", "sed -i 's/^./0/' SHA256SUMS"),
    ):
        bad = f"/srv/socle/masters/tampered-{name}"
        sh(SERVEUR, f"rm -rf {bad} && cp -r {cache} {bad} && cd {bad} && {damage}")
        rc, out = slot_json(poste, "receive", "--version", room["version"], "--force", "--no-delta",
                            "--base-url", f"http://{room['address']}/socle/masters/tampered-{name}")  # fmt: skip
        assert rc == 3 and out["result"] == "refused", out
        expected = "does not match SHA256SUMS" if name == "image" else "signature of SHA256SUMS does not verify"
        assert expected in out["reason"]
        after = slot_json(poste, "status")[1]
        assert after["active"] == before["active"] and after["order"] == before["order"]


def test_a_transfer_killed_midway_leaves_the_active_slot_and_resumes(room):
    poste = POSTES[1]
    before = slot_json(poste, "status")[1]
    url = f"http://{room['address']}/socle/masters/{room['version'][:9]}/ci/{room['version']}"
    target = "A" if before["active"] == "B" else "B"
    # killed once its first bytes are on the disk (HTTP is capped at 25 MB/s: the image is far from complete)
    sh(poste, f"/usr/local/sbin/socle-slot receive --version {room['version']} --force --no-delta --base-url {url} "
              f">/dev/null 2>&1 & pid=$!; for i in $(seq 600); do [ -s {SLOTS}/{target}/rootfs.squashfs.part ] "
              "&& break; sleep 0.05; done; kill -KILL $pid")  # fmt: skip
    middle = slot_json(poste, "status")[1]
    assert 0 < middle["slots"][target]["partial_bytes"] < (room["master"] / "rootfs.squashfs").stat().st_size
    assert middle["active"] == before["active"] and middle["order"] == before["order"]
    rc, out = slot_json(poste, "receive", "--version", room["version"], "--force", "--no-delta", "--base-url", url)
    assert rc == 0 and out["result"] == "done" and out["method"] == "http", out
    assert out["bytes"] < (room["master"] / "rootfs.squashfs").stat().st_size  # resumed, not restarted
    assert slot_json(poste, "status")[1]["active"] == target


def test_reset_schedules_a_pristine_boot(room, tmp_path):
    proc = run_invoke("reimage", "--etab", room["uai"], "--salle", SALLE, "--reset", "--reboot", "no",
                      "--inventory", str(room["region"]), "--report", str(tmp_path / "reset"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads((tmp_path / "reset" / "record.json").read_text())
    assert {p["status"] for p in record["postes"]} == {"staged"}  # --reboot no: at the next boot
    active = slot_json(POSTES[2], "status")[1]["active"]
    assert sh(POSTES[2], f"test -e /var/lib/socle/data/reset-{active}", check=False).returncode == 0


def test_a_patch_release_reaches_the_room_through_reimage(room, ci_master: CiMaster, tmp_path):
    """invoke patch: the serveur takes its security updates, then the salle takes the master's patch release."""
    # the test serveur has no apt source: nothing leaves the test network (no pending update)
    sh(SERVEUR, "rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*")
    proc = build_ci(ci_master.masters_dir, room["dist"], "--patch")
    assert proc.returncode == 0, proc.stderr[-4000:]
    release = newest_master(room["dist"]) / "manifest.json"
    version = json.loads(release.read_text())["version"]
    assert version != room["version"]
    report = tmp_path / "patch"
    proc = run_invoke("patch", "--etab", room["uai"], "--now", "--fetch", "--inventory", str(room["region"]),
                      "--report", str(report), env={"SOCLE_DIST": str(room["dist"])}, timeout=1200)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    hosts = {h["host"]: h for h in json.loads((report / "run.json").read_text())["hosts"]}
    assert hosts[SERVEUR]["status"] == "current"
    assert all(hosts[p]["status"] == "patched" and hosts[p]["kind"] == "poste-linux" for p in POSTES), hosts
    # only the chunks the postes lacked moved (casync, seeded by their slots)
    record = json.loads(next((report / "reimage").glob("*/record.json")).read_text())
    size = (release.parent / "rootfs.squashfs").stat().st_size
    assert all(p["method"] == "delta" and p["bytes"] < size / 2 for p in record["postes"]), record["postes"]
    for poste in POSTES:
        status = slot_json(poste, "status")[1]
        assert status["slots"][status["active"]]["version"] == version


def test_a_master_the_serveur_has_not_staged_never_crosses_the_wan_unasked(room, tmp_path):
    """The serveur stages masters at night under its cap (test_staging.py); a reimage of one it does not
    have stops before any transfer, and says how to ask for it; with --fetch it goes."""
    version = newest_master(room["dist"]).name
    cached = f"/srv/socle/masters/2026-2027/ci/{version}"
    sh(SERVEUR, f"rm -rf {cached}")
    proc = run_invoke("reimage", "--etab", room["uai"], "--salle", SALLE, "--reboot", "no", "--inventory",
                      str(room["region"]), "--report", str(tmp_path / "unasked"), env={"SOCLE_DIST": str(room["dist"])},
                      timeout=1200)  # fmt: skip
    assert proc.returncode != 0
    postes = json.loads((tmp_path / "unasked" / "record.json").read_text())["postes"]
    assert all(f"master 2026-2027/ci/{version} is not staged on this serveur yet" in p["detail"]
               and "invoke reimage --fetch" in p["detail"] for p in postes), postes  # fmt: skip
    assert sh(SERVEUR, f"test -e {cached}/rootfs.squashfs", check=False).returncode != 0, "nothing was transferred"
    proc = reimage(room, tmp_path / "asked")  # --fetch
    assert proc.returncode == 0, proc.stderr[-4000:]
    marker = json.loads(sh(SERVEUR, f"cat {cached}/.staged.json").stdout)
    assert marker["sums_sha256"] == store.sha256_file(newest_master(room["dist"]) / "SHA256SUMS")


def test_awx_runs_the_conformity_and_reimage_playbooks_with_no_socle_cli(room, tmp_path):
    """What AWX runs: ansible-runner, the project, the inventory (the socle plugin) and the survey's
    answers. No socle command computes anything: the playbook finds the salle, its serveur and the
    newest master in the Région's HTTP publication, and the serveur fetches it from there."""
    net = json.loads(podman("network", "inspect", NETWORK).stdout)[0]["subnets"][0]
    requests: list[str] = []
    masters = room["dist"] / "masters"

    class Publication(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(masters), **kwargs)

        def log_message(self, fmt, *args):
            requests.append(self.path)

    server = http.server.ThreadingHTTPServer((net["gateway"], 0), Publication)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        version = json.loads((masters / "2026-2027" / "ci" / "index.json").read_text())["versions"][-1]["version"]
        sh(SERVEUR, f"rm -rf /srv/socle/masters/2026-2027/ci/{version}")  # the serveur must fetch it again
        raw = tmp_path / "raw"
        rc, events = playbook.run(
            ROOT / "playbooks" / "reimage-salle.yml", data_dir=tmp_path / "reimage", inventory=room["region"],
            label="awx-reimage", results=raw,
            extravars={"socle_salle": SALLE.lower(), "socle_reimage_reboot": "no", "socle_reimage_force": "true",
                       "socle_reimage_fetch": "true",
                       "socle_masters_url": f"http://{net['gateway']}:{server.server_port}"},
        )  # fmt: skip
        assert rc == 0, events.failures
    finally:
        server.shutdown()
    results = {h: playbook.load_raw(raw / f"{h}.json") for h in POSTES}
    assert all(r and r["record"]["result"] == "staged" and r["record"]["version"] == version
               for r in results.values()), results  # fmt: skip
    assert "/2026-2027/ci/index.json" in requests
    assert f"/2026-2027/ci/{version}/SHA256SUMS" in requests and f"/2026-2027/ci/{version}/rootfs.squashfs" in requests
    # the nightly conformity playbook, the same way
    snapshots_dir = tmp_path / "snapshots"
    rc, events = playbook.run(ROOT / "playbooks" / "conformity.yml", data_dir=tmp_path / "conformity",
                              inventory=room["region"], label="awx-conformity", results=snapshots_dir)  # fmt: skip
    snapshots = {p.stem: json.loads(p.read_text())["status"] for p in snapshots_dir.glob("*.json")}
    assert snapshots == dict.fromkeys([SERVEUR, *POSTES], "collected"), events.failures
