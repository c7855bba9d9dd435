"""What the staging test and benchmarks/distribution.py share: the Région's publication served by nginx
in a container (its access log counts the bytes each serveur fetched), and patch releases of the ci
master made quickly from the newest one (new content in one file, squashed again, chunked into the
profile's store, signed with the build's key, published)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

from socle.core import signing
from socle.registry import store

NGINX_CONF = """daemon off;
worker_processes 1;
error_log /dev/stderr;
pid /tmp/nginx.pid;
events {}
http {
  log_format bytes '$remote_addr $body_bytes_sent $status $request_uri';
  access_log /srv/log/access.log bytes;
  client_body_temp_path /tmp; proxy_temp_path /tmp; fastcgi_temp_path /tmp; uwsgi_temp_path /tmp;
  scgi_temp_path /tmp;
  server { listen 8080; root /srv/region; }
}
"""


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["podman", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)}: {proc.stderr[-2000:]}")
    return proc


def start_region(name: str, network: str, image: str, dist: Path, work: Path) -> str:
    """nginx serving ``dist/masters`` from a container of ``image``; returns its base URL."""
    (work / "log").mkdir(parents=True, exist_ok=True)
    (work / "nginx.conf").write_text(NGINX_CONF)
    podman("rm", "-f", "-t", "0", name, check=False)
    podman("run", "-d", "--name", name, "--network", network, "-v", f"{dist / 'masters'}:/srv/region:ro",
           "-v", f"{work / 'log'}:/srv/log", "-v", f"{work / 'nginx.conf'}:/srv/nginx.conf:ro", image,
           "/usr/sbin/nginx", "-c", "/srv/nginx.conf")  # fmt: skip
    ip = podman("inspect", "-f", f'{{{{(index .NetworkSettings.Networks "{network}").IPAddress}}}}', name)
    return f"http://{ip.stdout.strip()}:8080"


def bytes_by_client(work: Path) -> Counter[str]:
    """Bytes nginx sent to each client address (200 and 206 answers), from its access log."""
    sent: Counter[str] = Counter()
    log = work / "log" / "access.log"
    for line in log.read_text().splitlines() if log.exists() else []:
        addr, size, status, _ = line.split(" ", 3)
        if status in {"200", "206"}:
            sent[addr] += int(size)
    return sent


def chunk_files(dist: Path, profile: str = "ci") -> dict[str, int]:
    """The chunk store of the profile: file -> size."""
    root = dist / "masters" / "2026-2027" / profile / "store.castr"
    return {str(p): p.stat().st_size for p in root.rglob("*.cacnk")}


def patch_release(dist: Path, version: str, *, changed_mb: int, seed: int, profile: str = "ci") -> tuple[Path, int]:
    """Publish ``version`` of ``profile`` in ``dist``: the newest master with ``changed_mb`` MB of new
    bytes in one file. Returns its folder and the bytes of the chunks it added to the store."""
    os.environ["SOCLE_DIST"] = str(dist)
    root = store.profile_dir("2026-2027", profile)
    prev = max((p for p in root.iterdir() if (p / "manifest.json").exists() and not p.name.startswith(".")),
               key=lambda p: int(p.name.rsplit(".", 1)[1]))  # fmt: skip
    staging = root / f".{version}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    with tempfile.TemporaryDirectory(prefix="socle-patch-") as tmp:
        tree = Path(tmp) / "root"
        subprocess.run(["unsquashfs", "-q", "-n", "-d", str(tree), str(prev / "rootfs.squashfs")], check=True)
        note = tree / "usr" / "share" / "socle" / f"patch-{version}.bin"
        note.parent.mkdir(parents=True, exist_ok=True)
        note.write_bytes(_random_bytes(changed_mb << 20, seed))
        subprocess.run(["mksquashfs", str(tree), str(staging / "rootfs.squashfs"), "-comp", "zstd",
                        "-Xcompression-level", "6", "-noappend", "-no-progress", "-quiet"],
                       check=True, env={**os.environ, "SOURCE_DATE_EPOCH": "1790000000"})  # fmt: skip
    before = chunk_files(dist, profile)
    chunks = store.chunk_store("2026-2027", profile)
    subprocess.run(["casync", "make", f"--store={chunks}", str(staging / "rootfs.caibx"),
                    str(staging / "rootfs.squashfs")], check=True, capture_output=True)  # fmt: skip
    added = sum(size for path, size in chunk_files(dist, profile).items() if path not in before)
    for name in store.BOOT_FILES:
        if (prev / name).exists():
            shutil.copyfile(prev / name, staging / name)
    store.write_release(staging, profile=profile, version=version, school_year="2026-2027")
    manifest = json.loads((prev / "manifest.json").read_text())
    names = [
        "rootfs.squashfs",
        "rootfs.caibx",
        "release.json",
        *(n for n in store.BOOT_FILES if (staging / n).exists()),
    ]
    manifest.update(version=version, artefacts=store.write_sums(staging, {n: n for n in names}))
    signing.sign(staging / "SHA256SUMS")
    final = store.publish(staging, root / version, manifest)
    return final, added


def _random_bytes(size: int, seed: int) -> bytes:
    import random

    return random.Random(seed).randbytes(size)
