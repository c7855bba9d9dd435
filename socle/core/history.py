"""The history database: one row per operation (install, reimage, reset, patch, conformity, build),
beside the conformity results per host (socle.conformity.history). SQLite by default, PostgreSQL at
the Région with an SQLAlchemy URL in ``SOCLE_HISTORY_DB``. The monthly review reads it
(socle.review, docs/review.md).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from socle.core.clock import PARIS, parse_utc, utc_stamp
from socle.core.errors import SocleError
from socle.core.operator import Operator
from socle.core.paths import ROOT
from socle.core.uai import is_valid

#: why an intervention happened (the review groups by it); labels in French for the report
CAUSES = {
    "malware": "logiciel malveillant",
    "misuse": "mauvaise utilisation",
    "software-fault": "panne logicielle",
    "hardware-swap": "changement de matériel",
    "rentree": "rentrée",
    "patch": "correctif",
    "other": "autre",
}
OPERATIONS = ("install", "reimage", "reset", "patch", "conformity", "build")
_TICKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/#-]{0,39}$")


def default_db() -> str:
    """SQLAlchemy URL of the history: SOCLE_HISTORY_DB (SOCLE_CONFORMITY_DB, its former name), else
    a SQLite file in .cache/; PostgreSQL: postgresql+psycopg://…"""
    value = (
        os.environ.get("SOCLE_HISTORY_DB")
        or os.environ.get("SOCLE_CONFORMITY_DB")
        or str(ROOT / ".cache" / "conformity" / "history.sqlite")
    )
    return value if "://" in value else f"sqlite:///{value}"


def _create_tables(engine: sa.Engine, metadata: sa.MetaData) -> None:
    """Create the missing tables. Two runs starting at once on a new database may both find a table
    missing: the one that loses the race sees it exists, and checks again."""
    try:
        metadata.create_all(engine)
    except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError) as exc:
        if "already exists" not in str(exc) and "duplicate key" not in str(exc):
            raise
        metadata.create_all(engine)


@contextmanager
def transaction(db: str | Path | None, metadata: sa.MetaData) -> Iterator[sa.Connection]:
    """A transaction on the history database, its tables created; errors become one clear line."""
    url = str(db or default_db())
    url = url if "://" in url else f"sqlite:///{url}"
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = sa.create_engine(url)
    except (ImportError, sa.exc.ArgumentError) as exc:
        raise SocleError(f"cannot use the history database '{url}': {exc}",
                         hint="SOCLE_HISTORY_DB takes a SQLite path or an SQLAlchemy URL "
                              "(postgresql+psycopg://user@host/db)") from None  # fmt: skip
    try:
        _create_tables(engine, metadata)
        with engine.begin() as con:
            yield con
    except sa.exc.SQLAlchemyError as exc:
        raise SocleError(f"history database error: {exc.__class__.__name__}: {getattr(exc, 'orig', None) or exc}",
                         hint="check SOCLE_HISTORY_DB (an SQLAlchemy URL or a SQLite file path)") from None  # fmt: skip
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Request:
    """Why the operator acts: the cause, and the ticket with the time it was opened (for MTTR)."""

    cause: str = "other"
    ticket: str = ""
    requested_at: str = ""  # UTC, ISO 8601 with Z


def request(cause: str = "other", ticket: str = "", requested_at: str = "",
            now: dt.datetime | None = None) -> Request:  # fmt: skip
    """Check ``--cause``, ``--ticket`` and ``--requested-at`` (local time is Europe/Paris)."""
    if cause not in CAUSES:
        raise SocleError(f"--cause {cause[:40]!r}: not a cause", hint=f"one of: {', '.join(CAUSES)}")
    if ticket and not _TICKET.match(ticket):
        raise SocleError(f"--ticket {ticket[:60]!r}: 1 to 40 letters, digits and . _ / # -",
                         hint="the reference of the request in the ticketing tool, e.g. GLPI-12345")  # fmt: skip
    if not requested_at:
        return Request(cause, ticket, "")
    try:
        when = dt.datetime.fromisoformat(requested_at)
    except ValueError:
        raise SocleError(
            f"--requested-at {requested_at[:40]!r}: not a date and time",
            hint="e.g. 2026-11-30T08:15 (Paris time) or 2026-11-30T07:15Z",
        ) from None
    when = (when if when.tzinfo else when.replace(tzinfo=PARIS)).astimezone(dt.UTC)
    if when > (now or dt.datetime.now(dt.UTC)) + dt.timedelta(minutes=5):
        raise SocleError(f"--requested-at {requested_at}: in the future", hint="the time the request was opened")
    return Request(cause, ticket, utc_stamp(when))


@dataclass
class Intervention:
    operation: str
    operator: Operator
    started: str  # UTC ISO with Z
    finished: str
    outcome: str  # success | incomplete | failed
    run: str = ""
    uai: str = ""
    salle: str = ""
    postes: list[str] = field(default_factory=list)
    postes_ok: int = 0
    request: Request = field(default_factory=Request)
    master: str = ""  # profile/version the postes were brought to (or built)
    detail: dict[str, Any] = field(default_factory=dict)


