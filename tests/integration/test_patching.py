"""Preventive patching for real: a signed apt repository with a security update, served by the test's
lycée apt cache, applied in waves to serveur containers of the ci master; a failing health check stops
the wave, the rollback guidance is recorded, a second run finishes it, the conformity report shows the
patch latency."""

from __future__ import annotations

import email.utils
import json
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from socle.inventory import generator
from socle.inventory import model as inv_model
from tests.conftest import run_invoke
from tests.integration.conftest import CiMaster, wait_booted

pytestmark = pytest.mark.integration

SERVEURS = ["t-srv-a", "t-srv-b", "t-srv-c", "t-srv-d"]
CACHE = "t-apt-cache"
RELEASE_DATE = "Mon, 23 Nov 2026 06:00:00 +0000"  # when the "security team" published the update
SERVICE = """[Unit]
Description=socle test probe (a service the patch can break)
[Service]
ExecStart=/usr/lib/socle-sonde/sonde
[Install]
WantedBy=multi-user.target
"""
PROBE_1_0 = "#!/bin/sh\nexec sleep infinity\n"
# 1.1 drops a configuration syntax: a serveur that still uses it fails after the update
PROBE_1_1 = (
    "#!/bin/sh\nif [ -e /etc/socle-sonde/ancien.conf ]; then\n"
    "  echo 'socle-sonde 1.1: /etc/socle-sonde/ancien.conf uses the removed syntax' >&2; exit 1\nfi\n"
    "exec sleep infinity\n"
)
POSTINST = "#!/bin/sh\nset -e\nsystemctl daemon-reload || true\nsystemctl enable socle-sonde.service || true\n" \
    "systemctl restart socle-sonde.service || true\n"  # fmt: skip


def sh(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=env)
    assert proc.returncode == 0, f"{args}: {proc.stderr[-2000:]}"
    return proc.stdout


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=check)


def deb(out: Path, name: str, version: str, files: dict[str, str], postinst: str | None = None) -> Path:
    root = out / f"{name}_{version}"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if rel.startswith("usr/lib/socle-sonde/") or rel.startswith("usr/bin/"):
            path.chmod(0o755)
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: socle tests <tests@socle.invalid>\n"
        f"Description: socle patch test package\n"
    )
    if postinst:
        (root / "DEBIAN" / "postinst").write_text(postinst)
        (root / "DEBIAN" / "postinst").chmod(0o755)
    target = out / f"{name}_{version}_all.deb"
    sh("dpkg-deb", "--root-owner-group", "--build", str(root), str(target))
    return target


def repository(tmp: Path) -> tuple[Path, Path, dict[str, Path]]:
    """A signed repository: socle-sonde 1.1 in trixie-security, socle-outil 2.0 in trixie-updates."""
    debs = tmp / "debs"
    debs.mkdir()
    sonde = {"usr/lib/systemd/system/socle-sonde.service": SERVICE}
    old = {
        "sonde": deb(debs, "socle-sonde", "1.0", {**sonde, "usr/lib/socle-sonde/sonde": PROBE_1_0}, POSTINST),
        "outil": deb(debs, "socle-outil", "1.0", {"usr/bin/socle-outil": "#!/bin/sh\necho 1.0\n"}),
    }
    new_sonde = deb(debs, "socle-sonde", "1.1", {**sonde, "usr/lib/socle-sonde/sonde": PROBE_1_1}, POSTINST)
    new_outil = deb(debs, "socle-outil", "2.0", {"usr/bin/socle-outil": "#!/bin/sh\necho 2.0\n"})
    repo = tmp / "repo"
    gnupg = tmp / "gnupg"
    gnupg.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(gnupg)}
    sh("gpg", "--batch", "--passphrase", "", "--quick-gen-key", "socle test repository <tests@socle.invalid>",
       "ed25519", "sign", "never", env=env)  # fmt: skip
    for suite, package, label in (("trixie-security", new_sonde, "socle-test-security"),
                                  ("trixie-updates", new_outil, "socle-test")):  # fmt: skip
        pool = repo / "pool" / suite
        pool.mkdir(parents=True)
        (pool / package.name).write_bytes(package.read_bytes())
        binary = repo / "dists" / suite / "main" / "binary-amd64"
        binary.mkdir(parents=True)
        (binary / "Packages").write_text(sh("apt-ftparchive", "packages", f"pool/{suite}", cwd=repo))
        release = sh(
            "apt-ftparchive", "-o", f"APT::FTPArchive::Release::Origin={label}",
            "-o", f"APT::FTPArchive::Release::Label={label}", "-o", f"APT::FTPArchive::Release::Suite={suite}",
            "-o", f"APT::FTPArchive::Release::Codename={suite}", "-o", "APT::FTPArchive::Release::Components=main",
            "-o", "APT::FTPArchive::Release::Architectures=amd64", "release", str(repo / "dists" / suite),
        )  # fmt: skip
        # the archive's publication date, as the security archive states it
        release = "\n".join(ln for ln in release.splitlines() if not ln.startswith("Date:"))
        (repo / "dists" / suite / "Release").write_text(f"Date: {RELEASE_DATE}\n{release}\n")
        sh("gpg", "--batch", "--yes", "--clearsign", "-o", str(repo / "dists" / suite / "InRelease"),
           str(repo / "dists" / suite / "Release"), env=env)  # fmt: skip
    key = tmp / "socle-test.asc"
    key.write_text(sh("gpg", "--armor", "--export", env=env))
    return repo, key, old


