"""Console side of `invoke report`: the monthly review."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from socle.core import uai
from socle.core.errors import SocleError
from socle.core.paths import ROOT, rel
from socle.inventory.model import DEFAULT_REGION
from socle.review import report


def monthly(*, month: str, etab: str, inventory: str, out: str) -> None:
    if not month:
        raise SocleError("say which month: --month YYYY-MM", hint="invoke report --month 2026-11")
    if etab and uai.problem(etab):
        raise SocleError(str(uai.problem(etab)), hint="--etab takes the établissement's UAI")
    ctx = report.collect(month, etab=etab, region=Path(inventory) if inventory else DEFAULT_REGION)
    folder = Path(out) if out else ROOT / "reports" / "review" / (f"{month}-{etab}" if etab else month)
    files = report.write(ctx, folder)
    k = ctx["current"]
    Console(stderr=True).print(
        f"revue {ctx['label']}: {k.interventions} interventions, MTTR {report.num(k.mttr_h, ' h')}, "
        f"premier passage {report.pct(k.first_time_fix)}, conformité {report.pct(k.conformity.rate)}",
        markup=False,
    )  # fmt: skip
    if ctx["ignored_rows"]:
        left = ", ".join(f"{n} ({why})" for why, n in sorted(ctx["ignored_rows"].items()))
        Console(stderr=True).print(f"lignes ignorées (illisibles, jamais écrites par socle) : {left}", markup=False)
    for path in files:
        print(rel(path))
