"""The monthly review (issue #22): KPIs computed by hand on a small history, a synthetic year through
the whole report, who and why in every record (the operator's signed identity, the request)."""

from __future__ import annotations

import csv
import datetime as dt
import subprocess
from pathlib import Path

import pytest

from socle.conformity import history as conformity_history
from socle.conformity.model import HostResult, summarize
from socle.core import history, operator
from socle.core.clock import utc_stamp
from socle.core.errors import SocleError
from socle.inventory.model import fast_load
from socle.review import kpis, report, synthetic
from tests.conftest import run_invoke

CMIL = operator.Operator("m.bernard", "cmil", "region", "certificate 1 (CA test)")
ACME = operator.Operator("t.muller", "contractor", "acme", "certificate 2 (CA test)")
X, Y = "0671000Y", "0681001U"


def _z(day: int, hour: float) -> str:
    return utc_stamp(dt.datetime(2026, 11, day, tzinfo=dt.UTC) + dt.timedelta(hours=hour))


def reimage(who, day, start, end, outcome="success", *, uai=X, salle="S1", ticket="", opened=None, cause="misuse",
            master=""):  # fmt: skip
    request = history.Request(cause, ticket, _z(day, opened) if opened is not None else "")
    return history.Intervention("reimage", who, _z(day, start), _z(day, end), outcome, run=f"r{day}{start}",
                                uai=uai, salle=salle, postes=["p1", "p2"], postes_ok=2, request=request,
                                master=master)  # fmt: skip


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "history.sqlite")
    history.record(
        # ticket A: opened at 08:00, restored at 10:00, first time (2 h)
        reimage(CMIL, 10, 9, 10, ticket="A-1", opened=8),
        # ticket B: a first visit that left postes behind, a second one at 14:00 (6 h, not first time)
        reimage(ACME, 11, 8.5, 9, "incomplete", ticket="B-2", opened=8),
        reimage(ACME, 11, 13, 14, ticket="B-2"),
        # no ticket, no request time: restored, counted apart from MTTR
        reimage(CMIL, 12, 9, 10),
        # salle S9 reimaged four times this month: marked (the first three above were S1)
        *[reimage(CMIL, d, 15, 16, salle="S9") for d in (2, 9, 16, 23)],
        # a patch release published on the 5th at 00:00, then four salles at +10, +20, +30, +40 h
        history.Intervention("build", CMIL, _z(4, 23), _z(5, 0), "success", master="ci/2026-2027.1"),
        *[reimage(CMIL, 5, h - 1, h, cause="patch", salle=f"P{h}", uai=X if h < 30 else Y, master="ci/2026-2027.1")
          for h in (10, 20, 30, 40)],
        db=path,
    )  # fmt: skip
    # conformity: p1 conformant twice, p2 drift then off, p3 off both nights
    for night, statuses in ((3, ("conformant", "drift", "unreachable")), (4, ("conformant", "unreachable",
                                                                              "unreachable"))):  # fmt: skip
        results = [HostResult(f"p{i + 1}", X, "S1", "ci", s, []) for i, s in enumerate(statuses)]
        conformity_history.record(path, summarize(results, when=_z(night, 2), target=X, duration=1.0), results)
    return path


def month_rows(db: str) -> list[dict]:
    return history.interventions("2026-11-01", "2026-12-01", db=db)


def test_mttr_and_first_time_fix_by_hand(db):
    rows = month_rows(db)
    mttr, measured, untimed = kpis.mttr_hours(rows)
    assert (mttr, measured) == (pytest.approx((2 + 6) / 2), 2)
    assert untimed == 5  # the run without a request, and the four of salle S9
    # A, the untimed run and the four S9 runs are fixed first time; B is not
    assert kpis.first_time_fix(rows) == pytest.approx(6 / 7)


def test_salles_reimaged_weekly_are_marked_and_patches_are_not_counted(db):
    counts = kpis.reimages_per_salle(month_rows(db))
    assert counts[(X, "S9")] == 4 and counts[(X, "S1")] == 4 and (X, "P10") not in counts
    k = kpis.compute(month_rows(db), [], kpis.published(month_rows(db)))
    assert sorted((u, s) for u, s, _ in k.salles_alert) == [(X, "S1"), (X, "S9")]


def test_patch_latency_percentiles_and_rollout_by_wave(db):
    rows = month_rows(db)
    publication = kpis.published(rows)
    assert publication == {"ci/2026-2027.1": _z(5, 0)}
    assert sorted(kpis.patch_latencies(rows, publication)) == [10, 20, 30, 40]
    k = kpis.compute(rows, [], publication)
    assert (k.patch_p50_h, k.patch_p90_h) == (20, 40)
    assert kpis.rollout_days(rows, publication, {X: "pilot", Y: "1"}) == {
        "ci/2026-2027.1": {"1": round(40 / 24, 1), "pilot": round(20 / 24, 1)}
    }


def test_conformity_counts_seen_postes_only(db):
    per_host = [h[1:] for h in conformity_history.per_host("2026-11-01", "2026-12-01", db=db)]
    c = kpis.conformity(per_host)
    assert (c.results, c.seen, c.conformant) == (6, 3, 2)
    assert c.rate == pytest.approx(2 / 3) and c.never_seen == {"p3"}


def test_the_report_escapes_what_the_history_holds(db, tmp_path):
    history.record(reimage(CMIL, 20, 9, 10, salle="<script>alert(1)</script>", uai=X), db=db)
    ctx = report.collect("2026-11", etab=X, db=db)
    html = report.render_html(ctx)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert "Revue de maintenance — novembre 2026" in html and "Par salle" in html


