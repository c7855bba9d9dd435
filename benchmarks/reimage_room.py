#!/usr/bin/env python3
"""Reimage a room of N postes on a rate-limited link, multicast versus unicast HTTP: what the CMIL waits for.

    python benchmarks/reimage_room.py [--sizes 1,10,30] [--http-sizes 1,10] [--rate-mbit 40] [--dist D]

Builds the `ci` and `ci-serveur` masters in a scratch dist (a few minutes; ``--dist`` reuses one),
starts one serveur container whose egress is limited with tc (tbf, inside its network namespace),
and has it stage the master once, as a lycée serveur does at night. Then for each N: N poste
containers whose booted slot holds the master (as a poste running it does), and
`invoke reimage --force --reboot no` sends it again to the room. Prints, against the floor
(image size ÷ link rate): the slowest poste's receive time (signature, transfer, sha256 of what it
wrote, switch, as socle-slot measured it) and the whole command's time, with its phases (the
controller, Ansible's start, each play) next to the figures of 2026-11-30. Goals for 30 postes by
multicast: the command ≤ 1.3× the floor, the slowest poste ≤ 1.2×; unicast HTTP is about N×.
Then a patch release (`build-master --patch`) goes to the largest room: bytes moved per poste
(casync, seeded by the slot it holds) ÷ bytes changed (the files that differ between the two
root filesystems); goal ≤ 1.1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from socle.inventory import generator  # noqa: E402
from socle.inventory import model as inv_model  # noqa: E402
from socle.registry import specs, store  # noqa: E402

BIN = Path(sys.executable).parent
NETWORK = "socle-reimage-bench"
SERVEUR = "bench-rsrv"


def sh(*cmd: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True)
    if check and proc.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return proc


def newest(profile: str) -> Path:
    """Folder of the newest master of ``profile`` in the dist, built first if there is none."""
    year = specs.resolve_year(None)
    if store.newest_manifest(profile, year) is None:
        sh(str(BIN / "invoke"), "build-master", "--profile", profile, "--dev-signing")
    manifest = store.newest_manifest(profile, year)
    return store.master_dir(year, profile, manifest["version"])


def changed_bytes(old: Path, new: Path, tmp: Path) -> int:
    """Bytes of the files that are new or differ between two squashfs images."""
    roots = []
    for label, image in (("old", old), ("new", new)):
        target = tmp / f"unsquash-{label}"
        sh("unsquashfs", "-q", "-n", "-d", str(target), str(image))
        roots.append(target)
    total = 0
    for path in roots[1].rglob("*"):
        if path.is_file() and not path.is_symlink():
            before = roots[0] / path.relative_to(roots[1])
            if not before.is_file() or before.read_bytes() != path.read_bytes():
                total += path.stat().st_size
    for root in roots:
        sh("rm", "-rf", str(root))
    return total


def cleanup(names: list[str], *, network: bool = False) -> None:
    for name in names:
        sh("podman", "rm", "-f", "-t", "0", name, check=False)
    if network:
        sh("podman", "network", "rm", "-f", NETWORK, check=False)


def serveur(image: str, rate_mbit: int) -> str:
    """The lycée serveur, its egress limited to the link's rate with tc (tbf, in its network namespace);
    one for every room, as in a lycée: the master it staged once serves them all. Its address."""
    cleanup([SERVEUR], network=True)
    sh("podman", "network", "create", NETWORK)
    sh("podman", "run", "-d", "--name", SERVEUR, "--network", NETWORK, image)
    pid = sh("podman", "inspect", "-f", "{{.State.Pid}}", SERVEUR).stdout.strip()
    sh("nsenter", "-t", pid, "-n", "tc", "qdisc", "replace", "dev", "eth0", "root", "tbf", "rate",
       f"{rate_mbit}mbit", "burst", "256kb", "latency", "50ms")  # fmt: skip
    return sh("podman", "inspect", "-f", f'{{{{(index .NetworkSettings.Networks "{NETWORK}").IPAddress}}}}',
              SERVEUR).stdout.strip()  # fmt: skip


def room(n: int, address: str, image: str, tmp: Path, rate_mbit: int, label: str = "rp",
         holds: Path | None = None) -> tuple[Path, list[str], str]:  # fmt: skip
    """N postes on the serveur's network; ``holds``: the master their booted slot (A) holds, as a poste
    that runs a master does (read-only: a reimage writes the other slot)."""
    postes = [f"bench-{label}{i:02d}" for i in range(1, n + 1)]
    cleanup(postes)
    slot = ["--volume", f"{holds}:/var/lib/socle/slots/A:ro"] if holds else []
    for name in postes:
        sh("podman", "run", "-d", "--name", name, "--hostname", name, "--network", NETWORK, *slot, image)
    region = tmp / f"region-{label}-{n}"
    generator.generate(region, etabs=1, postes=n, seed=9)
    path = next((region / "etablissements").glob("*.yaml"))
    school = yaml.safe_load(path.read_text())
    school["serveurs"] = [{"hostname": SERVEUR, "role": "serveur", "ip": address}]
    school["salles"] = [{"id": "BENCH", "usage": "salle informatique", "disciplines": ["nsi-snt"], "profile": "ci",
                         "postes": [{"hostname": h, "ip": "dhcp"} for h in postes]}]  # fmt: skip
    path.write_text(inv_model.render(school))
    (region / "group_vars").mkdir()
    # pace udp-sender just under the link so that tbf does not drop (and retransmit) its packets
    (region / "group_vars" / "all.yml").write_text(
        "ansible_connection: podman_pipe\nansible_python_interpreter: /usr/bin/python3\n"
        f"socle_reimage_sender_options: --max-bitrate {int(rate_mbit * 0.95)}m\n"
    )
    (region / "host_vars").mkdir()
    (region / "host_vars" / f"{SERVEUR}.yml").write_text(f"ansible_host: {SERVEUR}\n")
    time.sleep(5)  # systemd in the containers
    return region, postes, school["uai"]


def run(region: Path, uai: str, tmp: Path, label: str, *extra: str) -> dict:
    report = tmp / label
    start = time.monotonic()
    sh(str(BIN / "invoke"), "reimage", "--etab", uai, "--salle", "BENCH", "--reboot", "no", "--fetch", "--force",
       "--full", "--inventory", str(region), "--report", str(report), *extra, check=False)  # fmt: skip
    total = time.monotonic() - start
    record = json.loads((report / "record.json").read_text())
    done = [p for p in record["postes"] if p["status"] in {"done", "staged"}]  # staged: written, switched, not rebooted
    phases = [(p["phase"], p["seconds"]) for p in record.get("phases", [])]
    # what the command cost around its own record: Python, invoke and the table
    phases.append(("start the command, print the table", round(total - sum(s for _, s in phases), 2)))
    return {"total": total, "done": len(done), "postes": len(record["postes"]), "phases": phases,
            "slowest": max((p["seconds"] for p in done), default=float("nan")),
            "methods": sorted({p["method"] for p in done})}  # fmt: skip


#: measured on this machine on 2026-11-30 (issue #23) with a 107 MB master on a 40 Mbit/s link (floor 21.5 s):
#: (slowest poste, command) in seconds
BEFORE_FLOOR = 21.5
BEFORE = {("multicast", 30): (31.0, 74.1), ("http", 10): (None, 246.8)}


def before(mode: str, n: int) -> str:
    """That day's ratios for the same room, if it was measured."""
    slowest, command = BEFORE.get((mode, n), (None, None))
    ratios = [f"slowest {slowest / BEFORE_FLOOR:.2f}×"] if slowest else []
    ratios += [f"command {command / BEFORE_FLOOR:.2f}×"] if command else []
    return ", ".join(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,30")
    parser.add_argument("--http-sizes", default="1,10")
    parser.add_argument("--rate-mbit", type=int, default=40)
    parser.add_argument("--dist", help="a dist of an earlier run of this benchmark (its masters, not built again)")
    parser.add_argument("--no-patch-release", action="store_true", help="skip the patch release (a build)")
    parser.add_argument("--keep", action="store_true", help="keep each run's report (record, Ansible log)")
    args = parser.parse_args()
    multicast_sizes = {int(x) for x in args.sizes.split(",") if x}
    http_sizes = {int(x) for x in args.http_sizes.split(",") if x}
    scratch_dist = args.dist or tempfile.mkdtemp(prefix="socle-reimage-bench-dist-")
    spec_dir = Path(tempfile.mkdtemp(prefix="socle-reimage-bench-masters-"))
    year = specs.resolve_year(None)
    (spec_dir / year).mkdir()
    for name in ("ci.yaml", "ci-serveur.yaml", "rollout.yml"):
        (spec_dir / year / name).write_bytes((ROOT / "masters" / year / name).read_bytes())
    os.environ.update(SOCLE_DIST=scratch_dist, SOCLE_MASTERS_DIR=str(spec_dir))
    master = newest("ci")
    image = master / "rootfs.squashfs"
    serveur_master = newest("ci-serveur")
    size = image.stat().st_size
    floor = size * 8 / (args.rate_mbit * 1e6)
    print(f"dist: {scratch_dist} (--dist reuses it)")
    print(f"image {size / 1e6:.1f} MB, link {args.rate_mbit} Mbit/s: floor {floor:.1f} s per copy")
    print(f"{'postes':>6} {'mode':>9} {'done':>5} {'slowest s':>9} {'÷ floor':>8} {'command s':>9} {'÷ floor':>8}"
          "  before (2026-11-30)")  # fmt: skip
    sizes = sorted(multicast_sizes | http_sizes)
    poste_image, serveur_image = (json.loads((folder / "manifest.json").read_text())["oci"]["image"]
                                  for folder in (master, serveur_master))  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="socle-reimage-bench-") as scratch:
        tmp = Path(tempfile.mkdtemp(prefix="socle-reimage-bench-reports-") if args.keep else scratch)
        if args.keep:
            print(f"reports: {tmp}/<mode>-<postes>/")
        address = serveur(serveur_image, args.rate_mbit)
        try:
            # the serveur stages the master once (in a lycée: at night, ahead of any reimage)
            region, postes, uai = room(1, address, poste_image, tmp, args.rate_mbit, label="stage")
            r = run(region, uai, tmp, "staging", "--no-multicast")
            cleanup(postes)
            print(f"staging the master on the serveur (then one poste over HTTP): {r['total']:.1f} s")
            for n in sizes:
                region, postes, uai = room(n, address, poste_image, tmp, args.rate_mbit, holds=master)
                try:
                    modes = [("multicast", ())] if n in multicast_sizes else []
                    modes += [("http", ("--no-multicast",))] if n in http_sizes else []
                    for mode, extra in modes:
                        r = run(region, uai, tmp, f"{mode}-{n}", *extra)
                        print(
                            f"{n:>6} {mode:>9} {r['done']:>2}/{r['postes']:<2} {r['slowest']:>9.1f} "
                            f"{r['slowest'] / floor:>8.2f} {r['total']:>9.1f} {r['total'] / floor:>8.2f}  "
                            f"{before(mode, n)}"
                        )
                        print("         " + "; ".join(f"{name} {sec:.1f} s" for name, sec in r["phases"]))  # fmt: skip
                    if n == max(sizes) and not args.no_patch_release:
                        patch_release(region, uai, tmp, image)
                finally:
                    cleanup(postes)
        finally:
            cleanup([SERVEUR], network=True)
    print(
        "goal: for 30 postes by multicast, command ÷ floor ≤ 1.3 and slowest ÷ floor ≤ 1.2; "
        "http grows with N (one copy per poste)"
    )


