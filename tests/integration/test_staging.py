"""Distribution ahead: two lycée serveurs of the ci-serveur master, configured the way the Région does it
(playbooks/stage-config.yml through ansible-runner), stage the ci master from the Région's publication
(nginx in a container) with their own nightly unit, under their établissement's cap. A patch release then
moves only its changed chunks to each serveur; each serveur keeps two versions and prunes the rest.

Network: one podman network this test creates; every address is one of its containers."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
import yaml

from socle.core import playbook
from socle.core.paths import ROOT
from socle.inventory import generator
from socle.inventory import model as inv_model
from socle.registry import store
from tests.integration.conftest import CiMaster, build_ci, newest_master, wait_booted
from tests.integration.staging_lab import bytes_by_client, patch_release, podman, start_region

pytestmark = pytest.mark.integration

NETWORK = "socle-stage-test"
SERVEURS = ["t-stage-a", "t-stage-b"]
REGION = "t-stage-region"
CAP_MBIT = 40  # options.staging_mbit_s of both établissements: 5 MB/s
CACHE = "/srv/socle/masters/2026-2027/ci"


def address(name: str) -> str:
    return podman("inspect", "-f", f'{{{{(index .NetworkSettings.Networks "{NETWORK}").IPAddress}}}}',
                  name).stdout.strip()  # fmt: skip


def stage(name: str) -> list[dict]:
    """Run the serveur's nightly unit now (what its timer starts); its JSON lines from the journal."""
    podman("exec", name, "journalctl", "--rotate", check=False)
    since = podman("exec", name, "date", "+%Y-%m-%d %H:%M:%S").stdout.strip()
    proc = podman("exec", name, "systemctl", "start", "socle-stage.service", check=False)
    out = podman("exec", name, "journalctl", "-u", "socle-stage", "--since", since, "-o", "cat", "--no-pager").stdout
    lines = [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
    assert proc.returncode == 0, (proc.stderr, out[-3000:])
    return lines


def staged(name: str) -> list[str]:
    out = podman("exec", name, "sh", "-c", f"ls -d {CACHE}/*/.staged.json 2>/dev/null || true").stdout
    return sorted((Path(p).parent.name for p in out.split()), key=lambda v: int(v.rsplit(".", 1)[1]))


@pytest.fixture(scope="module")
def lab(ci_master: CiMaster, tmp_path_factory):
    shutil.copy(ROOT / "masters" / "2026-2027" / "ci-serveur.yaml", ci_master.masters_dir / "2026-2027")
    proc = build_ci(ci_master.masters_dir, ci_master.dist, profile="ci-serveur")
    assert proc.returncode == 0, proc.stderr[-4000:]
    image = f"localhost/socle/ci-serveur:{newest_master(ci_master.dist, 'ci-serveur').name}"
    work = tmp_path_factory.mktemp("stage")
    # the Région's publication: the ci master's first release, its chunk store and its index
    dist = work / "dist"
    profile = dist / "masters" / "2026-2027" / "ci"
    profile.mkdir(parents=True)
    shutil.copytree(ci_master.path, profile / ci_master.path.name)
    shutil.copytree(ci_master.path.parent / "store.castr", profile / "store.castr")
    store.write_index(profile)
    # the specs the controller plans with: this year's ci and its rollout
    masters = work / "masters" / "2026-2027"
    masters.mkdir(parents=True)
    for name in ("ci.yaml", "rollout.yml"):
        shutil.copy(ROOT / "masters" / "2026-2027" / name, masters / name)
    for name in [*SERVEURS, REGION]:
        podman("rm", "-f", "-t", "0", name, check=False)
    podman("network", "rm", "-f", NETWORK, check=False)
    podman("network", "create", NETWORK)
    saved = {k: os.environ.get(k) for k in ("SOCLE_MASTERS_DIR", "SOCLE_DIST")}
    try:
        for name in SERVEURS:
            podman("run", "-d", "--name", name, "--hostname", name, "--network", NETWORK, image)
        url = start_region(REGION, NETWORK, image, dist, work)
        wait_booted(*SERVEURS)
        region = work / "region"
        generator.generate(region, etabs=2, postes=2, seed=23)
        for name, path in zip(SERVEURS, sorted((region / "etablissements").glob("*.yaml")), strict=True):
            school = yaml.safe_load(path.read_text())
            school["serveurs"] = [{"hostname": name, "role": "serveur", "ip": address(name), "profile": "ci"}]
            for room in school["salles"]:
                room["profile"] = "ci"
            school.setdefault("options", {})["staging_mbit_s"] = CAP_MBIT
            path.write_text(inv_model.render(school))
        (region / "group_vars").mkdir()
        shutil.copy(ROOT / "inventories" / "grand-est" / "group_vars" / "all.yml", region / "group_vars" / "all.yml")
        (region / "host_vars").mkdir()
        for name in SERVEURS:
            (region / "host_vars" / f"{name}.yml").write_text(yaml.safe_dump(
                {"ansible_connection": "podman_pipe", "ansible_host": name, "ansible_user": "root",
                 "ansible_become": False}))  # fmt: skip
        os.environ["SOCLE_MASTERS_DIR"] = str(work / "masters")
        rc, events = playbook.run(ROOT / "playbooks" / "stage-config.yml", data_dir=work / "runner", inventory=region,
                                  label="stage-config", extravars={
                                      "socle_stage_inventory_dir": str(region), "socle_masters_url": url,
                                      "socle_stage_target": ",".join(SERVEURS)})  # fmt: skip
        assert rc == 0, events.failures
        yield {"dist": dist, "work": work, "url": url}
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
        for name in [*SERVEURS, REGION]:
            podman("rm", "-f", "-t", "0", name, check=False)
        podman("network", "rm", "-f", NETWORK, check=False)


def test_the_serveurs_stage_ahead_then_move_only_the_changed_chunks(lab):
    cfg = json.loads(podman("exec", SERVEURS[0], "cat", "/etc/socle/stage.json").stdout)
    assert cfg["masters"] == [{"year": "2026-2027", "profile": "ci"}] and cfg["url"] == lab["url"]
    assert cfg["rate_bps"] == CAP_MBIT * 125_000
    assert podman("exec", SERVEURS[0], "systemctl", "is-enabled", "socle-stage.timer").stdout.strip() == "enabled"
    first = newest_master(lab["dist"])
    for name in SERVEURS:
        [line] = stage(name)
        assert (line["result"], line["version"]) == ("staged", first.name), line
        assert staged(name) == [first.name]
        # the image the postes will get is the signed one, bit for bit
        digest = podman("exec", name, "sha256sum", f"{CACHE}/{first.name}/rootfs.squashfs").stdout.split()[0]
        assert digest == store.sha256_file(first / "rootfs.squashfs")
        # and the manifest its nightly check judges the postes by (pull mode)
        manifest = json.loads(podman("exec", name, "cat", f"{CACHE}/{first.name}/manifest.json").stdout)
        assert manifest == json.loads((first / "manifest.json").read_text())
        assert stage(name)[0]["result"] == "already staged"
    full = bytes_by_client(lab["work"])
    size = (first / "rootfs.squashfs").stat().st_size
    assert all(full[address(n)] >= size * 0.5 for n in SERVEURS), full  # the first release came whole

    patch, changed = patch_release(lab["dist"], "2026-2027.1", changed_mb=6, seed=1)
    for name in SERVEURS:
        started = time.monotonic()
        [line] = stage(name)
        took = time.monotonic() - started
        assert (line["result"], line["version"]) == ("staged", patch.name), line
        moved = bytes_by_client(lab["work"])[address(name)] - full[address(name)]
        # only the changed chunks (and the small signed files) crossed the WAN, under the cap
        assert moved <= 1.2 * changed, (moved, changed)
        assert took >= 0.9 * changed / (CAP_MBIT * 125_000), (took, changed)
        assert staged(name) == [first.name, patch.name]

    second, _ = patch_release(lab["dist"], "2026-2027.2", changed_mb=1, seed=2)
    for name in SERVEURS:
        [line] = stage(name)
        assert line["result"] == "staged" and line["pruned"] == [first.name], line
        assert staged(name) == [patch.name, second.name]  # the assigned one and the one before
