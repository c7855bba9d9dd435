"""Hostile input and concurrent operators (issue #18): each case here was accepted, crashed, hung or
lost work before; each is now refused with a located error, or serialised, and nothing is lost.

The generated cases (Hypothesis) are in tests/fuzz/; these are the named ones.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
import yaml

from socle.catalogue import checks as catalogue_checks
from socle.catalogue import request as catalogue_request
from socle.core import files, yamlio
from socle.core.errors import SocleError
from socle.core.findings import to_junit
from socle.core.paths import ROOT
from socle.inventory import checks as inv_checks
from socle.inventory import importer
from socle.inventory import model as inv_model
from tests.unit.test_inventory import KLEBER, SAMPLE, ansible

HEADER = "Salle;Nom du poste;Adresse MAC;IP;Usage;Profil\n"


@pytest.fixture
def region(tmp_path: Path) -> Path:
    dest = tmp_path / "grand-est"
    shutil.copytree(SAMPLE, dest)
    return dest


def school_file(region: Path) -> Path:
    return region / "etablissements" / f"{KLEBER}.yaml"


def rewrite(region: Path, change) -> None:
    path = school_file(region)
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(inv_model.render(data))


def inv_errors(region: Path, check: str) -> list:
    return [f for f in inv_checks.check(region) if f.check == check and f.severity == "error"]


# --- the spreadsheet that became a ProxyCommand -------------------------------------------------
INJECTION = 'NEW1;0671000y-new1-01;52:54:0a:00:01:01;dhcp;"salle\n    vars: {ansible_ssh_common_args: -o ProxyCommand=touch /tmp/pwned}";poste-linux\n'  # noqa: E501


def test_a_cell_holding_yaml_is_refused_and_nothing_is_written(region, tmp_path):
    csv_path = tmp_path / "postes.csv"
    csv_path.write_text(HEADER + INJECTION)
    before = school_file(region).read_bytes()
    with pytest.raises(SocleError) as err:
        importer.import_csv(csv_path, KLEBER, region=region, apply=True)
    assert "postes.csv:2: the usage cell holds a line break" in str(err.value)
    assert school_file(region).read_bytes() == before


def test_cells_with_yaml_syntax_stay_text(region, tmp_path):
    csv_path = tmp_path / "postes.csv"
    csv_path.write_text(HEADER + "NEW1;0671000y-new1-01;52:54:0a:00:01:01;dhcp;{a: b}, [c] # d: e;poste-linux\n")
    importer.import_csv(csv_path, KLEBER, region=region, apply=True)
    school = yaml.safe_load(school_file(region).read_text())
    salle = next(s for s in school["salles"] if s["id"] == "NEW1")
    assert salle["usage"] == "{a: b}, [c] # d: e" and "vars" not in salle


def test_connection_variables_cannot_come_from_a_school_file(region):
    rewrite(region, lambda d: d["salles"][0].update(vars={"ansible_ssh_common_args": "-o ProxyCommand=id"}))
    hits = inv_errors(region, "INV001")
    assert any("unknown key(s): ansible_ssh_common_args" in h.message for h in hits), hits
    graph = ansible("ansible-inventory", "-i", str(region), "--list")
    assert graph.returncode != 0 and "cannot be set in a school file" in graph.stderr


def test_allowlisted_variables_pass_and_reach_the_salle(region):
    rewrite(region, lambda d: d["salles"][0].update(vars={"image_cache_multicast_interface": "enp3s0"}))
    assert inv_errors(region, "INV001") == []
    graph = ansible("ansible-inventory", "-i", str(region), "--list")
    assert graph.returncode == 0, graph.stderr
    assert json.loads(graph.stdout)["_meta"]["hostvars"]  # the plugin accepted it


@pytest.mark.parametrize("name", ["all", "postes", "serveurs", "localhost", "ungrouped"])
def test_reserved_host_names_are_refused(region, name):
    rewrite(region, lambda d: d["salles"][0]["postes"][0].update(hostname=name))
    hits = inv_errors(region, "INV008")
    assert len(hits) == 1 and f"host name '{name}' is reserved" in hits[0].message
    graph = ansible("ansible-inventory", "-i", str(region), "--list")
    assert graph.returncode != 0 and "cannot be a host name" in graph.stderr


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("mac", "ff:ff:ff:ff:ff:ff", "broadcast"),
        ("mac", "00:00:00:00:00:00", "zero"),
        ("mac", "01:00:5e:00:00:01", "multicast"),
        ("ip", "127.0.0.1", "loopback"),
        ("ip", "224.0.0.1", "multicast"),
        ("ip", "0.0.0.0", "unspecified"),
        ("ip", "255.255.255.255", "broadcast"),
        ("ip", "169.254.10.1", "link-local"),
    ],
)
def test_addresses_that_are_not_a_machines_are_refused(region, field, value, says):
    rewrite(region, lambda d: d["salles"][0]["postes"][0].update({field: value}))
    hits = inv_errors(region, "INV005")
    assert len(hits) == 1 and says in hits[0].message, hits


# --- files that are not what they claim --------------------------------------------------------
def test_a_huge_csv_field_and_a_folder_get_one_line_errors(tmp_path):
    big = tmp_path / "big.csv"
    big.write_text(HEADER + "S101;p1;52:54:0a:00:01:01;dhcp;" + "x" * 200_000 + ";poste-linux\n")
    with pytest.raises(SocleError) as err:
        importer.parse_csv(big)
    assert "big.csv" in (err.value.where or "") or "big.csv" in str(err.value)
    with pytest.raises(SocleError) as err:
        importer.parse_csv(tmp_path)
    assert err.value.message == "not a file" and "folder" in (err.value.hint or "")


def test_billion_laughs_is_refused_at_once(tmp_path):
    lol = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for i in range(1, 10):
        lol += f"{'abcdefghij'[i]}: &{'abcdefghij'[i]} [" + ",".join(["*" + "abcdefghij"[i - 1]] * 9) + "]\n"
    start = time.monotonic()
    with pytest.raises(SocleError) as err:
        yamlio.loads(lol, tmp_path / "card.yaml")
    assert "anchors" in err.value.message and err.value.where == f"{tmp_path / 'card.yaml'}:1:4"
    assert time.monotonic() - start < 5


def test_deep_nesting_is_refused_not_a_recursion_error(tmp_path):
    with pytest.raises(SocleError) as err:
        yamlio.loads("a: " + "[" * 5000 + "]" * 5000 + "\n", tmp_path / "t.yaml")
    assert "nesting deeper than" in err.value.message
    deep = "".join(f"{'  ' * i}k{i}:\n" for i in range(40)) + "  " * 40 + "v: 1\n"
    with pytest.raises(SocleError) as err:
        yamlio.loads(deep, tmp_path / "t.yaml")
    assert "nesting deeper than 32" in err.value.message


def test_our_own_serializer_never_writes_aliases():
    shared = ["lycee-gt"]
    text = yamlio.dumps({"a": shared, "b": shared})
    assert "&" not in text and yamlio.loads(text).data == {"a": shared, "b": shared}


# --- two operators at once -------------------------------------------------------------------
def test_two_imports_at_once_keep_both_postes(region, tmp_path):
    paths = []
    for i in (1, 2):
        path = tmp_path / f"cmil{i}.csv"
        path.write_text(HEADER + f"S101;0671000y-s101-9{i};52:54:0a:00:09:0{i};dhcp;;\n")
        paths.append(path)
    failures: list[BaseException] = []

    def run(path: Path) -> None:
        try:
            importer.import_csv(path, KLEBER, region=region, apply=True)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(p,)) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    text = school_file(region).read_text()
    assert "0671000y-s101-91" in text and "0671000y-s101-92" in text


def test_a_held_lock_makes_the_second_operator_wait_then_fail_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("SOCLE_LOCK_DIR", str(tmp_path / "locks"))
    target = tmp_path / "table.yaml"
    with files.locked(target, what="the table"), pytest.raises(SocleError) as err, files.locked(target, wait_s=0.3):
        pass
    assert "is being changed by pid" in err.value.message
    with files.locked(target, wait_s=0):  # released when the holder is done
        pass


def test_a_refused_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "data.yaml"
    target.write_text("old\n")
    os.chmod(target, 0o640)

    def refuse(tmp: Path) -> None:
        raise SocleError("no")

    with pytest.raises(SocleError):
        files.write_atomic(target, "new\n", validate=refuse)
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["data.yaml"]
    files.write_atomic(target, "new\n")
    assert target.read_text() == "new\n" and target.stat().st_mode & 0o777 == 0o640


def test_the_schema_allowlist_is_what_the_plugin_reads():
    schema = json.loads((ROOT / "socle" / "schemas" / "etablissement.schema.json").read_text())
    allowed = set(schema["$defs"]["vars"]["properties"])
    assert not {v for v in allowed if v.startswith("ansible_")}
    assert {"image_cache_multicast_interface", "reimage_client_interface"} <= allowed


# --- the catalogue: merge requests from teachers -----------------------------------------------
def request_values(software: str, function: str, package: str) -> dict[str, str]:
    return {"software": software, "discipline": "svt", "function": function, "requester": "Claire Muller",
            "uai": "0671234C", "rationale": "Observer le ciel en classe de seconde", "name": software.title(),
            "publisher": "KDE", "homepage": "https://apps.kde.org/", "summary": "Un logiciel libre pour la SVT",
            "debian_package": package, "licence": "GPL-2.0-or-later", "levels": "lycee-gt", "version": "1"}  # fmt: skip


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [("software", "../../../x", "--software '../../../x' is not valid"),
     ("year", "abcd-efgh", "--year 'abcd-efgh' is not a school year"),
     ("debian_package", "kstars; rm -rf /", "--debian-package 'kstars; rm -rf /' is not valid")],
)  # fmt: skip
def test_request_arguments_that_would_be_paths_or_break_parsing_are_refused(catalogue_copy, key, value, says):
    before = {p: p.read_bytes() for p in catalogue_copy.rglob("*") if p.is_file()}
    with pytest.raises(SocleError) as err:
        catalogue_request.request({**request_values("kstars", "astronomie", "kstars"), key: value},
                                  root=catalogue_copy, today=dt.date(2026, 11, 24))  # fmt: skip
    assert says in err.value.message
    assert {p: p.read_bytes() for p in catalogue_copy.rglob("*") if p.is_file()} == before
    assert not (catalogue_copy.parent.parent / "x.yaml").exists()


def test_two_requests_at_once_keep_both_rows(catalogue_copy):
    failures: list[BaseException] = []

    def run(values: dict[str, str]) -> None:
        try:
            catalogue_request.request(values, root=catalogue_copy, today=dt.date(2026, 11, 24))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(request_values(*args),))
               for args in (("kstars", "astronomie", "kstars"), ("marble", "globe-virtuel", "marble"))]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    table = yaml.safe_load((catalogue_copy / "disciplines" / "svt.yaml").read_text())
    assert {"kstars", "marble"} <= {row["software"] for row in table["choices"]}


def test_a_symlinked_card_is_refused_and_its_target_never_echoed(catalogue_copy, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:SECRET-HASH:19000:0:99999:7:::\n")
    (catalogue_copy / "software" / "leak.yaml").symlink_to(secret)
    found = catalogue_checks.check(catalogue_copy, today=dt.date(2026, 11, 24))
    junit = to_junit(found, "catalogue", catalogue_checks.CHECKS)
    assert "SECRET-HASH" not in junit and "SECRET-HASH" not in json.dumps([f.message for f in found])
    assert any(f.file.endswith("leak.yaml") and "symbolic links are not accepted" in f.message for f in found)


def test_a_long_requires_chain_is_checked_without_recursion(catalogue_copy):
    cards = catalogue_copy / "software"
    gimp = yaml.safe_load((cards / "gimp.yaml").read_text())
    chain = [f"lib{i:04d}" for i in range(3000)]
    for i, sid in enumerate(chain):
        card = dict(gimp, id=sid, requires=[chain[i + 1]] if i + 1 < len(chain) else [chain[0]])
        (cards / f"{sid}.yaml").write_text(yamlio.dumps(card))
    found = [f for f in catalogue_checks.check(catalogue_copy, today=dt.date(2026, 11, 24)) if f.check == "CAT009"]
    assert any("requires cycle: lib0000 -> lib0001" in f.message for f in found)


# --- what a person reads ------------------------------------------------------------------------
def test_rich_markup_in_a_school_name_is_printed_as_text(region, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    rewrite(region, lambda d: d.update(name="Lycée [/bold] [link=file:///etc/passwd]x"))
    from socle.operations import patching

    patching.show(patching.plan(region=region, etab=KLEBER, moment=dt.datetime(2026, 11, 24, 22, 0)))
    assert "Lycée [/bold] [link=file:///etc/passwd]x" in capsys.readouterr().err
