"""Generated hostile input (issue #18): catalogue cards and tables, établissement files, CMIL
spreadsheets, calendar exports, YAML text and command-line arguments. Each case must end in a
finding or a located one-line error, within CASE_SECONDS, and a refused change writes nothing."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from socle.catalogue import checks as catalogue_checks
from socle.catalogue import issue
from socle.core import yamlio
from socle.core.errors import SocleError
from socle.core.paths import ROOT
from socle.inventory import checks as inv_checks
from socle.inventory import importer
from socle.operations import maintenance
from tests.fuzz.conftest import bounded
from tests.fuzz.strategies import NASTY, mutate

TODAY = dt.date(2026, 11, 24)
SAMPLE = ROOT / "inventories" / "grand-est"
KLEBER = "0671000Y"


@pytest.fixture(scope="module")
def region(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("fuzz") / "grand-est"
    shutil.copytree(SAMPLE, dest)
    return dest


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("fuzz") / "software_catalogue"
    shutil.copytree(ROOT / "software_catalogue", dest)
    return dest


def _dump(doc: object) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


@given(data=st.data())
def test_hostile_etablissement_files_get_findings(region, data):
    path = region / "etablissements" / f"{KLEBER}.yaml"
    original = (SAMPLE / "etablissements" / f"{KLEBER}.yaml").read_text()
    path.write_text(_dump(mutate(yaml.safe_load(original), data)))
    try:
        with bounded():
            found = inv_checks.check(region)
        assert all(f.file and f.line >= 1 and f.check.startswith("INV") for f in found)
    finally:
        path.write_text(original)


@given(data=st.data(), which=st.sampled_from(["software/gimp.yaml", "disciplines/mathematiques.yaml", "taxonomy.yaml"]))
def test_hostile_catalogue_cards_and_tables_get_findings(catalogue, data, which):
    path = catalogue / which
    original = (ROOT / "software_catalogue" / which).read_text()
    path.write_text(_dump(mutate(yaml.safe_load(original), data)))
    try:
        with bounded():
            found = catalogue_checks.check(catalogue, today=TODAY)
        assert all(f.file and f.line >= 1 and f.check.startswith("CAT") for f in found)
    finally:
        path.write_text(original)


fragments = st.sampled_from(["a: &x [1]\nb: *x\n", "- [" * 40, "{", "key: 'unterminated", "\t- tab\n", "? complex\n",
                             "a: 1\na: 2\n", "!!python/object:os.system ls\n", "%YAML 1.1\n---\n",
                             "x: !!binary AAAA\n"])  # fmt: skip


@given(text=st.lists(st.one_of(st.text(max_size=60), fragments, st.sampled_from(NASTY)), max_size=8).map("\n".join))
def test_hostile_yaml_text_is_a_document_or_a_located_error(text):
    with bounded():
        try:
            yamlio.loads(text, "t.yaml")
        except SocleError as exc:
            assert exc.where and exc.where.startswith("t.yaml")


headings = st.sampled_from([f"### {label}" for label in issue.FIELDS] + ["### Autre", "##", "### Discipline *"])


@given(lines=st.lists(st.one_of(headings, st.text(max_size=80), st.sampled_from(NASTY)), max_size=30))
def test_hostile_issue_bodies_become_values_or_a_located_error(lines):
    """A teacher's issue (catalogue.request --from-issue): known fields only, each value one line of text."""
    with bounded():
        try:
            values = issue.fields("\n".join(lines))
        except SocleError as exc:
            assert exc.message.startswith("issue")
            return
        assert set(values) <= set(issue.FIELDS.values())
        assert all("\n" not in v and v == v.strip() for v in values.values())


cells = st.one_of(st.sampled_from(NASTY), st.text(max_size=30), st.just("52:54:0a:00:07:01"), st.just("S101"))


@given(rows=st.lists(st.lists(cells, min_size=3, max_size=8), min_size=1, max_size=6), quoted=st.booleans())
def test_hostile_spreadsheets_import_or_write_nothing(region, tmp_path_factory, rows, quoted):
    target = region / "etablissements" / f"{KLEBER}.yaml"
    original = (SAMPLE / "etablissements" / f"{KLEBER}.yaml").read_bytes()
    target.write_bytes(original)
    out = io.StringIO()
    if quoted:
        csv.writer(out, delimiter=";").writerows([["Salle", "Nom du poste", "Adresse MAC", "IP", "Usage", "Profil"],
                                                  *rows])  # fmt: skip
    else:
        out.write("Salle;Nom du poste;Adresse MAC;IP;Usage;Profil\n" + "\n".join(";".join(r) for r in rows))
    sheet = tmp_path_factory.mktemp("csv") / "postes.csv"
    sheet.write_text(
        out.getvalue(), encoding="utf-8", errors="surrogatepass"
    ) if "\ud800" not in out.getvalue() else None
    if not sheet.exists():
        return
    try:
        with bounded():
            importer.import_csv(sheet, KLEBER, region=region, apply=True)
    except SocleError as exc:
        assert str(exc).strip() and target.read_bytes() == original  # refused: the file is untouched
    else:  # accepted: the whole Région's inventory is still valid
        assert [f for f in inv_checks.check(region) if f.severity == "error"] == []
    finally:
        target.write_bytes(original)