def patch_release(region: Path, uai: str, tmp: Path, previous: Path) -> None:
    sh(str(BIN / "invoke"), "build-master", "--profile", "ci", "--patch", "--dev-signing")
    release = newest("ci") / "rootfs.squashfs"
    changed = changed_bytes(previous, release, tmp)
    report = tmp / "patch-release"
    sh(str(BIN / "invoke"), "reimage", "--etab", uai, "--salle", "BENCH", "--reboot", "no", "--fetch", "--inventory",
       str(region), "--report", str(report), check=False)  # fmt: skip
    postes = json.loads((report / "record.json").read_text())["postes"]
    moved = [p["bytes"] for p in postes if p["status"] in {"done", "staged"} and p["method"] == "delta"]
    if not moved:
        print(f"patch release: no delta ({sorted({p['method'] or p['status'] for p in postes})})")
        return
    mean = sum(moved) / len(moved)
    print(f"patch release {release.parent.name}: {changed / 1e6:.2f} MB of files changed; {len(moved)} postes "
          f"by delta, {mean / 1e6:.2f} MB moved each: {mean / max(changed, 1):.2f}× (goal ≤ 1.1), "
          f"{mean / release.stat().st_size:.1%} of the image")  # fmt: skip


if __name__ == "__main__":
    main()
