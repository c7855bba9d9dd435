#!/usr/bin/env python3
"""A Région's night in its PostgreSQL: 470 lycée serveurs write their results at once, then the Région report.

    python benchmarks/region.py [--etabs 470] [--postes 200000] [--writers 470]

Generates a synthetic Région (deterministic inventory), starts a throwaway PostgreSQL cluster (Debian
package, Unix socket only), provisions it as the Région would (roles, row-level security), gives each
établissement its own role, then has every lycée serveur write its night concurrently through
`history.record` with that role, exactly what the nightly unit does, with results shaped as the collector
produces them (about 10 % of postes switched off, a few drifts). Then times `invoke conformity --from-db`
(the Région report) with a reporting role. Prints rows per second, the time to the report and the
database size per night. Asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from socle.conformity import expected, history, nightly, regiondb  # noqa: E402
from socle.conformity import model as cmodel  # noqa: E402
from socle.inventory import generator  # noqa: E402

PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None)


def as_postgres(*cmd: str) -> None:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=300, check=True)


def start_cluster(folder: Path, connections: int) -> Path:
    data, sock = folder / "data", folder / "s"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        shutil.chown(sock, "postgres")
    as_postgres(str(PG_BIN / "initdb"), "-U", "postgres", "--auth-local=trust", "-D", str(data))
    (data / "pg_hba.conf").write_text("local all postgres trust\nlocal socle all scram-sha-256\n")
    as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "-l", str(folder / "log"), "start", "-o",
                f"-c listen_addresses='' -k {sock} -c max_connections={connections + 20}")  # fmt: skip
    as_postgres(str(PG_BIN / "createdb"), "-h", str(sock), "socle")
    return sock


def night(targets: list[cmodel.Target], rng: random.Random) -> list[cmodel.HostResult]:
    out = []
    for t in targets:
        draw = rng.random()
        status = "not seen" if draw < 0.1 else "drift" if draw < 0.13 else "conformant"
        drifts = [cmodel.Drift("catalogue", "geogebra", "logiciel absent", "6.0", None)] if status == "drift" else []
        out.append(cmodel.HostResult(t.host, t.uai, t.salle, t.profile, status, drifts, last_patch="2026-11-20"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--etabs", type=int, default=470)
    parser.add_argument("--postes", type=int, default=200000)
    parser.add_argument("--writers", type=int, default=470, help="lycée serveurs writing at the same time")
    args = parser.parse_args()
    if PG_BIN is None:
        sys.exit("PostgreSQL is not installed (./socle.sh setup installs the postgresql package)")
    folder = Path(tempfile.mkdtemp(prefix="socle-region-"))
    folder.chmod(0o755)
    try:
        region = folder / "region"
        generator.generate(region, etabs=args.etabs, postes=args.postes)
        targets = expected.targets(region, None, None)
        by_school: dict[str, list[cmodel.Target]] = {}
        for t in targets:
            by_school.setdefault(t.uai, []).append(t)
        sock = start_cluster(folder, args.writers)
        admin = f"postgresql+psycopg://postgres@/socle?host={sock}"
        regiondb.provision(admin)
        t0 = time.perf_counter()
        urls = {uai: f"postgresql+psycopg://{regiondb.role_of(uai)}:{regiondb.add_lycee(admin, uai)}@/socle?host={sock}"
                for uai in by_school}  # fmt: skip
        roles_s = time.perf_counter() - t0
        reporter = (
            f"postgresql+psycopg://region_reports:{regiondb.add_reporter(admin, 'region_reports')}@/socle?host={sock}"
        )
        rng = random.Random(20)
        nights = {uai: night(rows, rng) for uai, rows in by_school.items()}
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

        def write(uai: str) -> float:
            start = time.perf_counter()
            rows = nights[uai]
            history.record(urls[uai], cmodel.summarize(rows, when=stamp, target=uai, duration=60.0), rows)
            return time.perf_counter() - start

        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.writers) as pool:
            per_writer = sorted(pool.map(write, list(by_school)))
        write_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        with contextlib.redirect_stderr(io.StringIO()):  # the per-salle terminal table: thousands of rows
            summary = nightly.region_report(region=region, report=folder / "report", db=reporter)
        report_s = time.perf_counter() - t0
        size = subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / "psql"), "-h", str(sock), "-d", "socle", "-Atc",
             "SELECT sum(pg_total_relation_size(c)) FROM unnest(ARRAY['conformity_runs', 'conformity_hosts', "
             "'interventions']::regclass[]) c"], capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    finally:
        data = folder / "data"
        if data.exists():
            subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(data), "-m",
                            "immediate", "stop"], capture_output=True)  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)
    rows = len(targets)
    print(f"Région: {len(by_school)} établissements, {rows} postes; {args.writers} concurrent writers")
    print(f"  roles created            : {roles_s:8.2f} s ({len(by_school)} lycée roles)")
    print(f"  all nights written       : {write_s:8.2f} s  -> {rows / write_s:,.0f} rows/s")
    print(f"  one lycée's write        : median {per_writer[len(per_writer) // 2]:.2f} s, "
          f"slowest {per_writer[-1]:.2f} s")  # fmt: skip
    print(f"  Région report (--from-db): {report_s:8.2f} s  ({summary['hosts']} hosts, {summary['seen']} seen, "
          f"{summary['conformity_percent']} % conformant, {len(summary['silent'])} silent)")  # fmt: skip
    print(f"  database size per night  : {int(size) / 1e6:8.1f} MB ({int(size) / rows:.0f} bytes per poste)")


if __name__ == "__main__":
    main()