def installed(host: str, package: str) -> str:
    return podman("exec", host, "dpkg-query", "-W", "-f", "${Version}", package).stdout


@pytest.fixture(scope="module")
def serveurs(ci_master: CiMaster, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("patching")
    repo, key, old = repository(tmp)
    image = ci_master.image
    for name in [CACHE, *SERVEURS]:
        podman("rm", "-f", "-t", "0", name, check=False)
    # the lycée apt cache: serves the repository over HTTP
    podman("run", "-d", "--name", CACHE, "-v", f"{repo}:/srv/repo:ro", image)
    cache_ip = podman("inspect", "-f", "{{.NetworkSettings.IPAddress}}", CACHE).stdout.strip()
    podman("exec", "-d", CACHE, "python3", "-m", "http.server", "8080", "-d", "/srv/repo")
    sources = (
        f"Types: deb\nURIs: http://{cache_ip}:8080/\nSuites: trixie-security trixie-updates\nComponents: main\n"
        "Signed-By: /etc/apt/keyrings/socle-test.asc\n"
    )
    for name in SERVEURS:
        podman("run", "-d", "--name", name, "--hostname", name, image)
    wait_booted(*SERVEURS)
    for name in SERVEURS:
        # its only apt source is the lycée cache (no traffic leaves the test's network)
        podman("exec", name, "sh", "-c", "rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*; "
               "mkdir -p /etc/apt/keyrings /etc/socle-sonde")  # fmt: skip
        podman("cp", str(key), f"{name}:/etc/apt/keyrings/socle-test.asc")
        podman("exec", name, "sh", "-c", f"printf '{sources}' > /etc/apt/sources.list.d/lycee.sources")
        for path in old.values():
            podman("cp", str(path), f"{name}:/tmp/{path.name}")
        podman("exec", name, "sh", "-c", "dpkg -i /tmp/*.deb >/dev/null")
    # the second serveur still uses the configuration syntax that 1.1 removes
    podman("exec", SERVEURS[1], "touch", "/etc/socle-sonde/ancien.conf")
    region = tmp / "region"
    generator.generate(region, etabs=2, postes=2, seed=11)
    schools = sorted((region / "etablissements").glob("*.yaml"))
    for path, hosts in zip(schools, (SERVEURS[:2], SERVEURS[2:]), strict=True):
        school = yaml.safe_load(path.read_text())
        school["wave"] = "pilot"
        school["salles"] = []  # serveurs only here; postes take patch releases by reimage (test_reimage.py)
        school["serveurs"] = [{"hostname": h, "role": "serveur", "ip": "dhcp"} for h in hosts]
        path.write_text(inv_model.render(school))
    (region / "group_vars").mkdir()
    (region / "group_vars" / "all.yml").write_text(
        "ansible_connection: podman_pipe\nansible_python_interpreter: /usr/bin/python3\n"
        "apt_patch_health_services: [ssh, cron, socle-sonde]\napt_patch_health_retries: 2\n"
        "apt_patch_health_delay: 1\n"
    )
    yield {"region": region, "uais": [p.stem for p in schools], "dist": ci_master.dist, "tmp": tmp}
    for name in [CACHE, *SERVEURS]:
        podman("rm", "-f", "-t", "0", name, check=False)
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(tmp / "gnupg")}, check=False)


