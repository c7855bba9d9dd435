"""Every catalogue check, with a failing case on a broken copy of the real catalogue.

The passing case of every check is the real catalogue itself (test_real_catalogue_passes).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from socle.catalogue import checks, selection
from socle.catalogue.checks import cat005_pinning as pinning
from socle.catalogue.checks.base import Context
from socle.catalogue.checks.cat012_waivers import Waivers
from socle.catalogue.model import load_catalogue
from socle.cli.catalogue import CHECKS_DOC
from socle.core import debian, paths
from socle.core.findings import errors
from socle.core.yamlio import dumps

TODAY = dt.date(2026, 11, 24)


def edit(root: Path, rel: str, change) -> Path:
    path = root / rel
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(dumps(data))
    return path


def found(root: Path, check: str) -> list:
    return [f for f in errors(checks.check(root, today=TODAY)) if f.check == check]


def test_real_catalogue_passes():
    findings = checks.check(today=TODAY)
    assert errors(findings) == []
    assert len(list((paths.CATALOGUE_DIR / "software").glob("*.yaml"))) >= 60
    assert len(list((paths.CATALOGUE_DIR / "disciplines").glob("*.yaml"))) >= 13


def test_cat001_unknown_key_and_missing_key(catalogue_copy):
    edit(catalogue_copy, "software/gimp.yaml", lambda d: (d.update(colour="blue"), d.pop("publisher")))
    hits = found(catalogue_copy, "CAT001")
    assert {h.file.split("/")[-1] for h in hits} == {"gimp.yaml"}
    messages = " ".join(h.message for h in hits)
    assert "unknown key(s): colour" in messages and "'publisher' is a required property" in messages


def test_cat001_required_if_installer_url(catalogue_copy):
    def change(d):
        d["platforms"]["windows"] = {"source": "msi-url", "detect": {"display_name": "GIMP"}, "disk_mb": 10}

    edit(catalogue_copy, "software/gimp.yaml", change)
    assert any("'installer' is a required property" in h.message for h in found(catalogue_copy, "CAT001"))


def test_cat002_yaml_traps_and_duplicates_are_located(catalogue_copy):
    path = catalogue_copy / "software" / "thonny.yaml"
    text = path.read_text().replace("version: 4.1.7", "version: 4.10")
    path.write_text(text)
    hit = found(catalogue_copy, "CAT002")
    assert hit and hit[0].keypath == "version" and 'quote it: "4.10"' in hit[0].fix
    assert hit[0].line == text.splitlines().index("version: 4.10") + 1
    dup = catalogue_copy / "software" / "vlc.yaml"
    dup.write_text(dup.read_text() + "name: VLC again\n")
    assert any("duplicate key 'name'" in h.message for h in found(catalogue_copy, "CAT002"))


def test_cat003_id_must_equal_file_name_and_one_card_per_upstream(catalogue_copy):
    edit(catalogue_copy, "software/gimp.yaml", lambda d: d.update(id="gimp2"))
    src = catalogue_copy / "software" / "inkscape.yaml"
    (catalogue_copy / "software" / "inkscape-bis.yaml").write_text(
        src.read_text().replace("id: inkscape", "id: inkscape-bis")
    )
    messages = [h.message for h in found(catalogue_copy, "CAT003")]
    assert any("id 'gimp2' differs from the file name 'gimp'" in m for m in messages)
    assert any("Debian package 'inkscape' is already claimed by card" in m for m in messages)


def test_cat004_single_choice(catalogue_copy):
    def add_second(d):
        row = dict(d["choices"][0], software="xcas")
        d["choices"].append(row)

    edit(catalogue_copy, "disciplines/mathematiques.yaml", add_second)
    hits = found(catalogue_copy, "CAT004")
    assert any("second software for mathematiques/geometrie-dynamique" in h.message for h in hits)


def test_cat004_discipline_cannot_duplicate_commun_and_waiver_allows_it(catalogue_copy):
    def add(d):
        d["choices"].append(dict(d["choices"][0], function="navigateur-web", software="firefox-esr"))

    edit(catalogue_copy, "disciplines/svt.yaml", add)
    assert any("already provided by the common base" in h.message for h in found(catalogue_copy, "CAT004"))
    (catalogue_copy / "exceptions.yaml").write_text(
        dumps(
            {
                "schema_version": 1,
                "exceptions": [
                    {
                        "check": "CAT004",
                        "target": "svt/navigateur-web",
                        "reason": "Test waiver for a laboratory browser profile",
                        "approved_by": "DANE Grand Est",
                        "expires": "2027-08-31",
                    }
                ],
            }
        )
    )
    assert not any("common base" in h.message for h in found(catalogue_copy, "CAT004"))
    assert found(catalogue_copy, "CAT012") == []


def test_cat004_unknown_function(catalogue_copy):
    edit(catalogue_copy, "disciplines/svt.yaml", lambda d: d["choices"][0].update(function="geometrie-dynamique-2"))
    assert any("not in taxonomy.yaml" in h.message for h in found(catalogue_copy, "CAT004"))


def test_cat005_pinning_and_integrity(catalogue_copy):
    def change(d):
        d["version"] = "latest"
        d["platforms"]["windows"] = {
            "source": "msi-url",
            "installer": {
                "url": "http://example.org/gimp.msi",
                "sha256": "d41d8cd98f00b204e9800998ecf8427e",
                "type": "msi",
            },
            "detect": {"display_name": "GIMP"},
            "disk_mb": 300,
        }

    edit(catalogue_copy, "software/gimp.yaml", change)
    messages = " ".join(h.message for h in found(catalogue_copy, "CAT005"))
    assert "version 'latest' is not exact" in messages
    assert "is not HTTPS" in messages
    assert "looks like MD5/SHA-1" in messages


def test_cat005_empty_file_hash(catalogue_copy):
    def change(d):
        d["platforms"]["windows"] = {
            "source": "exe-url",
            "installer": {"url": "https://example.org/x.exe", "sha256": pinning.EMPTY_SHA256, "type": "exe-nsis"},
            "detect": {"display_name": "X"},
            "disk_mb": 1,
        }

    edit(catalogue_copy, "software/gimp.yaml", change)
    assert any("empty file" in h.message for h in found(catalogue_copy, "CAT005"))


def test_cat006_licence_and_cost(catalogue_copy):
    def change(d):
        d["licence"].update(spdx="GPL-3+", category="proprietary", model="per-seat", cost_eur_per_year=0)

    edit(catalogue_copy, "software/gimp.yaml", change)
    messages = " ".join(h.message for h in found(catalogue_copy, "CAT006"))
    assert "unknown SPDX licence id(s): GPL-3+" in messages
    assert "needs licence.url" in messages
    assert "without contract_ref" in messages
    assert "needs seats" in messages


def test_cat006_licence_expiring_before_last_school_year(catalogue_copy):
    edit(catalogue_copy, "software/gimp.yaml", lambda d: d["licence"].update(expires="2027-01-31"))
    assert any("before the end of the last school year" in h.message for h in found(catalogue_copy, "CAT006"))


def test_cat007_rgpd_gate(catalogue_copy):
    def change(d):
        d["data_protection"].update(account_required="pupil", data_location="non-eu")

    edit(catalogue_copy, "software/gimp.yaml", change)
    messages = " ".join(h.message for h in found(catalogue_copy, "CAT007"))
    assert "needs a DPD review" in messages
    assert "pupil accounts with data hosted outside the EU" in messages


def test_cat008_governance(catalogue_copy):
    edit(catalogue_copy, "software/gimp.yaml", lambda d: d["lifecycle"].pop("referent"))

    def table(d):
        d["choices"][0]["requested_by"]["uai"] = "0671234A"
        d["choices"][0]["approved_by"][0]["reviewer"] = "@someone-else"

    edit(catalogue_copy, "disciplines/svt.yaml", table)
    messages = " ".join(h.message for h in found(catalogue_copy, "CAT008"))
    assert "approved software without a referent" in messages
    assert "expected '0671234C'" in messages
    assert "who is not a reviewer of svt" in messages


def test_cat009_graph(catalogue_copy):
    edit(catalogue_copy, "software/gimp.yaml", lambda d: d.update(requires=["inkscape"], conflicts_with=["nothing"]))
    edit(catalogue_copy, "software/inkscape.yaml", lambda d: d.update(requires=["gimp"]))
    edit(catalogue_copy, "disciplines/svt.yaml", lambda d: d["choices"][0].update(software="no-such-card"))
    messages = " ".join(h.message for h in found(catalogue_copy, "CAT009"))
    assert "conflicts_with 'nothing' is not a card" in messages
    assert "requires cycle" in messages
    assert "software 'no-such-card' has no card" in messages


def test_cat009_conflicting_cards_in_one_master(catalogue_copy):
    edit(catalogue_copy, "software/gimp.yaml", lambda d: d.update(conflicts_with=["krita"]))
    assert any("both are chosen for 2026-2027" in h.message for h in found(catalogue_copy, "CAT009"))


def test_cat010_school_years(catalogue_copy):
    edit(catalogue_copy, "disciplines/svt.yaml", lambda d: d["choices"][0].update(school_years=["2026-2028"]))
    edit(
        catalogue_copy,
        "disciplines/ses.yaml",
        lambda d: d["choices"][0].update(school_years=["2026-2027", "2028-2029"]),
    )
    messages = " ".join(h.message for h in found(catalogue_copy, "CAT010"))
    assert "'2026-2028' is not a school year" in messages
    assert "not contiguous" in messages


def test_cat011_debian_package_must_exist(catalogue_copy):
    edit(catalogue_copy, "software/gimp.yaml", lambda d: d["platforms"]["linux"]["apt"].update(packages=["gimp-pro-2"]))
    hits = found(catalogue_copy, "CAT011")
    if not hits:
        pytest.skip("Debian index unavailable (no network to the Debian mirror)")
    assert "Debian package 'gimp-pro-2' does not exist in trixie" in hits[0].message


def test_cat012_expired_and_unused_waivers(catalogue_copy):
    waivers = [
        {
            "check": "CAT004",
            "target": "svt/x",
            "reason": "expired waiver text",
            "approved_by": "DANE",
            "expires": "2025-08-31",
        },
        {
            "check": "CAT006",
            "target": "gimp",
            "reason": "unused waiver text",
            "approved_by": "DANE",
            "expires": "2027-08-31",
        },
        {
            "check": "CAT004",
            "target": "svt/y",
            "reason": "forever and ever",
            "approved_by": "DANE",
            "expires": "9999-12-31",
        },
        {"check": "CAT007", "target": "gimp", "reason": "RGPD waived", "approved_by": "DANE", "expires": "2027-06-30"},
        {"check": "CAT005", "target": "gimp", "reason": "HTTP is fine", "approved_by": "DANE", "expires": "2027-06-30"},
    ]
    (catalogue_copy / "exceptions.yaml").write_text(dumps({"schema_version": 1, "exceptions": waivers}))
    messages = " ".join(h.message for h in found(catalogue_copy, "CAT012"))
    assert "expired on 2025-08-31" in messages
    assert "is not needed any more" in messages
    assert "expires on 9999-12-31, more than one school year from today" in messages
    assert "CAT007 cannot be waived" in messages and "CAT005 cannot be waived" in messages


def test_broken_file_is_a_finding_not_a_traceback(catalogue_copy):
    (catalogue_copy / "software" / "gimp.yaml").write_bytes(b"id: gimp\nname: \xff\n")
    hits = found(catalogue_copy, "CAT002")
    assert hits and "not UTF-8" in hits[0].message


def test_selection_for_masters():
    pkgs = selection.linux_packages(year="2026-2027", disciplines=["nsi-snt"])
    names = {p["package"] for p in pkgs}
    assert {"thonny", "sqlite3", "firefox-esr", "libreoffice-calc"} <= names  # nsi + commun
    assert "gimp" not in names
    everything = selection.linux_packages(year="2026-2027", disciplines=["*"])
    assert len(everything) > len(pkgs)


def test_cat013_advisories_are_warnings_not_errors(catalogue_copy):
    edit(catalogue_copy, "software/gimp.yaml", lambda d: d.update(ui_languages=["en"], version="2.10.0"))
    found_all = [f for f in checks.check(catalogue_copy, today=TODAY) if f.check == "CAT013"]
    gimp = [f for f in found_all if f.file.endswith("gimp.yaml")]
    assert any(f.severity == "warning" and "no French user interface" in f.message for f in gimp)
    if debian.load("trixie") is not None:
        assert any(f.severity == "warning" and "Debian trixie ships" in f.message for f in gimp)
    assert not [f for f in found_all if f.severity == "error"]


def test_each_check_is_one_file_named_by_its_id_and_the_reference_is_generated_from_them():
    ids = [c.id for c in checks.ALL]
    assert len(ids) == len(set(ids)) == 13 and ids[-1] == "CAT012"  # waivers last: they see every use
    for check_class in checks.ALL:
        module = check_class.__module__.rsplit(".", 1)[1]
        assert module.startswith(check_class.id.lower() + "_"), module
        assert check_class.__doc__ and check_class.summary and check_class.severities
    assert CHECKS_DOC.read_text() == checks.reference(), "docs/catalogue-checks.md is stale: run invoke catalogue.docs"


def test_a_check_cannot_report_a_severity_it_does_not_declare():
    cat = load_catalogue()
    with pytest.raises(ValueError, match="CAT012 declares"):
        Waivers(Context(cat, dt.date(2026, 11, 30))).report_at("x", 1, message="m", fix="f", severity="note")