_META = sa.MetaData()
INTERVENTIONS = sa.Table(
    "interventions", _META,
    sa.Column("id", sa.Integer, primary_key=True), sa.Column("run", sa.String(64)),
    sa.Column("operation", sa.String(16), index=True), sa.Column("operator", sa.String(64)),
    sa.Column("operator_role", sa.String(16)), sa.Column("organisation", sa.String(48), index=True),
    sa.Column("operator_proof", sa.String(128)), sa.Column("uai", sa.String(8), index=True),
    sa.Column("salle", sa.String(32)), sa.Column("postes", sa.Text), sa.Column("postes_total", sa.Integer),
    sa.Column("postes_ok", sa.Integer), sa.Column("cause", sa.String(16)), sa.Column("ticket", sa.String(40)),
    sa.Column("requested_at", sa.String(20)), sa.Column("started", sa.String(20), index=True),
    sa.Column("finished", sa.String(20)), sa.Column("outcome", sa.String(16)), sa.Column("duration_s", sa.Float),
    sa.Column("master", sa.String(96)), sa.Column("detail", sa.Text),
)  # fmt: skip


def row(entry: Intervention) -> dict[str, Any]:
    if entry.operation not in OPERATIONS:
        raise ValueError(f"unknown operation {entry.operation}")
    return {
        "run": entry.run, "operation": entry.operation, "operator": entry.operator.name,
        "operator_role": entry.operator.role, "organisation": entry.operator.organisation,
        "operator_proof": entry.operator.proof, "uai": entry.uai, "salle": entry.salle,
        "postes": json.dumps(entry.postes), "postes_total": len(entry.postes), "postes_ok": entry.postes_ok,
        "cause": entry.request.cause, "ticket": entry.request.ticket, "requested_at": entry.request.requested_at,
        "started": entry.started, "finished": entry.finished, "outcome": entry.outcome,
        "duration_s": round((parse_utc(entry.finished) - parse_utc(entry.started)).total_seconds(), 1),
        "master": entry.master,
        "detail": json.dumps(entry.detail, ensure_ascii=False, sort_keys=True),
    }  # fmt: skip


def record(*entries: Intervention, db: str | Path | None = None) -> None:
    """Add these interventions to the history (one transaction)."""
    if entries:
        with transaction(db, _META) as con:
            con.execute(INTERVENTIONS.insert(), [row(e) for e in entries])


#: what a stored row may hold (rows come from lycée serveurs too: each value is checked on the way out)
OUTCOMES = ("success", "incomplete", "failed")
ROLES = ("cmil", "regional-it", "contractor", "schedule", "development")
#: a UTC stamp as socle writes it (utc_stamp); the Région database's constraints use the same pattern
STAMP_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"
_STAMP = re.compile(STAMP_PATTERN)
_ORG = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")
_DETAIL_MAX = 64 * 1024
_COUNT_MAX = 1_000_000


def _stamp(value: Any, *, empty: bool = False) -> bool:
    if empty and value in ("", None):
        return True
    if not (isinstance(value, str) and _STAMP.match(value)):
        return False
    try:
        parse_utc(value)
    except (ValueError, SocleError):
        return False
    return True


def bounded_json(text: Any, limit: int = _DETAIL_MAX) -> Any:
    """A JSON value stored as text, or None when it is not one, too big or nested past reason."""
    if not isinstance(text, str) or len(text) > limit:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _COUNT_MAX


def unreadable(r: dict[str, Any]) -> str:
    """Why a stored intervention cannot be counted ("" when it can): every field a review reads."""
    checks = (
        (r.get("operation") in OPERATIONS, "operation"), (r.get("outcome") in OUTCOMES, "outcome"),
        (r.get("operator_role") in ROLES, "role"), (r.get("cause") in CAUSES, "cause"),
        (_stamp(r.get("started")) and _stamp(r.get("finished")), "time"),
        (_stamp(r.get("requested_at"), empty=True), "request time"),
        (r.get("uai") in ("", None) or is_valid(r.get("uai")), "UAI"),
        (isinstance(r.get("organisation"), str) and bool(_ORG.match(r["organisation"])), "organisation"),
        (_count(r.get("postes_total")) and _count(r.get("postes_ok")), "count"),
        (isinstance(r.get("duration_s"), int | float) and 0 <= r["duration_s"] <= 366 * 86400, "duration"),
        (isinstance(bounded_json(r.get("postes")), list), "postes"),
        (isinstance(bounded_json(r.get("detail")), dict), "detail"),
    )  # fmt: skip
    return next((what for ok, what in checks if not ok), "")


def interventions(since: str, until: str, *, operation: str = "", uai: str = "", db: str | Path | None = None,
                  ignored: Counter[str] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Interventions started in [since, until) (UTC ISO stamps), oldest first; only ``operation``'s and
    ``uai``'s if given. A row any field of which is not what socle writes is left out and counted in
    ``ignored`` (by field), never a crash: the Région's database holds what lycée serveurs wrote."""
    query = sa.select(INTERVENTIONS).where(INTERVENTIONS.c.started >= since, INTERVENTIONS.c.started < until)
    if operation:
        query = query.where(INTERVENTIONS.c.operation == operation)
    if uai:
        query = query.where(INTERVENTIONS.c.uai == uai)
    with transaction(db, _META) as con:
        found = con.execute(query.order_by(INTERVENTIONS.c.started, INTERVENTIONS.c.id)).mappings().all()
    out = []
    for r in found:
        why = unreadable(dict(r))
        if why:
            if ignored is not None:
                ignored[why] += 1
        else:
            out.append(dict(r))
    return out


def operator_fields(entry: Intervention) -> dict[str, Any]:
    """The record.json side of an intervention: who, and why."""
    return {"who": asdict(entry.operator), **asdict(entry.request)}
