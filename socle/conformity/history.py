"""The conformity history: one row per run and per host, in the history database (socle.core.history).

At the Région it is PostgreSQL, written by every lycée serveur in pull mode with its own role: row-level
security (socle.conformity.regiondb) lets a lycée write and read only its own UAI's rows. What is read
back is checked again (a host name, a status, a drift list), never pasted into a report as it came.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from socle.conformity.model import SILENT_AFTER_H, STATUSES, Drift, HostResult, summarize
from socle.core import history as core_history
from socle.core import operator
from socle.core.clock import utc_stamp
from socle.core.history import bounded_json, transaction
from socle.core.uai import is_valid

#: what a stored host name must look like to be read back (it names a file of the report)
_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_DETAIL_MAX = 256 * 1024

_META = sa.MetaData()


#: one row per run: ``target`` is the établissement's UAI (pull mode, --etab), ``all`` or a salle
RUNS = sa.Table(
    "conformity_runs", _META,
    sa.Column("id", sa.Integer, primary_key=True), sa.Column("at", sa.String(32), index=True),
    sa.Column("target", sa.String(64), index=True), sa.Column("hosts", sa.Integer), sa.Column("conformant", sa.Integer),
    sa.Column("percent", sa.Float), sa.Column("duration_s", sa.Float),
    # set by the database when the row is written (a lycée role may not write it): freshness is judged on it
    sa.Column("recorded", sa.DateTime(timezone=True), server_default=sa.func.now(), index=True),
)  # fmt: skip

#: one row per host and run; ``detail`` (JSON) holds what the report shows: drifts, reason, patch facts
HOST_RESULTS = sa.Table(
    "conformity_hosts", _META,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("conformity_runs.id"), index=True),
    sa.Column("host", sa.String(64), index=True), sa.Column("uai", sa.String(8), index=True),
    sa.Column("salle", sa.String(32)), sa.Column("profile", sa.String(64)), sa.Column("status", sa.String(16)),
    sa.Column("drifts", sa.Integer), sa.Column("detail", sa.Text),
    sa.Index("ix_conformity_hosts_uai_run", "uai", "run_id"),
)  # fmt: skip


def record(db: str | Path | None, summary: dict[str, Any], results: list[HostResult]) -> dict[str, Any]:
    """Append this run; return the trend (past runs) and time since each host was last conformant."""
    with transaction(db, _META) as con:
        run_id = con.execute(
            RUNS.insert().values(
                at=summary["when"], target=summary["target"], hosts=summary["hosts"],
                conformant=summary["statuses"].get("conformant", 0), percent=summary["conformity_percent"],
                duration_s=summary["duration_s"],
            )
        ).inserted_primary_key[0]  # fmt: skip
        if results:
            con.execute(
                HOST_RESULTS.insert(),
                [{"run_id": run_id, "host": r.host, "uai": r.uai, "salle": r.salle, "profile": r.profile,
                  "status": r.status, "drifts": len(r.drifts), "detail": _detail(r)} for r in results],
            )  # fmt: skip
        trend = con.execute(
            sa.select(RUNS.c.at, RUNS.c.percent, RUNS.c.hosts)
            .where(RUNS.c.target == summary["target"]).order_by(RUNS.c.id.desc()).limit(30)
        ).all()  # fmt: skip
        last_ok = dict(
            con.execute(
                sa.select(HOST_RESULTS.c.host, sa.func.max(RUNS.c.at))
                .join(RUNS, RUNS.c.id == HOST_RESULTS.c.run_id)
                .where(HOST_RESULTS.c.status == "conformant").group_by(HOST_RESULTS.c.host)
            ).all()
        )  # fmt: skip
    core_history.record(core_history.Intervention(
        "conformity", operator.unattended(), summary["when"], utc_stamp(), "success", run=summary["when"],
        uai=summary["target"] if summary["target"] not in ("all", "region") else "",
        detail={"hosts": summary["hosts"], "conformant": summary["statuses"].get("conformant", 0),
                "percent": summary["conformity_percent"]},
    ), db=db)  # fmt: skip
    return {
        "trend": [{"at": a, "percent": p, "hosts": h} for a, p, h in reversed(trend)],
        "last_conformant": {r.host: last_ok.get(r.host) for r in results},
    }


def _detail(r: HostResult) -> str:
    return json.dumps({"drifts": [asdict(d) for d in r.drifts], "reason": r.reason, "last_patch": r.last_patch,
                       "patch_latency_h": r.patch_latency_h}, ensure_ascii=False, default=str)  # fmt: skip


def _text(value: Any, limit: int) -> str:
    return ("" if value is None else value if isinstance(value, str) else json.dumps(value, default=str))[:limit]


def result_of(row: Any) -> HostResult | None:
    """A stored row as a HostResult, or None when it is not one: rows come from lycée serveurs, so each
    field is checked (host name, UAI, status vocabulary, drift list) and bounded, never taken as written."""
    if not (isinstance(row.host, str) and _HOST.match(row.host) and is_valid(row.uai) and row.status in STATUSES):
        return None
    detail = bounded_json(row.detail, _DETAIL_MAX)
    if not isinstance(detail, dict) or not isinstance(detail.get("drifts", []), list):
        return None
    drifts = [Drift(_text(d.get("category"), 32), _text(d.get("check"), 128), _text(d.get("message"), 500),
                    _text(d.get("expected"), 500), _text(d.get("actual"), 500))
              for d in detail.get("drifts", [])[:200] if isinstance(d, dict)]  # fmt: skip
    latency = detail.get("patch_latency_h")
    return HostResult(
        row.host, row.uai, _text(row.salle, 32), _text(row.profile, 64), row.status, drifts,
        _text(detail.get("reason"), 2000), _text(detail.get("last_patch"), 32) or None,
        float(latency) if isinstance(latency, int | float) and not isinstance(latency, bool) else None,
    )  # fmt: skip


def newest_per_school(uais: list[str], *, since: dt.datetime, db: str | Path | None = None
                      ) -> tuple[dict[str, list[HostResult]], dict[str, str | None], int]:  # fmt: skip
    """Per établissement, the results of its newest run recorded since ``since`` (a UTC datetime);
    for the others, when their last run was recorded (None: never). Also the number of rows refused
    (not a host name, not a status, not parseable)."""
    since = since.astimezone(dt.UTC)
    with transaction(db, _META) as con:
        first = con.execute(sa.select(sa.func.min(RUNS.c.id)).where(RUNS.c.recorded >= since)).scalar()
        newest: dict[str, int] = {}
        if first is not None:
            newest = dict(con.execute(  # type: ignore[arg-type]
                sa.select(HOST_RESULTS.c.uai, sa.func.max(HOST_RESULTS.c.run_id))
                .join(RUNS, RUNS.c.id == HOST_RESULTS.c.run_id)
                .where(HOST_RESULTS.c.run_id >= first, RUNS.c.recorded >= since, HOST_RESULTS.c.uai.in_(uais))
                .group_by(HOST_RESULTS.c.uai)
            ).all())  # fmt: skip
        rows = con.execute(sa.select(HOST_RESULTS).where(HOST_RESULTS.c.run_id.in_(set(newest.values())))).all()
        silent: dict[str, str | None] = {}
        for uai in sorted(set(uais) - set(newest)):
            last_run = sa.select(sa.func.max(HOST_RESULTS.c.run_id)).where(HOST_RESULTS.c.uai == uai)
            last = con.execute(sa.select(RUNS.c.recorded).where(RUNS.c.id == last_run.scalar_subquery())).scalar()
            silent[uai] = None if last is None else str(last)[:19].replace(" ", "T")
    results: dict[str, list[HostResult]] = {u: [] for u in newest}
    refused = 0
    for row in rows:
        if newest.get(row.uai) != row.run_id:
            continue
        result = result_of(row)
        if result is None:
            refused += 1
        else:
            results[row.uai].append(result)
    return results, silent, refused


def school_rates(uais: list[str], *, now: dt.datetime | None = None, db: str | Path | None = None
                 ) -> tuple[dict[str, float], dict[str, str | None]]:  # fmt: skip
    """What the wave gate reads: each établissement's conformity % over the hosts seen in its newest
    results of the last SILENT_AFTER_H hours; the others (no fresh results, or no host seen) with the
    time of their last results (None: never)."""
    now = now or dt.datetime.now(dt.UTC)
    found, missing, _ = newest_per_school(uais, since=now - dt.timedelta(hours=SILENT_AFTER_H), db=db)
    rates = {}
    for uai, rows in found.items():
        summary = summarize(rows, when="", target=uai, duration=0)
        if summary["seen"]:
            rates[uai] = float(summary["conformity_percent"])
        else:
            missing[uai] = "no host seen"
    return rates, missing


def per_host(since: str, until: str, *, uai: str = "",
             db: str | Path | None = None) -> list[tuple[str, str, str, int, int, int]]:  # fmt: skip
    """(month, host, uai, results, answered, conformant) of the runs in [since, until), of one
    établissement if given: what the monthly review counts (socle.review.kpis.conformity)."""
    # literal bounds: PostgreSQL matches the GROUP BY expression to the selected one only without parameters
    month = sa.func.substr(RUNS.c.at, sa.literal_column("1"), sa.literal_column("7"))
    answered = sa.case((HOST_RESULTS.c.status.in_(("conformant", "drift")), 1), else_=0)
    conformant = sa.case((HOST_RESULTS.c.status == "conformant", 1), else_=0)
    query = (
        sa.select(month, HOST_RESULTS.c.host, HOST_RESULTS.c.uai, sa.func.count(), sa.func.sum(answered),
                  sa.func.sum(conformant))
        .join(RUNS, RUNS.c.id == HOST_RESULTS.c.run_id).where(RUNS.c.at >= since, RUNS.c.at < until)
        .group_by(month, HOST_RESULTS.c.host, HOST_RESULTS.c.uai)
    )  # fmt: skip
    if uai:
        query = query.where(HOST_RESULTS.c.uai == uai)
    with transaction(db, _META) as con:
        found = con.execute(query).all()
    return [tuple(r) for r in found]  # type: ignore[misc]