dates = st.one_of(st.dates(dt.date(1990, 1, 1), dt.date(2100, 1, 1)).map(str), st.sampled_from(NASTY))


@given(rows=st.lists(st.tuples(st.one_of(st.text(max_size=20), st.sampled_from(NASTY)), dates, dates,
                               st.sampled_from(["Zone A", "Zone B", "Zone C", "Corse", *NASTY[:3]]),
                               st.one_of(st.sampled_from(["2025-2026", "2026-2027"]), st.sampled_from(NASTY))),
                     min_size=1, max_size=6))  # fmt: skip
def test_hostile_calendar_exports_write_valid_calendars_or_nothing(tmp_path_factory, rows):
    folder = tmp_path_factory.mktemp("cal")
    out = folder / "calendrier"
    out.mkdir()
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";")
    writer.writerow(
        ["Description", "Population", "Date de début", "Date de fin", "Académies", "Zones", "annee_scolaire"]
    )
    writer.writerows([[d, "-", s, e, "Lyon", z, y] for d, s, e, z, y in rows])
    export = folder / "export.csv"
    export.write_text(text.getvalue())
    try:
        with bounded():
            written = maintenance.import_dataset(export, out)
    except SocleError as exc:
        assert exc.where and str(export) in exc.where
        assert sorted(p.name for p in folder.rglob("*") if p.is_file()) == ["export.csv"]  # nothing written
    else:
        for path in written:
            assert path.parent == out
            maintenance.load_calendar(path.stem, out)  # what was written reads back, bounded and valid


# --- the command line -------------------------------------------------------------------------------
def _commands(value: str, tmp: Path) -> list[list[str]]:
    return [
        ["inventory.generate", "--etabs", value, "--postes", "10", "--out", str(tmp / "gen")],
        ["calendar.import", "--csv", value],
        ["catalogue.request", "--software", value, "--discipline", "svt"],
        ["build-master", "--profile", value],
        ["build-master", "--profile", "ci", "--year", value],
        ["reimage", "--etab", value, "--salle", "S101", "--inventory", str(SAMPLE)],
        ["admin-password", "--host", value],
        ["catalogue.check", "--output", value if value.startswith("/") else "/proc/version"],
    ]


argv_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=30)


@settings(max_examples=min(12, settings().max_examples))
@given(value=st.one_of(st.sampled_from([v for v in NASTY if v and "\x00" not in v]), argv_text),
       which=st.integers(0, 7))  # fmt: skip
def test_hostile_command_line_arguments_get_one_line_errors(tmp_path_factory, value, which):
    tmp = tmp_path_factory.mktemp("cli")
    args = _commands(value, tmp)[which]
    if args[0] == "inventory.generate" and value.strip().isdigit() and 1 <= int(value) <= 9000:
        return  # a valid count: that command succeeds, by design
    bindir = os.path.dirname(sys.executable)
    env = {**os.environ, "CI": "true", "SOCLE_DIST": str(tmp / "dist"), "SOCLE_SECRETS_DIR": str(tmp / "secrets")}
    env.pop("ANSIBLE_VAULT_PASSWORD_FILE", None)
    proc = subprocess.run([os.path.join(bindir, "invoke"), "--search-root", str(ROOT), *args], cwd=tmp, env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)  # fmt: skip
    assert 1 <= proc.returncode <= 3, (args, proc.returncode, proc.stderr[-800:])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "error:" in proc.stderr or "No idea what" in proc.stderr, proc.stderr[-800:]
    assert not (tmp / "dist").exists()


def test_the_checkout_is_untouched_by_the_fuzz_suite():
    """Runs last in this module: refused commands wrote nothing in the project's data folders."""
    assert _data_status() == DATA_STATUS_BEFORE


def _data_status() -> str:
    folders = ["software_catalogue", "inventories", "masters", "data"]
    command = ["git", "status", "--porcelain", "--untracked-files=all", "--", *folders]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True).stdout


#: the data folders as git saw them when this module was collected (a developer's checkout may differ from HEAD)
DATA_STATUS_BEFORE = _data_status()
