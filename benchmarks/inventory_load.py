#!/usr/bin/env python3
"""Inventory load time: socle's plugin versus Ansible's static YAML inventory, same hosts and groups.

    python benchmarks/inventory_load.py [--etabs 470] [--postes 200000] [--repeat 3]

Generates a synthetic region (deterministic), writes the equivalent static YAML inventory (same
hosts, groups, group nesting and variables),
then times Ansible's InventoryManager parsing each (what every ansible-playbook run pays),
best of --repeat runs. Prints seconds, postes/second and the ratio static / plugin.
Goal: 200,000 postes in <= 5 s, >= 5x faster than static YAML.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))
os.chdir(ROOT)

from ansible.inventory.manager import InventoryManager  # noqa: E402
from ansible.parsing.dataloader import DataLoader  # noqa: E402
from ansible.plugins.loader import init_plugin_loader  # noqa: E402

from socle.inventory import generator  # noqa: E402
from socle.inventory import model as inv_model  # noqa: E402

_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def static_inventory(region: Path, out: Path) -> None:
    """The same hosts, groups and variables as Ansible's YAML inventory format."""
    groups: dict[str, dict] = {"postes": {"children": {}}, "serveurs": {"hosts": {}}}

    def grp(name: str) -> dict:
        return groups.setdefault(name, {"hosts": {}, "children": {}, "vars": {}})

    for s in inv_model.fast_load(region):
        etab = inv_model.group_name("etab", s["uai"])
        g = grp(etab)
        g["vars"].update(socle_uai=s["uai"], socle_etab_name=s["name"], socle_zone=s["zone"], socle_wave=str(s["wave"]))
        for parent in (("academie", s["academie"]), ("type", s["type"]), ("zone", s["zone"]), ("wave", s["wave"])):
            grp(inv_model.group_name(*parent))["children"][etab] = None
        for srv in s["serveurs"]:
            groups["serveurs"]["hosts"][srv["hostname"]] = {"socle_role": srv["role"], "ansible_host": srv["ip"]}
        for salle in s["salles"]:
            sg = inv_model.group_name("salle", s["uai"], salle["id"])
            grp(sg)["vars"].update(socle_salle=salle["id"], socle_disciplines=salle["disciplines"],
                                   socle_profile=salle["profile"])  # fmt: skip
            g["children"][sg] = None
            groups["postes"]["children"][sg] = None
            grp(inv_model.group_name("profile", salle["profile"]))["children"][sg] = None
            for d in salle["disciplines"]:
                grp(inv_model.group_name("discipline", d))["children"][sg] = None
            for p in salle["postes"]:
                grp(sg)["hosts"][p["hostname"]] = {"socle_mac": p["mac"]}
    with out.open("w") as fh:
        yaml.dump({"all": {"children": groups}}, fh, Dumper=_DUMPER, default_flow_style=False)


def parse_time(source: Path, repeat: int, cache: str | None = None) -> tuple[float, int]:
    if cache is not None:
        os.environ["SOCLE_INVENTORY_CACHE"] = cache
    best, hosts = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        manager = InventoryManager(loader=DataLoader(), sources=[str(source)])
        best = min(best, time.perf_counter() - start)
        hosts = len(manager.hosts)
    return best, hosts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--etabs", type=int, default=470)
    parser.add_argument("--postes", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    init_plugin_loader()
    with tempfile.TemporaryDirectory(prefix="socle-inv-") as tmp:
        region = Path(tmp) / "region"
        t0 = time.perf_counter()
        n = generator.generate(region, etabs=args.etabs, postes=args.postes, seed=2026)
        gen = time.perf_counter() - t0
        static = Path(tmp) / "static.yml"
        static_inventory(region, static)
        cold_s, _ = parse_time(region / "socle.yml", 1, cache="")
        parse_time(region / "socle.yml", 1, cache=str(Path(tmp) / "parse-cache"))  # fill the parse cache
        plugin_s, plugin_hosts = parse_time(region / "socle.yml", args.repeat)
        static_s, static_hosts = parse_time(static, 1)
        size = sum(p.stat().st_size for p in (region / "etablissements").iterdir())
    print(f"region             : {args.etabs} établissements, {n} postes ({size / 1e6:.1f} MB of YAML)")
    print(f"generated in       : {gen:6.2f} s")
    print(f"socle plugin, cold : {cold_s:6.2f} s  (every file parsed: first run after a change)")
    print(f"socle plugin       : {plugin_s:6.2f} s  ({plugin_hosts} hosts, {plugin_hosts / plugin_s:,.0f} hosts/s)")
    print(f"static YAML        : {static_s:6.2f} s  ({static_hosts} hosts, {static_hosts / static_s:,.0f} hosts/s)")
    print(f"ratio static/plugin: {static_s / plugin_s:6.2f}x   (goal >= 5x; plugin goal <= 5 s for 200,000 postes)")
    print(f"ratio static/cold  : {static_s / cold_s:6.2f}x")


if __name__ == "__main__":
    main()
