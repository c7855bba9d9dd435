#!/usr/bin/env python3
"""Stage a patch release to N lycée serveurs under a bandwidth cap (socle-stage, casync chunks).

    python benchmarks/distribution.py [--serveurs 3] [--cap-mbit 40] [--changed-mb 8]

Builds the `ci` and `ci-serveur` masters in a scratch dist when there are none (a few minutes), serves
the Région's publication with nginx in a container, starts N serveur containers of the ci-serveur master
and tells each to follow the ci master under the cap (/etc/socle/stage.json, as
playbooks/stage-config.yml writes it). Each serveur first stages the release whole, then a patch release
with `--changed-mb` MB of new content is published and every serveur stages it at once. Prints, per
serveur: the bytes it fetched (nginx's access log) ÷ the bytes of the chunks the patch release added
to the store (goal ≤ 1.2), and its time ÷ (those bytes ÷ cap) (≈ 1: the cap is the bound).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from socle.registry import store  # noqa: E402
from tests.integration.staging_lab import bytes_by_client, patch_release, podman, start_region  # noqa: E402

BIN = Path(sys.executable).parent
NETWORK = "socle-stage-bench"
REGION = "bench-stage-region"


def newest(dist: Path, masters: Path, profile: str) -> Path:
    """The newest master of ``profile`` in ``dist``, built first if there is none."""
    env = {**os.environ, "SOCLE_DIST": str(dist), "SOCLE_MASTERS_DIR": str(masters), "SOCLE_DEV_SIGNING": "1"}
    found = sorted((dist / "masters" / "2026-2027" / profile).glob("*/manifest.json"))
    if not found:
        proc = subprocess.run([str(BIN / "invoke"), "build-master", "--profile", profile, "--year", "2026-2027"],
                              cwd=ROOT, env=env, capture_output=True, text=True)  # fmt: skip
        if proc.returncode:
            sys.exit(f"build of {profile} failed:\n{proc.stderr[-3000:]}")
        found = sorted((dist / "masters" / "2026-2027" / profile).glob("*/manifest.json"))
    return max(found, key=lambda p: int(p.parent.name.rsplit(".", 1)[1])).parent


def address(name: str) -> str:
    return podman("inspect", "-f", f'{{{{(index .NetworkSettings.Networks "{NETWORK}").IPAddress}}}}',
                  name).stdout.strip()  # fmt: skip


def stage(name: str) -> tuple[float, dict]:
    started = time.monotonic()
    proc = podman("exec", name, "/usr/local/sbin/socle-stage", check=False)
    took = time.monotonic() - started
    lines = [json.loads(ln) for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        sys.exit(f"{name}: socle-stage failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return took, lines[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serveurs", type=int, default=3)
    parser.add_argument("--cap-mbit", type=float, default=40)
    parser.add_argument("--changed-mb", type=int, default=8)
    parser.add_argument("--dist", default="", help="a dist holding the ci and ci-serveur masters (default: scratch)")
    args = parser.parse_args()
    os.environ["SOCLE_DEV_SIGNING"] = "1"  # the patch release is signed with the key the scratch masters trust
    work = Path(tempfile.mkdtemp(prefix="socle-stage-bench-"))
    masters = work / "masters"
    (masters / "2026-2027").mkdir(parents=True)
    for name in ("ci.yaml", "ci-serveur.yaml", "rollout.yml"):
        shutil.copy(ROOT / "masters" / "2026-2027" / name, masters / "2026-2027" / name)
    built = Path(args.dist) if args.dist else work / "built"
    ci, serveur = newest(built, masters, "ci"), newest(built, masters, "ci-serveur")
    image = f"localhost/socle/ci-serveur:{serveur.name}"
    dist = work / "dist"
    profile = dist / "masters" / "2026-2027" / "ci"
    profile.mkdir(parents=True)
    shutil.copytree(ci, profile / ci.name)
    shutil.copytree(ci.parent / "store.castr", profile / "store.castr")
    store.write_index(profile)
    names = [f"bench-stage-{i:02d}" for i in range(args.serveurs)]
    cap = int(args.cap_mbit * 125_000)
    for name in [*names, REGION]:
        podman("rm", "-f", "-t", "0", name, check=False)
    podman("network", "rm", "-f", NETWORK, check=False)
    podman("network", "create", NETWORK)
    try:
        url = start_region(REGION, NETWORK, image, dist, work)
        for name in names:
            podman("run", "-d", "--name", name, "--network", NETWORK, image)
            cfg = {"url": url, "root": "/srv/socle/masters", "rate_bps": cap, "keep": 2,
                   "masters": [{"year": "2026-2027", "profile": "ci"}]}  # fmt: skip
            write = "mkdir -p /etc/socle && cat > /etc/socle/stage.json"
            subprocess.run(["podman", "exec", "-i", name, "sh", "-c", write], input=json.dumps(cfg), text=True,
                           check=True)  # fmt: skip
        size = (ci / "rootfs.squashfs").stat().st_size
        print(
            f"master {ci.name}: {size / 1e6:.1f} MB; cap {args.cap_mbit:g} Mbit/s per serveur; {args.serveurs} serveurs"
        )
        with ThreadPoolExecutor(len(names)) as pool:
            first = dict(zip(names, pool.map(stage, names), strict=True))
        whole = bytes_by_client(work)
        for name, (took, line) in first.items():
            print(f"  {name}: first release {line['result']} in {took:.1f} s, {whole[address(name)] / 1e6:.1f} MB "
                  f"(time ÷ (size ÷ cap) = {took / (size / cap):.2f})")  # fmt: skip
        following = f"2026-2027.{int(ci.name.rsplit('.', 1)[1]) + 1}"
        patch, changed = patch_release(dist, following, changed_mb=args.changed_mb, seed=7)
        print(
            f"patch release {patch.name}: {args.changed_mb} MB of new content; its new chunks: {changed / 1e6:.2f} MB"
        )
        with ThreadPoolExecutor(len(names)) as pool:
            second = dict(zip(names, pool.map(stage, names), strict=True))
        after = bytes_by_client(work)
        ratios, times = [], []
        for name, (took, line) in second.items():
            moved = after[address(name)] - whole[address(name)]
            ratios.append(moved / changed)
            times.append(took / (changed / cap))
            print(f"  {name}: {line['result']} in {took:.1f} s; moved {moved / 1e6:.2f} MB; moved ÷ changed chunks "
                  f"= {ratios[-1]:.3f} (goal ≤ 1.2); time ÷ (changed ÷ cap) = {times[-1]:.2f}")  # fmt: skip
        print(f"worst: moved ÷ changed = {max(ratios):.3f}; time ÷ (changed ÷ cap) = {max(times):.2f}")
    finally:
        for name in [*names, REGION]:
            podman("rm", "-f", "-t", "0", name, check=False)
        podman("network", "rm", "-f", NETWORK, check=False)
        shutil.rmtree(work / "dist", ignore_errors=True)


if __name__ == "__main__":
    main()
