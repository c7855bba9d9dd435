"""Console side of `invoke conformity`: argument checks, then the run."""

from __future__ import annotations

from pathlib import Path

from socle.conformity import nightly
from socle.core import system, uai
from socle.core.errors import SocleError
from socle.registry import specs


def check(*, etab: str, salle: str, everything: bool, report: str, inventory: str, from_db: bool = False,
          year: str = "", version: str = "") -> None:  # fmt: skip
    if from_db:
        if etab or salle or everything:
            raise SocleError("--from-db makes the Région report: it takes no --etab, --salle or --all",
                             hint="invoke conformity --from-db [--report DIR] [--inventory DIR]")  # fmt: skip
        nightly.region_report(region=Path(inventory) if inventory else None,
                              report=Path(report or "reports/conformity/region"))  # fmt: skip
        return
    if sum(bool(x) for x in (etab, salle, everything)) != 1:
        raise SocleError(
            "say what to check: one of --etab UAI, --salle UAI/ROOM or --all", hint="invoke conformity --help"
        )
    room = None
    if salle:
        if "/" not in salle:
            raise SocleError(f"--salle takes UAI/ROOM, got '{salle}'", hint="for example --salle 0671000Y/S101")
        etab, room = salle.split("/", 1)
    if etab:
        problem = uai.problem(etab)
        if problem:
            raise SocleError(problem, hint="--etab takes the établissement's UAI")
    system.require()
    nightly.check(
        region=Path(inventory) if inventory else None,
        etab=etab or None,
        salle=room,
        report=Path(report) if report else None,
        year=specs.resolve_year(year) if year else "",
        version=version,
    )
