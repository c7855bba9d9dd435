"""Maintenance windows: never during class hours; school holidays (by zone) preferred.

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

from socle.core.clock import school_year_of
from socle.core.errors import SocleError
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
        if zone not in self.zones:
            return False
        begins = dt.datetime.combine(self.start, dt.time(18, 0))
        # an open end is the summer: it lasts until the school year ends (31 August)
        end = self.end or dt.date(self.start.year, 9, 1)
        return begins <= moment < dt.datetime.combine(end, dt.time(0, 0))


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


def load_calendar(year: str, folder: Path | None = None) -> list[Period]:
    """Holiday periods of a school year; empty (with no error) when the calendar is not imported yet."""
    path = (folder or CALENDAR_DIR) / f"{year}.yaml"
    if not path.exists():
        return []
    doc = load(path)
    periods = []
    for i, item in enumerate(doc.data.get("periods") or []):
        try:
            periods.append(
                Period(
                    item["description"],
                    frozenset(item["zones"]),
                    dt.date.fromisoformat(str(item["start"])),
                    dt.date.fromisoformat(str(item["end"])) if item.get("end") else None,
                )
            )
        except (KeyError, ValueError) as exc:
            raise SocleError(f"bad holiday period: {exc}", where=doc.where(("periods", i))) from None
    return periods


def decide(
    moment: dt.datetime,
    *,
    zone: str,
    class_hours: dict[str, Any] | None = None,
    calendar: list[Period] | None = None,
    now: bool = False,
) -> Decision:
    """May disruptive maintenance run at ``moment`` (local time) for a school of ``zone``?"""
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
    """The first quarter-hour from ``moment`` on when maintenance is allowed."""
    probe = moment.replace(second=0, microsecond=0)
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
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SocleError("file not found", where=str(csv_path)) from None
    reader = csv.DictReader(io.StringIO(text), delimiter=";")
    fields = {name: COLUMNS.get(name.strip().lower()) for name in reader.fieldnames or []}
    missing = {"description", "start", "end", "zone", "year"} - set(fields.values())
    if missing:
        raise SocleError(f"not a calendar export: missing column(s) {', '.join(sorted(missing))}", where=str(csv_path))
    years: dict[str, dict[tuple[str, str, str], set[str]]] = {}
    for lineno, row in enumerate(reader, start=2):
        values = {fields[k]: (v or "").strip() for k, v in row.items() if fields.get(k)}
        if values.get("population", "-") not in {"", "-", "Élèves", "Eleves"}:
            continue  # teachers-only dates do not change class hours
        zone = re.sub(r"^Zone\s+", "", values["zone"], flags=re.I)
        if zone not in {"A", "B", "C"}:
            continue  # Corse, overseas: their own calendars
        try:
            start = dt.date.fromisoformat(values["start"][:10])
            end = dt.date.fromisoformat(values["end"][:10]) if values["end"] else None
        except ValueError:
            raise SocleError(f"bad date in line {lineno}", where=f"{csv_path}:{lineno}") from None
        key = (values["description"], str(start), str(end) if end else "")
        years.setdefault(values["year"], {}).setdefault(key, set()).add(zone)
    written = []
    folder = out or CALENDAR_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for year, periods in sorted(years.items()):
        data = {
            "school_year": year,
            "source": f"fr-en-calendrier-scolaire (imported from {csv_path.name})",
            "periods": [
                {"description": d, "zones": sorted(z), "start": s, **({"end": e} if e else {})}
                for (d, s, e), z in sorted(periods.items(), key=lambda kv: kv[0][1])
            ],
        }
        path = folder / f"{year}.yaml"
        path.write_text(dumps(data))
        written.append(path)
    return written
