#!/usr/bin/env python3
"""The conformity pages at Région scale: how long the HTML takes and how big each page is.

    python benchmarks/conformity_report.py [--etabs 470] [--postes 200000]

A deterministic night of results (socle.conformity.synthetic: mostly conformant, some drift, a few
failures, postes switched off) rendered by socle.conformity.report.pages: the Région page (a row per
établissement, the 25 least conformant salles, the trend) and one page per établissement. Prints the
time and the page sizes; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from socle.conformity import report, synthetic  # noqa: E402
from socle.conformity.model import summarize  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--etabs", type=int, default=470)
    parser.add_argument("--postes", type=int, default=200_000)
    args = parser.parse_args()
    t0 = time.perf_counter()
    results = synthetic.night(etabs=args.etabs, postes=args.postes)
    summary = summarize(results, when="2026-12-01T02:00:00Z", target="all", duration=0.0)
    t1 = time.perf_counter()
    trend = [{"percent": 90 + (i % 5)} for i in range(30)]
    pages = report.pages(summary, results, {"trend": trend, "last_conformant": {}})
    t2 = time.perf_counter()
    schools = [len(text) for name, text in pages.items() if name != "report.html"]
    print(f"{args.postes} postes in {args.etabs} établissements, {len(summary['per_salle'])} salles")
    print(f"results and summary: {t1 - t0:.1f} s; pages: {t2 - t1:.1f} s ({len(pages)} pages)")
    print(f"Région page: {len(pages['report.html']) / 1024:.0f} KB "
          f"({len(summary['per_etablissement'])} établissement rows, {report.WORST_SALLES} salles)")  # fmt: skip
    print(f"établissement pages: median {sorted(schools)[len(schools) // 2] / 1024:.0f} KB, "
          f"largest {max(schools) / 1024:.0f} KB, total {sum(schools) / 1024 / 1024:.1f} MB")  # fmt: skip
    region = len(pages["report.html"])
    print(f"ratio Région page / all pages: {region / (sum(schools) + region):.4f}")


if __name__ == "__main__":
    main()
