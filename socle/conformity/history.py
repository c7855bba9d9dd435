"""The conformity history: one row per run and per host, in the history database (socle.core.history)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from socle.conformity.model import HostResult
from socle.core import history as core_history
from socle.core import operator
from socle.core.clock import utc_stamp
from socle.core.history import transaction

_META = sa.MetaData()


RUNS = sa.Table(
    "runs", _META,
    sa.Column("id", sa.Integer, primary_key=True), sa.Column("at", sa.String(32)), sa.Column("target", sa.String(64)),
    sa.Column("hosts", sa.Integer), sa.Column("conformant", sa.Integer), sa.Column("percent", sa.Float),
    sa.Column("duration_s", sa.Float),
)  # fmt: skip


HOST_RESULTS = sa.Table(
    "host_results", _META,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), index=True), sa.Column("host", sa.String(64), index=True),
    sa.Column("uai", sa.String(8), index=True), sa.Column("salle", sa.String(32)), sa.Column("status", sa.String(16)),
    sa.Column("drifts", sa.Integer),
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
                [{"run_id": run_id, "host": r.host, "uai": r.uai, "salle": r.salle, "status": r.status,
                  "drifts": len(r.drifts)} for r in results],
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
