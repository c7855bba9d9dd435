"""Maintenance windows: never during class hours; school holidays (by zone) preferred.

Every moment is judged on Paris wall-clock time (``clock.in_paris``), whatever the controller's zone.
Class hours default to Monday-Friday 08:00-18:00, with Wednesday afternoon free; an
établissement may override them (``options.class_hours``). Holidays come from the ministry's
calendar (open data "fr-en-calendrier-scolaire"), shipped as data in ``data/calendrier/`` and
updated with :func:`import_dataset`: dates are never invented here.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from socle.catalogue.model import school_year_match
from socle.core.clock import PARIS, in_paris, paris_date, school_year_of
from socle.core.errors import SocleError
from socle.core.files import locked, read_input, regular_file_in, shorten, write_atomic
from socle.core.paths import ROOT
from socle.core.yamlio import dumps, load

CALENDAR_DIR = ROOT / "data" / "calendrier"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_CLASS_HOURS: dict[str, Any] = {
    "forbidden": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00", "to": "18:00"}],
    "allowed": [{"days": ["wed"], "from": "12:00", "to": "18:00"}],
}


@dataclass(frozen=True)
class Period:
    description: str
    zones: frozenset[str]
    start: dt.date  # holidays begin after the last class of this day
    end: dt.date | None  # classes resume the morning of this day (None: until the end of the school year)

    def covers(self, moment: dt.datetime, zone: str) -> bool:
        """Whether ``moment`` (aware) falls in these holidays for ``zone``."""
        if zone not in self.zones:
            return False
        begins = dt.datetime.combine(self.start, dt.time(18, 0), PARIS)
        # an open end is the summer: it lasts until the school year ends (31 August)
        end = self.end or dt.date(self.start.year, 9, 1)
        return begins <= moment < dt.datetime.combine(end, dt.time(0, 0), PARIS)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    preferred: bool  # inside school holidays: the best time for disruptive work
    reason: str
    forced: bool = False


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _in(rules: list[dict[str, Any]], moment: dt.datetime) -> bool:
    day = DAYS[moment.weekday()]
    now = moment.hour * 60 + moment.minute
    return any(day in r["days"] and _minutes(r["from"]) <= now < _minutes(r["to"]) for r in rules)


#: the longest holiday that is not the summer (Noël and Toussaint are about 16 days)
MAX_HOLIDAY_DAYS = 21
#: the summer holidays: from late June or July to the rentrée
MAX_SUMMER_DAYS = 80


def year_problem(year: str) -> str | None:
    """Why ``year`` is not a school year such as 2026-2027 (None when it is)."""
    m = school_year_match(year)
    if not m or not 2000 <= int(m.group(1)) <= 2100:
        return f"'{shorten(year, 20)}' is not a school year (write it as 2026-2027)"
    return None


def period_problem(period: Period, year: str) -> str | None:
    """Why a holiday period cannot be in ``year``'s calendar: outside the year, inverted, or too long.

    A "holiday" that covers a month of class would open the maintenance window during class.
    """
    first = int(year[:4])
    if not dt.date(first, 8, 1) <= period.start <= dt.date(first + 1, 8, 31):
        return f"starts on {period.start}, outside the school year {year}"
    if not period.zones or not period.zones <= {"A", "B", "C"}:
        return f"zones {sorted(period.zones)} are not A, B or C"
    summer = period.start.month in (6, 7, 8)
    if period.end is None:
        return None if summer else "only the summer holidays may have no end date"
    days = (period.end - period.start).days
    longest = MAX_SUMMER_DAYS if summer else MAX_HOLIDAY_DAYS
    if days <= 0:
        return f"ends on {period.end}, before it starts ({period.start})"
    if days > longest:
        return f"lasts {days} days (at most {longest}{' for the summer' if summer else ' outside the summer'})"
    return None


def load_calendar(year: str, folder: Path | None = None) -> list[Period]:
    """Holiday periods of a school year; empty (with no error) when the calendar is not imported yet."""
    problem = year_problem(year)
    if problem:
        raise SocleError(problem, hint="school years look like 2026-2027")
    folder = folder or CALENDAR_DIR
    path = folder / f"{year}.yaml"
    return _read_calendar(regular_file_in(path, folder), year) if path.exists() or path.is_symlink() else []


def _read_calendar(path: Path, year: str) -> list[Period]:
    doc = load(path)
    if not isinstance(doc.data, dict):
        raise SocleError("a calendar is a mapping with periods", where=str(path))
    periods = []
    for i, item in enumerate(doc.data.get("periods") or []):
        try:
            period = Period(
                str(item["description"]),
                frozenset(item["zones"]),
                dt.date.fromisoformat(str(item["start"])),
                dt.date.fromisoformat(str(item["end"])) if item.get("end") else None,
            )
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise SocleError(f"bad holiday period: {shorten(exc)}", where=doc.where(("periods", i))) from None
        problem = period_problem(period, year)
        if problem:
            raise SocleError(f"holiday period {shorten(period.description, 40)} {problem}",
                             where=doc.where(("periods", i)), hint="import the ministry's calendar again")  # fmt: skip
        periods.append(period)
    return periods


def decide(
    moment: dt.datetime,
    *,
    zone: str,
    class_hours: dict[str, Any] | None = None,
    calendar: list[Period] | None = None,
    now: bool = False,
) -> Decision:
    """May disruptive maintenance run at ``moment`` for a school of ``zone``? (Paris time; a naive
    moment is read as Paris time.)"""
    moment = in_paris(moment)
    calendar = load_calendar(school_year_of(moment.date())) if calendar is None else calendar
    holiday = next((p for p in calendar if p.covers(moment, zone)), None)
    if holiday:
        return Decision(True, True, f"school holidays ({holiday.description}, zone {zone})")
    hours = class_hours or DEFAULT_CLASS_HOURS
    if _in(hours.get("forbidden", []), moment) and not _in(hours.get("allowed", []), moment):
        if now:
            return Decision(True, False, "class hours, forced with --now (recorded)", forced=True)
        return Decision(False, False, f"class hours ({DAYS[moment.weekday()]} {moment:%H:%M})")
    return Decision(True, False, "outside class hours")


def next_window(moment: dt.datetime, *, zone: str, class_hours: dict[str, Any] | None = None,
                calendar: list[Period] | None = None, horizon_days: int = 14) -> dt.datetime:  # fmt: skip
    """The first quarter-hour from ``moment`` on when maintenance is allowed (aware, Paris time)."""
    probe = in_paris(moment).replace(second=0, microsecond=0)
    if decide(probe, zone=zone, class_hours=class_hours, calendar=calendar).allowed:
        return probe
    probe += dt.timedelta(minutes=-probe.minute % 15)  # then on quarter-hours
    for _ in range(horizon_days * 96):
        if decide(probe, zone=zone, class_hours=class_hours, calendar=calendar).allowed:
            return probe
        probe += dt.timedelta(minutes=15)
    raise SocleError(f"no maintenance window in the next {horizon_days} days", hint="check the class hours")


# --- the ministry's open data ------------------------------------------------------------------
COLUMNS = {"description": "description", "date de debut": "start", "date de début": "start", "start_date": "start",
           "date de fin": "end", "end_date": "end", "zones": "zone", "zone": "zone", "population": "population",
           "annee_scolaire": "year", "année scolaire": "year"}  # fmt: skip


def import_dataset(csv_path: Path, out: Path | None = None) -> list[Path]:
    """Turn an export of "fr-en-calendrier-scolaire" (CSV, ';') into data/calendrier/<year>.yaml files."""
    text = read_input(csv_path, max_bytes=16 * 1024 * 1024, what="calendar export (CSV)", encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text), delimiter=";")
    fields = {name: COLUMNS.get(name.strip().lower()) for name in reader.fieldnames or []}
    missing = {"description", "start", "end", "zone", "year"} - set(fields.values())
    if missing:
        raise SocleError(f"not a calendar export: missing column(s) {', '.join(sorted(missing))}", where=str(csv_path))
    years: dict[str, dict[tuple[str, str, str], set[str]]] = {}
    try:
        rows = list(enumerate(reader, start=2))
    except csv.Error as exc:
        raise SocleError(f"unreadable CSV: {exc}", where=f"{csv_path}:{reader.line_num}") from None
    for lineno, row in rows:
        values = {fields[k]: (v or "").strip() for k, v in row.items() if k is not None and fields.get(k)}
        if values.get("population", "-") not in {"", "-", "Élèves", "Eleves"}:
            continue  # teachers-only dates do not change class hours
        zone = re.sub(r"^Zone\s+", "", values.get("zone", ""), flags=re.I)
        if zone not in {"A", "B", "C"}:
            continue  # Corse, overseas: their own calendars
        where = f"{csv_path}:{lineno}"
        problem = year_problem(values.get("year", ""))  # it names the file written: never a path
        if problem:
            raise SocleError(f"annee_scolaire {problem}", where=where, hint="is this the ministry's export?")
        try:  # the export writes midnight in Paris as UTC (2025-10-17T22:00:00+00:00 is 18 October)
            start = paris_date(values.get("start", ""))
            end = paris_date(values["end"]) if values.get("end") else None
        except ValueError:
            hint = "dates are written 2025-10-18 or 2025-10-17T22:00:00+00:00 (ISO)"
            raise SocleError("bad date", where=where, hint=hint) from None
        description = shorten(values.get("description", ""), 80)
        problem = period_problem(Period(description, frozenset({zone}), start, end), values["year"])
        if problem:
            raise SocleError(f"holiday period {description} {problem}", where=where,
                             hint="nothing was written; a holiday never covers weeks of class")  # fmt: skip
        key = (description, str(start), str(end) if end else "")
        years.setdefault(values["year"], {}).setdefault(key, set()).add(zone)
    folder = out or CALENDAR_DIR
    written = []
    for year, periods in sorted(years.items()):
        data = {
            "school_year": year,
            "source": f"fr-en-calendrier-scolaire (imported from {shorten(csv_path.name, 60)})",
            "periods": [
                {"description": d, "zones": sorted(z), "start": s, **({"end": e} if e else {})}
                for (d, s, e), z in sorted(periods.items(), key=lambda kv: kv[0][1])
            ],
        }
        path = folder / f"{year}.yaml"
        with locked(path, what=f"the calendar {year}"):
            write_atomic(path, dumps(data), validate=lambda tmp, y=year: _read_calendar(tmp, y))
        written.append(path)
    return written
