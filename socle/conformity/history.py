"""The conformity history: one row per run and per host, SQLite by default, PostgreSQL at the Région."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from socle.conformity.model import HostResult
from socle.core.errors import SocleError
from socle.core.paths import ROOT


def default_db() -> str:
    """SQLAlchemy URL of the history: SQLite by default; PostgreSQL with SOCLE_CONFORMITY_DB=postgresql+psycopg://…"""
    value = os.environ.get("SOCLE_CONFORMITY_DB", str(ROOT / ".cache" / "conformity" / "history.sqlite"))
    return value if "://" in value else f"sqlite:///{value}"


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
    sa.Column("uai", sa.String(8)), sa.Column("salle", sa.String(32)), sa.Column("status", sa.String(16)),
    sa.Column("drifts", sa.Integer),
)  # fmt: skip


def record(db: str | Path, summary: dict[str, Any], results: list[HostResult]) -> dict[str, Any]:
    """Append this run; return the trend (past runs) and time since each host was last conformant."""
    url = str(db) if "://" in str(db) else f"sqlite:///{db}"
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = sa.create_engine(url)
    except (ImportError, sa.exc.ArgumentError) as exc:
        raise SocleError(
            f"cannot use the conformity history database '{url}': {exc}",
            hint="SOCLE_CONFORMITY_DB takes a SQLite path or an SQLAlchemy URL; PostgreSQL needs `pip install psycopg`",
        ) from None
    try:
        _META.create_all(engine)
        with engine.begin() as con:
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
    except sa.exc.SQLAlchemyError as exc:
        raise SocleError(
            f"conformity history database error: {exc.__class__.__name__}: {getattr(exc, 'orig', None) or exc}",
            hint="check SOCLE_CONFORMITY_DB (an SQLAlchemy URL or a SQLite file path)",
        ) from None
    finally:
        engine.dispose()
    return {
        "trend": [{"at": a, "percent": p, "hosts": h} for a, p, h in reversed(trend)],
        "last_conformant": {r.host: last_ok.get(r.host) for r in results},
    }
