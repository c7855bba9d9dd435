#!/usr/bin/env python3
"""The monthly review over a Région's year: how long `invoke report` takes at 470 lycées.

    python benchmarks/review_report.py [--etabs 470] [--postes 60000] [--every 7]

Generates a synthetic Région (deterministic inventory) and a year of history for it in a scratch
SQLite database: interventions (curative requests by CMIL and contractors, monthly patch releases
rolled out by wave to every salle) and conformity results for every poste every --every days. Then
times what `invoke report --month` does (collect the KPIs of 12 months, render the HTML, CSV and
JSON), for the Région and for one établissement. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from socle.inventory import generator  # noqa: E402
from socle.inventory.model import fast_load  # noqa: E402
from socle.review import report, synthetic  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--etabs", type=int, default=470)
    parser.add_argument("--postes", type=int, default=60000)
    parser.add_argument("--every", type=int, default=7, help="days between conformity results per poste")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="socle-review-") as tmp:
        region = Path(tmp) / "region"
        generator.generate(region, etabs=args.etabs, postes=args.postes)
        schools = synthetic.schools_of(fast_load(region))
        db = str(Path(tmp) / "history.sqlite")
        t0 = time.perf_counter()
        made = synthetic.generate(db, schools, start="2025-12", conformity_every_days=args.every)
        generated = time.perf_counter() - t0
        print(f"history: {args.etabs} établissements, {args.postes} postes, {made['interventions']} interventions, "
              f"{made['conformity_results']} conformity results in 12 months ({generated:.1f} s)")  # fmt: skip
        for etab in ("", schools[0]["uai"]):
            t0 = time.perf_counter()
            ctx = report.collect("2026-11", etab=etab, region=region, db=db)
            collected = time.perf_counter() - t0
            files = report.write(ctx, Path(tmp) / "out" / (etab or "region"))
            total = time.perf_counter() - t0
            size = sum(f.stat().st_size for f in files) / 1e6
            print(f"report {etab or 'Région'}: {total:.2f} s (KPIs of 12 months {collected:.2f} s, "
                  f"render {total - collected:.2f} s), {size:.2f} MB written")  # fmt: skip


if __name__ == "__main__":
    main()
