#!/usr/bin/env python3
"""Power-on to SSH-ready for a poste in QEMU (OVMF/UEFI): a fresh install from the serveur's PXE, and
a reboot into a newly written slot. Prints figures, asserts nothing.

    python benchmarks/boot_salle.py [--dist DIST] [--accel tcg|kvm]

Uses the newest published `ci` master of DIST (default: SOCLE_DIST or dist/) and the local
`ci-serveur` image (build both first: `invoke build-master --profile ci`, then `--profile ci-serveur`).
The lab is tests/qemu_lab.py: a network namespace with a bridge, the lycée's DHCP server, the
ci-serveur container and one VM; nothing leaves it. Under TCG (this project's hosts) the figures
are those of software emulation: a real PC boots several times faster; compare ratios, not seconds.
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

from socle.core import sshid  # noqa: E402
from socle.registry import store  # noqa: E402
from tests.qemu_lab import SERVEUR_IP, Lab  # noqa: E402

SERVED = ("SHA256SUMS", "SHA256SUMS.asc", "release.json", "rootfs.squashfs", "vmlinuz", "initrd.img")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", default=os.environ.get("SOCLE_DIST", str(ROOT / "dist")))
    parser.add_argument("--accel", default=os.environ.get("SOCLE_QEMU_ACCEL", "tcg"))
    args = parser.parse_args()
    os.environ["SOCLE_DIST"] = args.dist
    found = store.newest("ci", "2026-2027")
    if not found:
        print(f"no published ci master in {args.dist}: invoke build-master --profile ci", file=sys.stderr)
        return 2
    manifest, master = found
    rel = f"2026-2027/ci/{manifest['version']}"
    with tempfile.TemporaryDirectory(prefix="socle-boot-bench-") as scratch:
        lab = Lab(Path(scratch), accel=args.accel)
        lab.up("localhost/socle/ci-serveur:2026-2027.0")
        try:
            vm = lab.add_vm("p01", 1)
            lab.dhcp()
            srv = lab.serveur
            subprocess.run(["podman", "exec", srv, "mkdir", "-p", f"/srv/socle/masters/{rel}"], check=True)
            for name in SERVED:
                subprocess.run(["podman", "cp", str(master / name), f"{srv}:/srv/socle/masters/{rel}/{name}"],
                               check=True)  # fmt: skip
            subprocess.run(["podman", "exec", srv, "/usr/local/sbin/socle-pxe", "arm", "--window", "30",
                            "--base-url", f"http://{SERVEUR_IP}", "--poste", f"{vm.mac},{rel},{manifest['version']}",
                            "--kernel-args", "console=ttyS0"], check=True, capture_output=True)  # fmt: skip
            t0 = time.monotonic()
            lab.start(vm)
            install = lab.wait_ssh(vm, 1800)
            # the benchmark trusts the host key it first sees (its own lab); enrolment is test_salle_qemu's
            ssh = ["ssh", "-i", str(sshid.controller_key()), "-o", "BatchMode=yes",
                   "-o", "StrictHostKeyChecking=accept-new", "-o", f"UserKnownHostsFile={scratch}/known_hosts",
                   "-o", "HostKeyAlias=p01", f"ansible@{vm.ip}"]  # fmt: skip
            base = f"http://{SERVEUR_IP}/socle/masters/{rel}"
            t1 = time.monotonic()
            out = lab.run(*ssh, f"sudo socle-slot receive --force --no-delta --base-url {base}")
            receive = time.monotonic() - t1
            assert json.loads(out.stdout)["result"] == "done", out.stdout + out.stderr
            lab.run(*ssh, "sudo systemctl reboot")
            time.sleep(5)
            reboot = lab.wait_ssh(vm, 1200) + 5
            size = (master / "rootfs.squashfs").stat().st_size
        finally:
            lab.down()
    print(f"ci master {manifest['version']}: squashfs {size / 1e6:.1f} MB; QEMU accel={args.accel}, 2 vCPU, 2 GiB")
    print(f"fresh install (power-on → PXE → live → install → reboot → SSH ready): {install:6.1f} s")
    print(f"write the other slot (socle-slot receive over HTTP, verified):       {receive:6.1f} s")
    print(f"reboot into the new slot (reboot → GRUB → live-boot → SSH ready):     {reboot:6.1f} s")
    print(f"ratio install ÷ reboot: {install / reboot:.2f} (whole run {time.monotonic() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