def patch(region: Path, report: Path, *extra: str):
    return run_invoke("patch", "--wave", "pilot", "--now", "--inventory", str(region), "--report", str(report),
                      *extra, timeout=900)  # fmt: skip


def test_check_shows_the_plan_and_changes_nothing(serveurs):
    proc = run_invoke("patch", "--wave", "pilot", "--check", "--inventory", str(serveurs["region"]))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert all(u in proc.stderr for u in serveurs["uais"])
    assert all(installed(h, "socle-sonde") == "1.0" for h in SERVEURS)


def test_failing_health_check_stops_the_wave_and_a_second_run_finishes_it(serveurs, tmp_path):
    first = tmp_path / "first"
    proc = patch(serveurs["region"], first)
    assert proc.returncode == 1, proc.stderr[-4000:]
    assert "the wave stopped" in proc.stderr
    run = json.loads((first / "run.json").read_text())
    hosts = {h["host"]: h for h in run["hosts"]}
    a, b, c, d = SERVEURS
    assert hosts[a]["status"] == "patched" and "socle-sonde 1.1" in hosts[a]["detail"]
    assert hosts[b]["status"] == "failed" and "socle-sonde" in hosts[b]["detail"]
    assert "apt-get install --allow-downgrades socle-sonde=1.0" in hosts[b]["detail"]
    assert hosts[c]["status"] == hosts[d]["status"] == "not started"
    assert run["wave_stopped"] and run["who"] and run["scope"] == "wave pilot"
    # on the hosts: security update only, the wave really stopped, guidance on the failed serveur
    assert installed(a, "socle-sonde") == "1.1" and installed(a, "socle-outil") == "1.0"
    assert installed(c, "socle-sonde") == installed(d, "socle-sonde") == "1.0"
    guidance = podman("exec", b, "sh", "-c", f"cat /var/lib/socle/rollback-{run['run']}.txt").stdout
    assert "socle-sonde: 1.0 -> 1.1" in guidance and "socle-sonde=1.0" in guidance
    history = [
        json.loads(ln) for ln in podman("exec", a, "cat", "/var/lib/socle/patch-history.jsonl").stdout.splitlines()
    ]
    assert [(h["package"], h["to"]) for h in history] == [("socle-sonde", "1.1")]
    published = email.utils.parsedate_to_datetime(RELEASE_DATE).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert history[0]["available_since"] == published and history[0]["run"] == run["run"]
    junit = ET.parse(first / "junit.xml").getroot()
    assert junit.get("tests") == "4" and junit.get("failures") == "1"

    # the CMIL follows the guidance's last resort: the old syntax goes, the service comes back
    podman("exec", b, "sh", "-c", "rm /etc/socle-sonde/ancien.conf && systemctl restart socle-sonde")
    second = tmp_path / "second"
    proc = patch(serveurs["region"], second)
    assert proc.returncode == 0, proc.stderr[-4000:]
    hosts = {h["host"]: h for h in json.loads((second / "run.json").read_text())["hosts"]}
    assert hosts[a]["status"] == hosts[b]["status"] == "current"
    assert hosts[c]["status"] == hosts[d]["status"] == "patched"
    assert all(installed(h, "socle-sonde") == "1.1" for h in SERVEURS)

    # the nightly conformity check shows the patch latency KPI
    report = tmp_path / "conformity"
    proc = run_invoke(
        "conformity", "--etab", serveurs["uais"][1], "--report", str(report), "--inventory", str(serveurs["region"]),
        env={"SOCLE_DIST": str(serveurs["dist"]), "SOCLE_HISTORY_DB": str(tmp_path / "history.sqlite")},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    for host in (c, d):
        latency = json.loads((report / "hosts" / f"{host}.json").read_text())["patch_latency_h"]
        assert latency is not None and latency > 0
    summary = json.loads((report / "summary.json").read_text())
    assert summary["patch_latency_h"]["hosts"] == 2
    assert "Latence des correctifs" in (report / "report.html").read_text()
