"""Console side of the operations: install or reimage a salle, patch in waves, import the school calendar."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from socle.cli import whole_number
from socle.conformity import history as conformity_history
from socle.core import history, operator
from socle.core.errors import SocleError, StepFailed
from socle.core.paths import rel
from socle.operations import install, maintenance, patching, reimage
from socle.registry import specs


def _intent(cause: str, ticket: str, requested_at: str) -> history.Request:
    """Why the operator acts (checked), and who they are (proved now, before any machine is touched:
    the record written at the end names them)."""
    why = history.request(cause, ticket, requested_at)
    operator.current()
    return why


def _year(year: str) -> str:
    """``--year``, checked: a school year with masters (empty: each school's assigned one)."""
    return specs.resolve_year(year) if year else ""


def reimage_salle(*, etab: str, salle: str, reset: bool, force: bool, reboot: str, no_multicast: bool, full: bool,
                  inventory: str, report: str, version: str = "", rollback: bool = False, year: str = "",
                  fetch: bool = False, request: tuple[str, str, str] = ("other", "", "")) -> None:  # fmt: skip
    if not etab or not salle:
        raise SocleError("say which salle: --etab UAI --salle ROOM", hint="invoke reimage --etab 0671000Y --salle S101")
    year = _year(year)
    why = _intent(*request)
    outcomes, out = reimage.restore_salle(
        etab=etab, salle=salle, reset=reset, force=force, reboot=reboot, multicast=not no_multicast, full=full,
        region=Path(inventory) if inventory else None, report=Path(report) if report else None,
        version=version, rollback=rollback, request=why, year=year, fetch=fetch,
    )  # fmt: skip
    reimage.show(outcomes, out)
    if reimage.failed(outcomes):
        raise StepFailed("some postes are not on the master: see the table above", hint=f"re-run the same command "
                         f"to resume; details in {out}/record.json")  # fmt: skip


def first_install(*, etab: str, salle: str, poste: str, serveur: str, via: str, window: str, inventory: str,
                  report: str, request: tuple[str, str, str] = ("other", "", "")) -> None:  # fmt: skip
    """A salle's postes (``--salle``), or one serveur (``--serveur``, armed from another: ``--via``)."""
    if not etab or bool(salle) == bool(serveur):
        raise SocleError("say what to install: --etab UAI and either --salle ROOM or --serveur NAME",
                         hint="invoke install --etab 0671000Y --salle S101")  # fmt: skip
    if serveur and poste:
        raise SocleError("--poste chooses postes of a salle: it goes with --salle, not --serveur")
    if salle and via:
        raise SocleError("--via names the serveur that arms PXE for another serveur: it goes with --serveur",
                         hint="a salle's postes are armed by their lycée serveur")  # fmt: skip
    minutes = whole_number(window, "--window", low=1, high=24 * 60)
    why = _intent(*request)
    region = Path(inventory) if inventory else None
    out_dir = Path(report) if report else None
    if serveur:
        outcomes, out = install.install_serveur(etab=etab, serveur=serveur, via=via, window=minutes, region=region,
                                                report=out_dir, request=why)  # fmt: skip
        again = f"invoke install --etab {etab} --serveur {serveur}" + (f" --via {via}" if via else "")
    else:
        postes = [p.strip() for p in poste.split(",") if p.strip()] or None
        outcomes, out = install.install_salle(etab=etab, salle=salle, postes=postes, window=minutes, region=region,
                                              report=out_dir, request=why)  # fmt: skip
        again = f"invoke install --etab {etab} --salle {salle} --poste <names>"
    install.show(outcomes, out)
    if install.failed(outcomes):
        raise StepFailed("not everything was installed: see the table above",
                         hint=f"power them on and arm again: {again}; details in {out}/record.json")  # fmt: skip


def patch(*, etab: str, wave: str, everything: bool, now: bool, check: bool, report: str, inventory: str,
          year: str = "", ticket: str = "", scheduled: bool = False, fetch: bool = False) -> None:  # fmt: skip
    if sum(bool(x) for x in (etab, wave, everything)) != 1:
        raise SocleError(
            "say what to patch: one of --etab UAI, --wave pilot|1|2|3 or --all", hint="invoke patch --help"
        )
    ticket = _intent("patch", ticket, "").ticket
    region = Path(inventory) if inventory else None
    # the gate reads the results database the nightly runs write (lycée serveurs in pull mode, or --all)
    plan = patching.plan(wave=wave or None, etab=etab or None, now=now, region=region,
                         measure=conformity_history.school_rates, year=_year(year))  # fmt: skip
    patching.show(plan)
    if check:
        return
    wait = patching.waiting(plan) if scheduled else None
    if wait:  # the timer fires again at the next window: not a failure
        Console(stderr=True).print(f"nothing to do now: {wait.message}\n  {wait.hint}", markup=False)
        return
    scope = f"etab {etab}" if etab else f"wave {wave}" if wave else "all"
    outcomes, out = patching.apply(plan, scope=scope, region=region, report=Path(report) if report else None,
                                   ticket=ticket, fetch=fetch)  # fmt: skip
    patching.show_outcomes(outcomes, out)
    if patching.failed(outcomes):
        raise StepFailed("patch run incomplete: see the table above", hint=f"details in {out}/run.json")


def calendar_import(*, csv: str) -> None:
    for path in maintenance.import_dataset(Path(csv)):
        print(f"wrote {rel(path)}")
