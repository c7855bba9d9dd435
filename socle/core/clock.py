"""Time as socle writes it: UTC stamps in records and manifests, run ids, the school year of a date."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

#: how every record, manifest and report writes a moment (UTC, seconds)
UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
#: run ids and report folder names (sortable, no colon)
RUN_ID_FORMAT = "%Y%m%dT%H%M%SZ"
#: the zone of every school's class hours and holidays (metropolitan France), whatever the controller's
PARIS = ZoneInfo("Europe/Paris")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def in_paris(moment: dt.datetime | None = None) -> dt.datetime:
    """``moment`` (default: now) on Paris wall-clock time, aware. A naive moment is read as Paris time
    already (what a person types); an aware one is converted, so a UTC controller never shifts a window."""
    moment = moment or now()
    return moment.replace(tzinfo=PARIS) if moment.tzinfo is None else moment.astimezone(PARIS)


def paris_date(text: str) -> dt.date:
    """The Paris calendar day of a date or a moment with a UTC offset: the ministry writes the first
    day of the Toussaint 2025 as ``2025-10-17T22:00:00+00:00`` (midnight in Paris, 18 October)."""
    moment = dt.datetime.fromisoformat(text.strip())
    return moment.astimezone(PARIS).date() if moment.tzinfo else moment.date()


def utc_stamp(moment: dt.datetime | None = None) -> str:
    """``moment`` (default: now), in UTC, as ``2026-11-30T14:03:57Z``."""
    return (moment or now()).astimezone(dt.UTC).strftime(UTC_FORMAT)


def from_epoch(epoch: int) -> str:
    """A Unix time (such as SOURCE_DATE_EPOCH) as a UTC stamp."""
    return utc_stamp(dt.datetime.fromtimestamp(epoch, dt.UTC))


def parse_utc(text: str) -> dt.datetime:
    """The inverse of :func:`utc_stamp`; ValueError when ``text`` is not one."""
    return dt.datetime.strptime(text, UTC_FORMAT).replace(tzinfo=dt.UTC)


def run_id(moment: dt.datetime) -> str:
    """The id of an operation run started at ``moment`` (a folder name: no colon)."""
    return moment.astimezone(dt.UTC).strftime(RUN_ID_FORMAT)


def school_year_of(day: dt.date) -> str:
    """The school year a date belongs to (rentrée in September), such as ``2026-2027``."""
    start = day.year if day.month >= 9 else day.year - 1
    return f"{start}-{start + 1}"
