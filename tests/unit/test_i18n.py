"""French for teachers and CMIL (socle/locale/fr.yaml): every message of the catalogue checks and of
the CMIL's operations has its French line with the same values, and the French is what they read."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from socle.catalogue import checks, diff
from socle.core import i18n
from socle.core.paths import ROOT
from tests.conftest import run_invoke

from .test_catalogue_checks import edit
from .test_catalogue_pr import ROOMS, repo  # noqa: F401 (the fixture)

#: where teachers' and CMIL's messages are written: (files, keyword arguments or error classes read)
SOURCES = {
    "catalogue checks": (sorted((ROOT / "socle" / "catalogue" / "checks").glob("cat*.py")), ("message", "fix")),
    # a request from an issue form: what is wrong comes back as a comment on the teacher's issue
    "requests": ([ROOT / "socle" / "catalogue" / p for p in ("issue.py", "request.py")], ("SocleError",)),
    "operations": (
        [ROOT / "socle" / p for p in ("operations/reimage.py", "operations/install.py", "cli/operations.py",
                                      "cli/__init__.py")],
        ("SocleError", "StepFailed"),
    ),
}  # fmt: skip


def template(node: ast.expr) -> str | None:
    """The English template of a message as written in the code: an f-string's values numbered."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts, n = [], 0
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            else:
                parts.append(f"{{{n}}}")
                n += 1
        return "".join(parts)
    return None


def written_messages() -> dict[str, str]:
    """Every message template of SOURCES, and every text given to ``translate`` -> where it is written."""
    out = {}
    translated = sorted((ROOT / "socle").rglob("*.py"))
    for files, names in [*SOURCES.values(), (translated, ())]:
        for path in files:
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.Call):
                    continue
                values = [kw.value for kw in node.keywords if kw.arg in names]
                called = getattr(node.func, "id", getattr(node.func, "attr", ""))
                if called == "translate":  # wherever the code asks for the reader's language
                    values = node.args[:1]
                if called in names:  # an error: its message and its hint
                    values = node.args[:1] + [kw.value for kw in node.keywords if kw.arg == "hint"]
                for value in values:
                    text = template(value)
                    if text:
                        out.setdefault(text, f"{path.relative_to(ROOT)}:{value.lineno}")
    return out


def test_every_message_teachers_and_cmil_read_has_its_french_line():
    written = written_messages()
    assert len(written) > 140
    missing = [f"{where}: {text!r}" for text, where in written.items() if text not in i18n.table()]
    assert not missing, "add to socle/locale/fr.yaml:\n" + "\n".join(missing)


def test_the_french_keeps_every_value():
    for english, french in i18n.table().items():
        assert set(i18n.PLACEHOLDER.findall(english)) == set(i18n.PLACEHOLDER.findall(french)), english


def test_a_message_is_recognised_by_its_template_and_its_values_kept():
    said = i18n.translate("level 'bts' is not taught in svt", "fr")
    assert said == "le niveau « bts » n'est pas enseigné en svt"
    # a reason inside a message is translated too
    waiver = "waiver for CAT004 on 'svt/navigateur-web': expired on 2026-08-31"
    assert i18n.translate(waiver, "fr") == "dérogation CAT004 pour « svt/navigateur-web » : a expiré le 2026-08-31"
    assert i18n.translate(waiver, "en") == waiver
    assert i18n.translate("something socle never says", "fr") == "something socle never says"


@pytest.mark.parametrize(
    ("env", "lang"),
    [({"SOCLE_LANG": "fr"}, "fr"), ({"SOCLE_LANG": "en", "LANG": "fr_FR.UTF-8"}, "en"),
     ({"LANG": "fr_FR.UTF-8"}, "fr"), ({"LC_ALL": "C.UTF-8", "LANG": "fr_FR.UTF-8"}, "en"), ({}, "en")],
)  # fmt: skip
def test_the_language_comes_from_socle_lang_then_the_locale(monkeypatch, env, lang):
    for var in ("SOCLE_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    assert i18n.language() == lang


def test_catalogue_check_fixes_are_in_french(catalogue_copy, monkeypatch):
    monkeypatch.setenv("SOCLE_LANG", "fr")
    edit(catalogue_copy, "disciplines/svt.yaml", lambda d: d["choices"][0].update(levels=["bts"]))
    hits = [f for f in checks.check(catalogue_copy) if f.check == "CAT004"]
    hit = next(f for f in hits if f.message == "le niveau « bts » n'est pas enseigné en svt")
    assert hit.fix.startswith("utilisez : ") and "erreur CAT004 : le niveau" in hit.render()
    assert "\n    solution : utilisez : " in hit.render()


def test_the_impact_report_is_in_french(repo: Path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("SOCLE_LANG", "fr")
    edit(repo / "software_catalogue", "disciplines/ses.yaml", lambda d: d["choices"].pop())
    report = diff.diff("HEAD", repo=repo, year="2026-2027", rooms=ROOMS)
    assert report.startswith(
        "# Rapport d'impact de la modification du catalogue (base `HEAD`, année scolaire 2026-2027)"
    )
    for heading in (
        "## Fiches logiciels",
        "## Choix des disciplines",
        "## Établissements et salles",
        "## Vérifications",
    ):
        assert heading in report
    assert "- **retiré** ses / econometrie (était `gretl`)" in report and "Aucune fiche ne change." in report


def test_a_cmil_reads_the_conformity_summary_in_french(monkeypatch, capsys, tmp_path):
    from socle.conformity import report, synthetic
    from socle.conformity.model import summarize

    monkeypatch.setenv("SOCLE_LANG", "fr")
    results = synthetic.night(etabs=1, postes=40)
    summary = summarize(results, when="2026-12-01T02:00:00Z", target="0671000Y", duration=1.0)
    summary["silent"] = [{"uai": "0681001U", "last": None}]
    report.terminal(summary, results, tmp_path)
    said = capsys.readouterr().err
    assert "conformité 0671000Y" in said and "écart" in said and "non vus" in said
    assert "aucun résultat de 0681001U depuis toujours" in said and f"rapports : {tmp_path}/report.html" in said


def test_a_cmil_reads_the_error_in_french():
    proc = run_invoke("inventory.generate", "--etabs", "abc", "--postes", "3", env={"SOCLE_LANG": "fr"})
    assert proc.returncode == 2
    assert "erreur : --etabs « abc » n'est pas un nombre entier de 1 à 9000" in proc.stderr
    assert "solution : par exemple --etabs 1" in proc.stderr and "Traceback" not in proc.stderr
