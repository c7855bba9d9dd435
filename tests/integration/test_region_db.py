"""The Région's results database as the lycée serveurs meet it: a real PostgreSQL server, reached over
TLS (server certificate checked against the Région's CA) on a network namespace this test creates,
each lycée with its own role, row-level security between them, and the Région report read from it."""

from __future__ import annotations

import datetime as dt
import os
import subprocess

import pytest
import sqlalchemy as sa

from socle.conformity import expected, history, nightly, regiondb
from socle.conformity import model as cmodel
from socle.core import history as core_history
from socle.core import operator
from socle.core.errors import SocleError
from socle.core.paths import ROOT
from tests.integration import pglab

pytestmark = pytest.mark.integration

REGION = ROOT / "inventories" / "grand-est"


@pytest.fixture(scope="module")
def region_db():
    """PostgreSQL in its own network namespace (veth: host 10.203.x.1, server 10.203.x.2), TLS only."""
    if pglab.PG_BIN is None or os.geteuid() != 0:
        pytest.skip("needs root and PostgreSQL (./socle.sh setup installs the postgresql package)")
    ns, index = f"socle-pg-{os.getpid()}", os.getpid() % 250
    host_ip, server_ip = f"10.203.{index}.1", f"10.203.{index}.2"
    server = None
    try:
        pglab.sh("ip", "netns", "add", ns)
        pglab.sh("ip", "link", "add", ns, "type", "veth", "peer", "name", "eth0", "netns", ns)
        pglab.sh("ip", "addr", "add", f"{host_ip}/30", "dev", ns)
        pglab.sh("ip", "link", "set", ns, "up")
        for cmd in (["addr", "add", f"{server_ip}/30", "dev", "eth0"], ["link", "set", "eth0", "up"],
                    ["link", "set", "lo", "up"]):  # fmt: skip
            pglab.sh("ip", "netns", "exec", ns, "ip", *cmd)
        server = pglab.start(server_ip, f"{host_ip}/32", netns=ns)
        regiondb.provision(server.admin)
        regiondb.provision(server.admin)  # idempotent
        yield server.admin, server.url
    finally:
        if server is not None:
            server.stop()
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", ns], capture_output=True)


def night(uai: str, statuses: tuple[str, ...]) -> tuple[dict, list[cmodel.HostResult]]:
    """What one lycée serveur's nightly run produces for its first postes."""
    targets = expected.targets(REGION, uai, None)[: len(statuses)]
    rows = [cmodel.HostResult(t.host, t.uai, t.salle, t.profile, s,
                              [cmodel.Drift("health", "disk", "disque presque plein")] if s == "drift" else [])
            for t, s in zip(targets, statuses, strict=True)]  # fmt: skip
    return cmodel.summarize(rows, when=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), target=uai,
                            duration=1.0), rows  # fmt: skip


def test_each_lycee_writes_only_its_own_rows_and_the_region_reads_them_all(region_db, tmp_path):
    admin, url = region_db
    strasbourg = url(regiondb.role_of("0671000Y"), regiondb.add_lycee(admin, "0671000Y"))
    mulhouse = url(regiondb.role_of("0681001U"), regiondb.add_lycee(admin, "0681001U"))
    reporting = url("region_reports", regiondb.add_reporter(admin, "region_reports"))

    # each lycée serveur writes its night through TLS with its own role
    history.record(strasbourg, *night("0671000Y", ("conformant", "conformant", "drift", "not seen")))
    history.record(mulhouse, *night("0681001U", ("conformant", "not seen")))

    # Strasbourg cannot write for Mulhouse: not a run, not a host row in its own run, not the record time
    with pytest.raises(SocleError, match="row-level security"):
        history.record(strasbourg, *night("0681001U", ("drift",)))
    summary, rows = night("0671000Y", ("conformant",))
    rows[0].uai = "0681001U"
    with pytest.raises(SocleError, match="row-level security"):
        history.record(strasbourg, summary, rows)
    engine = sa.create_engine(strasbourg)
    with engine.connect() as con:
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            con.execute(sa.text("INSERT INTO conformity_runs (target, recorded) VALUES ('0671000Y', now() + "
                                "interval '1 year')"))  # fmt: skip
        con.rollback()
        # nor read it, nor rewrite its own history
        assert con.execute(sa.text("SELECT count(*) FROM conformity_hosts WHERE uai <> '0671000Y'")).scalar() == 0
        assert con.execute(sa.text("SELECT count(*) FROM conformity_hosts")).scalar() == 4
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            con.execute(sa.text("DELETE FROM conformity_hosts"))
    engine.dispose()

    # TLS is required, and the server's name is checked against the Région's CA
    with pytest.raises(SocleError):
        history.school_rates(["0671000Y"], db=url("region_reports", "x", sslmode="disable"))
    with pytest.raises(SocleError, match=r"certificate|hostname|server name"):
        history.school_rates(["0671000Y"], db=url("region_reports", "x", host="impostor.test"))

    # the Région reads every school; the report flags the two that never reported
    summary = nightly.region_report(region=REGION, report=tmp_path / "region", db=reporting)
    assert summary["per_etablissement"]["0671000Y"]["percent"] == round(100 * 2 / 3, 1)
    assert summary["per_etablissement"]["0681001U"]["conformant"] == 1
    assert {s["uai"] for s in summary["silent"]} == {"0541002W", "0571003F"}
    assert summary["ignored_rows"] == {"not in the inventory": 0, "unreadable": 0}
    assert "0541002W" in (tmp_path / "region" / "report.html").read_text()
    rates, missing = history.school_rates(["0671000Y", "0681001U", "0541002W"], db=reporting)
    assert rates == {"0671000Y": round(100 * 2 / 3, 1), "0681001U": 100.0} and missing == {"0541002W": None}
    with pytest.raises(SocleError, match="permission denied"):
        history.record(reporting, *night("0671000Y", ("conformant",)))


