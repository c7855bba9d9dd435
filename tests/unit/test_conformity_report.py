"""The conformity pages at Région scale: the Région page stays one screenful per établissement
whatever the number of postes, each établissement has its own page, and hostile text stays text."""

from __future__ import annotations

import re

from socle.conformity import report, synthetic
from socle.conformity.model import Drift, HostResult, summarize
from tests.conftest import screenshot

HISTORY = {"trend": [{"percent": 91.0}, {"percent": 93.5}, {"percent": 92.0}], "last_conformant": {}}


def pages(results: list[HostResult]) -> dict[str, str]:
    summary = summarize(results, when="2026-12-01T02:00:00Z", target="all", duration=12.0)
    return report.pages(summary, results, HISTORY)


def test_the_region_page_does_not_grow_with_the_postes():
    small, large = pages(synthetic.night(etabs=20, postes=2_000)), pages(synthetic.night(etabs=20, postes=20_000))
    assert len(large) == len(small) == 21  # report.html and one page per établissement
    region = large["report.html"]
    # one row per établissement, the 25 least conformant salles: no poste on the Région page
    assert region.count('href="etablissements/') == 20 + report.WORST_SALLES
    assert "-s01-01" not in region
    assert len(region) < 1.2 * len(small["report.html"])
    # every poste is on its établissement's page, under its salle
    school = large["etablissements/0671000Y.html"]
    assert school.count("0671000y-s01-") == 30 and 'id="salle-S01"' in school
    assert sum(page.count("<tr><td>067") for name, page in large.items() if name != "report.html") == 20_000


def test_schools_are_listed_least_conformant_first():
    results = [
        HostResult("a-01", "0671000Y", "INFO1", "ci", "conformant"),
        HostResult("b-01", "0681001U", "CDI", "ci", "drift", [Drift("catalogue", "missing", "x")]),
        HostResult("b-02", "0681001U", "CDI", "ci", "conformant"),
        HostResult("c-01", "0541002W", "LANG", "ci", "not seen"),
    ]
    region = pages(results)["report.html"]
    order = re.findall(r'href="etablissements/(\w+)\.html">', region)
    assert order == ["0681001U", "0671000Y", "0541002W"]  # 50 %, 100 %, then the school with nothing seen
    assert "50 %" in region and "Tendance" in region and "<polyline" in region


def test_hostile_text_stays_text_and_names_no_file():
    script = Drift("catalogue", "missing", "<script>alert(2)</script>")
    results = [
        HostResult("<img src=x onerror=alert(1)>", "0671000Y", "INFO1", "ci", "drift", [script]),
        HostResult("x-01", "../../etc", "INFO1", "ci", "conformant"),
    ]
    out = pages(results)
    assert set(out) == {"report.html", "etablissements/0671000Y.html"}  # no page for a UAI that is no UAI
    assert "<script>" not in out["etablissements/0671000Y.html"] and "<img" not in out["etablissements/0671000Y.html"]
    assert "&lt;script&gt;" in out["etablissements/0671000Y.html"] and "../../etc" in out["report.html"]


def test_the_pages_render_in_chromium(tmp_path):
    results = synthetic.night(etabs=5, postes=600)
    summary = summarize(results, when="2026-12-01T02:00:00Z", target="all", duration=12.0)
    report.write(tmp_path, summary, results, HISTORY)
    screenshot(tmp_path / "report.html", tmp_path / "region.png")
    screenshot(tmp_path / "etablissements" / "0671000Y.html", tmp_path / "school.png")
