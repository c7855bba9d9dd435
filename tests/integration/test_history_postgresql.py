"""The history database as the Région runs it: PostgreSQL. A throwaway cluster (initdb, a Unix socket
in a scratch folder, no TCP), then the same synthetic history written into it and into SQLite: the
monthly review must be the same from both."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from socle.core import history
from socle.inventory.model import fast_load
from socle.review import report, synthetic

pytestmark = pytest.mark.integration

PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None)


def as_postgres(*cmd: str) -> subprocess.CompletedProcess[str]:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def postgresql():
    if PG_BIN is None:
        pytest.skip("PostgreSQL is not installed (./socle.sh setup installs the postgresql package)")
    folder = Path(tempfile.mkdtemp(prefix="socle-pg-"))
    folder.chmod(0o755)
    data, sock = folder / "data", folder / "s"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        shutil.chown(sock, "postgres")
    as_postgres(str(PG_BIN / "initdb"), "-A", "trust", "-U", "postgres", "-D", str(data))
    as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "-l", str(folder / "log"), "start", "-o",
                f"-c listen_addresses='' -k {sock}")  # fmt: skip
    try:
        as_postgres(str(PG_BIN / "createdb"), "-h", str(sock), "socle")
        yield f"postgresql+psycopg://postgres@/socle?host={sock}"
    finally:
        subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "stop"] if os.geteuid() == 0 else [str(PG_BIN / "pg_ctl"), "-D", str(data), "stop"],
                       capture_output=True)  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


def test_the_review_is_the_same_from_postgresql_and_sqlite(postgresql, tmp_path):
    region = Path("inventories/grand-est")
    schools = synthetic.schools_of(fast_load(region))
    sqlite = str(tmp_path / "history.sqlite")
    for db in (postgresql, sqlite):
        synthetic.generate(db, schools, start="2026-06", months=6, seed=22)
    out = {}
    for name, db in (("postgresql", postgresql), ("sqlite", sqlite)):
        for etab in ("", "0671000Y"):
            ctx = report.collect("2026-11", etab=etab, region=region, db=db)
            report.write(ctx, tmp_path / name / (etab or "region"))
            out[name, etab] = json.loads((tmp_path / name / (etab or "region") / "kpis.json").read_text())
    for etab in ("", "0671000Y"):
        assert out["postgresql", etab] == out["sqlite", etab]
    kpis = {(r["month"], r["kpi"]): r["value"] for r in out["postgresql", ""]["kpis"] if r["scope"] == "region"}
    assert kpis["2026-11", "interventions"] > 0 and kpis["2026-11", "conformity_rate_seen"] > 0.5
    rows = history.interventions("2026-06-01", "2026-12-01", db=postgresql)
    assert {r["operation"] for r in rows} == {"build", "reimage"} and all(r["operator"] for r in rows)