def test_a_lycee_role_cannot_forge_rows_nor_stop_the_region(region_db, tmp_path):
    """Issue #36, with a lycée's own role on the real server: a build row (which would move the
    publication date patch latency counts from), another contractor's reimage and a bad date are
    refused by the database; a detail nested 50,000 deep gets in (it is small) and the readers leave it
    out, saying so; a lycée past its daily quota is refused."""
    admin, url = region_db
    lycee = url(regiondb.role_of("0571003F"), regiondb.add_lycee(admin, "0571003F"))
    reporting = url("region_reports2", regiondb.add_reporter(admin, "region_reports2"))
    schedule = operator.unattended()
    acme = operator.Operator("t.muller", "contractor", "acme", "certificate 1")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    forged = [
        core_history.Intervention("build", operator.Operator("it", "regional-it", "region", "x"), stamp, stamp,
                                  "success", master="poste-linux/2026-2027.9"),
        core_history.Intervention("reimage", acme, stamp, stamp, "failed", uai="0571003F", salle="S1"),
        core_history.Intervention("conformity", schedule, stamp, stamp, "success", uai="0571003F",
                                  request=core_history.Request("other", "", "yesterday")),
    ]  # fmt: skip
    for entry in forged[:2]:
        with pytest.raises(SocleError, match="row-level security"):
            core_history.record(entry, db=lycee)
    with pytest.raises(SocleError, match="check constraint"):
        core_history.record(forged[2], db=lycee)
    core_history.record(core_history.Intervention("conformity", schedule, stamp, stamp, "success", uai="0571003F"),
                        db=lycee)  # what pull mode writes still gets in  # fmt: skip

    summary, rows = night("0571003F", ("conformant", "drift"))
    history.record(lycee, summary, rows)
    engine = sa.create_engine(lycee)
    with engine.begin() as con:
        run = con.execute(sa.text("SELECT max(id) FROM conformity_runs")).scalar()
        con.execute(sa.text("INSERT INTO conformity_hosts (run_id, host, uai, salle, profile, status, detail) "
                            "VALUES (:r, :h, '0571003F', 'S1', 'ci', 'drift', :d)"),
                    {"r": run, "h": rows[0].host + "-x", "d": "[" * 50_000 + "]" * 50_000})  # fmt: skip
    engine.dispose()
    found, _silent, refused = history.newest_per_school(["0571003F"], since=dt.datetime.now(dt.UTC)
                                                        - dt.timedelta(hours=1), db=reporting)  # fmt: skip
    assert refused == 1 and len(found["0571003F"]) == 2
    rates, _ = history.school_rates(["0571003F"], db=reporting)  # the wave gate reads on
    assert rates == {"0571003F": 50.0}

    regiondb.provision(admin, row_quota=3)  # today's rows of this lycée are already past 3
    try:
        with pytest.raises(SocleError, match="rows of the day"):
            core_history.record(core_history.Intervention("conformity", schedule, stamp, stamp, "success",
                                                          uai="0571003F"), db=lycee)  # fmt: skip
    finally:
        regiondb.provision(admin)
