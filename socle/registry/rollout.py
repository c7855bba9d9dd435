"""A school year's rollout (``masters/<year>/rollout.yml``): its waves, the day each wave moves to
the year's masters, and the rules of the patch waves. Which school year's masters a school runs on
a given day is decided here, by :func:`assigned_year`, and nowhere else."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from socle.core.errors import SocleError
from socle.core.files import regular_file_in
from socle.core.findings import errors
from socle.core.paths import rel
from socle.core.schema import validate
from socle.core.yamlio import load
from socle.registry import specs

FILE = "rollout.yml"


@dataclass(frozen=True)
class Rollout:
    year: str
    #: the waves, first to last
    order: list[str]
    #: the day (Paris) each wave moves to this year's masters
    starts: dict[str, dt.date]
    #: the whole file (gate threshold, batches, Windows categories)
    settings: dict[str, Any]


def load_rollout(year: str, folder: Path | None = None) -> Rollout:
    """``masters/<year>/rollout.yml`` (or the one in ``folder``), checked against its schema and against
    itself (located errors)."""
    folder = folder or specs.MASTERS_DIR / year
    path = folder / FILE
    if not path.exists():
        raise SocleError(f"no rollout plan for {year}", where=str(rel(path)),
                         hint=f"invoke year.new {year} creates it from the previous year's")  # fmt: skip
    doc = load(regular_file_in(path, folder))
    problems = errors(validate(doc, "rollout", "ROL001"))
    if problems:
        first = problems[0]
        raise SocleError(first.message, where=f"{first.file}:{first.line} {first.keypath}".strip(), hint=first.fix)
    data: dict[str, Any] = doc.data
    where = f"{rel(path)}:{doc.line(('starts',)) or 1}"
    order = [str(w) for w in data["order"]]
    if data["school_year"] != year:
        raise SocleError(f"school_year is '{data['school_year']}' but the folder is {year}",
                         where=f"{rel(path)}:{doc.line(('school_year',)) or 1}")  # fmt: skip
    if set(data["starts"]) != set(order):
        missing, extra = sorted(set(order) - set(data["starts"])), sorted(set(data["starts"]) - set(order))
        raise SocleError(f"starts must give one day per wave of order (missing: {', '.join(missing) or '-'}; "
                         f"unknown: {', '.join(extra) or '-'})", where=where)  # fmt: skip
    starts = {}
    first = int(year[:4])
    for wave, text in data["starts"].items():
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise SocleError(f"starts.{wave}: '{text}' is not a date", where=where, hint="as 2026-08-24") from None
        if not dt.date(first, 1, 1) <= day <= dt.date(first, 9, 30):
            raise SocleError(f"starts.{wave}: {day} is not between January and the rentrée of {first}", where=where,
                             hint="pilot schools move in June, the waves in late August")  # fmt: skip
        starts[wave] = day
    return Rollout(year, order, starts, data)


def assigned_year(wave: str, day: dt.date) -> str:
    """The school year whose masters a school of ``wave`` runs on ``day``: the newest year with masters
    whose rollout has moved that wave by then. Next year's masters reach the pilot schools in June
    and the other waves at their own day; until then a school keeps the year before."""
    years = specs.available_years()
    for year in reversed(years):
        plan = load_rollout(year)
        if wave in plan.starts and plan.starts[wave] <= day:
            return year
    raise SocleError(f"no school year's masters are assigned to wave {wave} on {day}",
                     hint=f"school years with masters: {', '.join(years) or 'none'}; "
                          "check `starts` in their rollout.yml")  # fmt: skip


#: how long before a wave moves to next year's masters its serveurs start staging them
STAGE_AHEAD_DAYS = 45


def to_stage(wave: str, profiles: list[str], day: dt.date, ahead_days: int = STAGE_AHEAD_DAYS) -> list[dict[str, str]]:
    """What a lycée serveur of ``wave`` stages ahead, for the ``profiles`` its établissement runs: the
    masters of its assigned year, and those of a later year its wave moves to within ``ahead_days``
    (profiles that year has)."""
    years = [assigned_year(wave, day)]
    for year in specs.available_years():
        if year > years[0]:
            start = load_rollout(year).starts.get(wave)
            if start and start <= day + dt.timedelta(days=ahead_days):
                years.append(year)
    return [{"year": y, "profile": p} for y in years for p in sorted(set(profiles)) if p in specs.available_profiles(y)]
