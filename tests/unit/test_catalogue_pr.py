"""The pull-request flow: diff report on a real git history, request scaffold."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from socle.catalogue import diff, request
from socle.core.errors import SocleError
from socle.core.paths import ROOT
from socle.core.yamlio import dumps

from .test_catalogue_checks import edit


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "software_catalogue", tmp_path / "software_catalogue")
    git(tmp_path, "init", "-q")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.org", "add", "-A")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "base")
    return tmp_path


ROOMS = [
    diff.Room("0671234C", "Lycée A", "S101", ["svt"], "poste-linux", 24),
    diff.Room("0671234C", "Lycée A", "INFO1", ["nsi-snt"], "poste-linux", 30),
]


def test_diff_reports_cards_rows_masters_rooms_and_seats(repo):
    cat = repo / "software_catalogue"
    # a new card, paid per seat, chosen by SVT
    card = yaml.safe_load((cat / "software" / "jmol.yaml").read_text())
    card.update(id="pymol", name="PyMOL", homepage="https://pymol.org/")
    card["platforms"]["linux"]["apt"]["packages"] = ["pymol"]
    card["external_ids"] = {"debian_source": "pymol"}
    card["licence"].update(model="per-seat", seats=10, cost_eur_per_year=500)
    (cat / "software" / "pymol.yaml").write_text(dumps(card))
    edit(cat, "disciplines/svt.yaml", lambda d: d["choices"][0].update(software="pymol"))
    edit(cat, "software/thonny.yaml", lambda d: d.update(summary_fr="Environnement Python pour débuter"))
    edit(cat, "disciplines/ses.yaml", lambda d: d["choices"].pop())
    report = diff.diff("HEAD", repo=repo, year="2026-2027", rooms=ROOMS)
    assert "- **added** `pymol` — PyMOL" in report
    assert "- **changed** `thonny`: summary_fr" in report
    assert "- **changed** svt / macromolecules `jmol` → `pymol`" in report
    assert "- **removed** ses / econometrie (was `gretl`)" in report
    assert "| poste-linux 2026-2027 | pymol | gretl, jmol |" in report
    assert "| 0671234C Lycée A | S101 | 24 | pymol | jmol |" in report
    assert "| pymol | 10 | 24 | **not enough seats** |" in report
    assert "+500" in report
    assert report == diff.diff("HEAD", repo=repo, year="2026-2027", rooms=ROOMS)  # deterministic


def test_diff_unknown_revision_is_a_clear_error(repo):
    with pytest.raises(SocleError, match="unknown git revision 'nope'"):
        diff.diff("nope", repo=repo, year="2026-2027", rooms=[])


def test_request_writes_a_valid_card_and_row(catalogue_copy):
    written = request.request(
        {
            "software": "kstars",
            "discipline": "svt",
            "function": "astronomie",
            "requester": "Claire Muller",
            "uai": "0671234C",
            "rationale": "Observer le ciel et les mouvements de la Terre en classe de seconde",
            "name": "KStars",
            "publisher": "KDE",
            "homepage": "https://apps.kde.org/kstars/",
            "summary": "Planétarium et outils d'observation du ciel",
            "debian_package": "kstars",
            "licence": "GPL-2.0-or-later",
            "levels": "lycee-gt",
        },
        root=catalogue_copy,
        today=dt.date(2026, 11, 24),
    )
    assert sorted(p.name for p in written) == ["kstars.yaml", "svt.yaml"]
    table = yaml.safe_load((catalogue_copy / "disciplines" / "svt.yaml").read_text())
    row = table["choices"][-1]
    assert row["software"] == "kstars" and row["school_years"] == ["2027-2028"] and row["approved_by"] == []


def test_request_with_a_bad_uai_writes_nothing(catalogue_copy):
    before = sorted(p.read_text() for p in catalogue_copy.rglob("*.yaml"))
    with pytest.raises(SocleError, match="expected '0671234C'"):
        request.request(
            {"software": "geogebra", "discipline": "svt", "function": "analyse-images", "requester": "X Y",
             "uai": "0671234A", "rationale": "Une raison suffisante"},
            root=catalogue_copy,
        )  # fmt: skip
    assert sorted(p.read_text() for p in catalogue_copy.rglob("*.yaml")) == before


def test_request_breaking_single_choice_writes_nothing(catalogue_copy):
    with pytest.raises(SocleError, match="nothing was written"):
        request.request(
            {"software": "xcas", "discipline": "mathematiques", "function": "geometrie-dynamique",
             "requester": "Thomas Weber", "uai": "0681565G", "rationale": "Une autre géométrie dynamique",
             "year": "2026-2027"},
            root=catalogue_copy,
            today=dt.date(2026, 11, 24),
        )  # fmt: skip
    assert not (catalogue_copy / "software" / "kstars.yaml").exists()


def test_request_without_terminal_lists_missing_options(catalogue_copy):
    with pytest.raises(SocleError, match="missing: discipline"):
        request.request({"software": "geogebra"}, root=catalogue_copy)
