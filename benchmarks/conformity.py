#!/usr/bin/env python3
"""Conformity run time on N containers of the ci master, against two references.

    python benchmarks/conformity.py [--sizes 10,20,40]

For each N: start N containers from the newest `ci` master in dist/ (built first if missing),
then time
  - `invoke conformity` (one socle_facts pass per host, evaluation on the controller),
  - `ansible -m ping` on the same hosts (the floor: Ansible reaching every host once),
  - the one-command-per-assertion testinfra suite (tests/conformity) on every host.
Prints hosts/second and the ratios conformity/ping (goal <= 2) and testinfra/conformity (goal >= 10).
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


def sh(*cmd: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True)
    if check and proc.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return proc


def timed(*cmd: str, env: dict[str, str] | None = None, check: bool = True) -> float:
    start = time.monotonic()
    sh(*cmd, env=env, check=check)
    return time.monotonic() - start


def reference() -> dict:
    year = specs.resolve_year(None)
    manifests = sorted((store.profile_dir(year, "ci")).glob("*/manifest.json"))
    if not manifests:
        sh(str(BIN / "invoke"), "build-master", "--profile", "ci", "--dev-signing")
        manifests = sorted((store.profile_dir(year, "ci")).glob("*/manifest.json"))
    return max((json.loads(p.read_text()) for p in manifests), key=lambda m: int(m["version"].rsplit(".", 1)[1]))


def fleet(region: Path, n: int, image: str) -> list[str]:
    generator.generate(region, etabs=1, postes=n, seed=3)
    path = next((region / "etablissements").glob("*.yaml"))
    school = yaml.safe_load(path.read_text())
    for salle in school["salles"]:
        salle["profile"] = "ci"
    school["serveurs"] = []  # postes only: the figures compare with ping/testinfra on the same containers
    path.write_text(inv_model.render(school))
    (region / "group_vars").mkdir(exist_ok=True)
    (region / "group_vars" / "all.yml").write_text(
        "ansible_connection: podman_pipe\nansible_python_interpreter: /usr/bin/python3\n"
    )
    names = [p["hostname"] for s in school["salles"] for p in s["postes"]]
    for name in names:
        sh("podman", "rm", "-f", "-t", "0", name, check=False)
        sh("podman", "run", "-d", "--name", name, "--hostname", name, image)
    time.sleep(5)
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,20,40")
    args = parser.parse_args()
    ref = reference()
    print(f"reference master: ci {ref['version']} ({ref['oci']['image']})")
    print(
        f"{'hosts':>5} {'conformity':>11} {'ping':>8} {'testinfra':>10} {'hosts/s':>8} {'conf/ping':>10} {'ti/conf':>8}"
    )
    for n in (int(x) for x in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="socle-conf-") as tmp:
            region = Path(tmp) / "region"
            names = fleet(region, n, ref["oci"]["image"])
            school = next((region / "etablissements").glob("*.yaml")).stem
            env = {"SOCLE_HISTORY_DB": f"{tmp}/h.sqlite", "ANSIBLE_FORKS": "50"}
            try:
                conf = timed(str(BIN / "invoke"), "conformity", "--etab", school, "--inventory", str(region),
                             "--report", f"{tmp}/report", env=env)  # fmt: skip
                ping = timed(str(BIN / "ansible"), "-i", str(region), "postes", "-m", "ping", "-f", "50",
                             env={"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")})  # fmt: skip
                hosts = ",".join(f"podman://{h}" for h in names)
                ti = timed(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/conformity",
                           f"--hosts={hosts}", check=False)  # fmt: skip
            finally:
                for name in names:
                    sh("podman", "rm", "-f", "-t", "0", name, check=False)
        print(
            f"{n:>5} {conf:>10.1f}s {ping:>7.1f}s {ti:>9.1f}s {n / conf:>8.2f} {conf / ping:>10.2f} {ti / conf:>8.2f}"
        )
    print("goals: conformity/ping <= 2, testinfra/conformity >= 10")


if __name__ == "__main__":
    main()