def test_a_synthetic_year_through_the_whole_report(tmp_path):
    db = str(tmp_path / "h.sqlite")
    schools = synthetic.schools_of(fast_load(Path("inventories/grand-est")))
    made = synthetic.generate(db, schools, start="2025-12", seed=7)
    assert made["interventions"] > 200 and made["conformity_results"] > 1000
    ctx = report.collect("2026-11", region=Path("inventories/grand-est"), db=db)
    files = report.write(ctx, tmp_path / "out")
    assert [f.name for f in files] == ["revue.html", "kpis.csv", "kpis.json"]
    rows = list(csv.DictReader((tmp_path / "out" / "kpis.csv").open()))
    months = [r["month"] for r in rows if r["scope"] == "region" and r["kpi"] == "interventions"]
    assert months == report.months_back("2026-11") and months[0] == "2025-12"
    people = [r for r in history.interventions("2026-11-01", "2026-12-01", db=db)
              if r["operation"] not in ("build", "conformity")]  # fmt: skip
    counted = next(
        r for r in rows if r["month"] == "2026-11" and r["scope"] == "region" and r["kpi"] == "interventions"
    )
    assert int(counted["value"]) == len(people)
    assert {r["scope"] for r in rows} >= {"organisation:region", f"etab:{X}"}
    # MTTR of the month recomputed plainly from the rows: each ticket, from its opening to its last visit
    tickets: dict[str, list[dict]] = {}
    for r in people:
        if r["ticket"]:
            tickets.setdefault(f"{r['uai']}:{r['ticket']}", []).append(r)
    hours = [(dt.datetime.fromisoformat(v[-1]["finished"][:-1]) - dt.datetime.fromisoformat(v[0]["requested_at"][:-1]))
             .total_seconds() / 3600 for v in tickets.values() if v[-1]["outcome"] == "success"]  # fmt: skip
    mttr = next(r for r in rows if (r["month"], r["scope"], r["kpi"]) == ("2026-11", "region", "mttr_h"))
    assert float(mttr["value"]) == pytest.approx(sum(hours) / len(hours), abs=1e-3)
    # deterministic for a seed
    again = str(tmp_path / "again.sqlite")
    assert synthetic.generate(again, schools, start="2025-12", seed=7) == made


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("virus", "", ""), "--cause 'virus': not a cause"),
        (("misuse", "GLPI 1; rm", ""), "1 to 40 letters"),
        (("misuse", "GLPI-1", "hier"), "not a date and time"),
        (("misuse", "GLPI-1", "2030-01-01T08:00"), "in the future"),
    ],
)
def test_bad_requests_are_refused(args, expected):
    with pytest.raises(SocleError, match=expected):
        history.request(*args)


def test_request_time_is_paris_time_unless_it_says_otherwise():
    assert history.request("misuse", "A-1", "2026-11-30T08:15").requested_at == "2026-11-30T07:15:00Z"
    assert history.request("misuse", "A-1", "2026-07-01T08:15").requested_at == "2026-07-01T06:15:00Z"
    assert history.request("misuse", "A-1", "2026-11-30T08:15Z").requested_at == "2026-11-30T08:15:00Z"


def test_reimage_refuses_an_unknown_cause_before_anything_runs():
    proc = run_invoke("reimage", "--etab", X, "--salle", "S101", "--cause", "virus")
    assert proc.returncode == 2 and "not a cause" in proc.stderr and "Traceback" not in proc.stderr


# --- who: the operator's certificate, signed by the Région's operator CA ---------------------------------


def keygen(*args: str) -> None:
    subprocess.run(["ssh-keygen", "-q", *args], check=True, capture_output=True)


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    for name in ("ca", "other-ca", "op"):
        keygen("-t", "ed25519", "-N", "", "-f", str(tmp_path / name))
    return tmp_path


def sign(pki: Path, *, ca: str = "ca", principals: str = "contractor:acme", validity: str = "-5m:+52w") -> Path:
    keygen("-s", str(pki / ca), "-I", "t.muller", "-n", principals, "-z", "42", "-V", validity, str(pki / "op.pub"))
    return pki / "op"


def test_a_contractor_certificate_names_the_person_and_the_company(pki):
    found = operator.verify(sign(pki), pki / "ca.pub")
    assert (found.name, found.role, found.organisation) == ("t.muller", "contractor", "acme")
    assert found.proof.startswith("certificate 42 (CA SHA256:")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"ca": "other-ca"}, "is not accepted"),  # signed by somebody else
        ({"validity": "20200101:20210101"}, "is not accepted"),  # expired
        ({"principals": "root"}, "is not accepted"),  # no role
    ],
)
def test_a_certificate_the_region_did_not_give_is_refused(pki, kwargs, expected):
    with pytest.raises(SocleError, match=expected):
        operator.verify(sign(pki, **kwargs), pki / "ca.pub")


def test_a_copied_certificate_without_its_key_proves_nothing(pki):
    key = sign(pki)
    stolen = pki / "stolen"
    keygen("-t", "ed25519", "-N", "", "-f", str(stolen))
    (pki / "stolen-cert.pub").write_text((pki / "op-cert.pub").read_text())  # the certificate, another key
    with pytest.raises(SocleError):
        operator.verify(stolen, pki / "ca.pub")
    assert operator.verify(key, pki / "ca.pub").name == "t.muller"


def test_history_rows_carry_who_and_why(db):
    row = next(r for r in month_rows(db) if r["ticket"] == "A-1")
    assert (row["operator"], row["operator_role"], row["organisation"]) == ("m.bernard", "cmil", "region")
    assert (row["cause"], row["requested_at"], row["duration_s"]) == ("misuse", _z(10, 8), 3600.0)
