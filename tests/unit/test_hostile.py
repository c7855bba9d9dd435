"""Hostile input and concurrent operators (issue #18): each case here was accepted, crashed, hung or
lost work before; each is now refused with a located error, or serialised, and nothing is lost.

The generated cases (Hypothesis) are in tests/fuzz/; these are the named ones.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from socle.catalogue import checks as catalogue_checks
from socle.catalogue import request as catalogue_request
from socle.catalogue import selection
from socle.core import files, signing, vault, yamlio
from socle.core.errors import SocleError
from socle.core.findings import to_junit
from socle.core.paths import ROOT
from socle.inventory import checks as inv_checks
from socle.inventory import importer
from socle.inventory import model as inv_model
from socle.operations import maintenance
from tests.unit.test_boot_chain import load_socle_slot
from tests.unit.test_inventory import KLEBER, ansible

HEADER = "Salle;Nom du poste;Adresse MAC;IP;Usage;Profil\n"


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


# --- the ministry's calendar export ------------------------------------------------------------
CAL_HEAD = "Description;Population;Date de début;Date de fin;Académies;Zones;annee_scolaire\n"


@pytest.mark.parametrize(
    ("row", "says"),
    [("Vacances;-;2025-10-18;2025-11-03;Lyon;Zone A;../../masters/2026-2027/ci", "is not a school year"),
     ("Vacances;-;2025-09-01;2026-07-04;Lyon;Zone A;2025-2026", "lasts 306 days"),
     ("Vacances;-;2025-11-03;2025-10-18;Lyon;Zone A;2025-2026", "before it starts"),
     ("Vacances;-;2031-10-18;2031-11-03;Lyon;Zone A;2025-2026", "outside the school year")],
)  # fmt: skip
def test_a_crafted_calendar_export_writes_nothing(tmp_path, row, says):
    out = tmp_path / "data" / "calendrier"
    out.mkdir(parents=True)
    csv_path = tmp_path / "export.csv"
    csv_path.write_text(CAL_HEAD + row + "\n")
    with pytest.raises(SocleError) as err:
        maintenance.import_dataset(csv_path, out)
    assert says in err.value.message and err.value.where == f"{csv_path}:2"
    assert list(tmp_path.rglob("*.yaml")) == []


def test_a_calendar_file_with_a_year_long_holiday_is_refused(tmp_path):
    (tmp_path / "2025-2026.yaml").write_text(
        'school_year: 2025-2026\nperiods:\n  - {description: x, zones: [A], start: "2025-09-01", end: "2026-07-01"}\n'
    )
    with pytest.raises(SocleError, match="lasts 303 days"):
        maintenance.load_calendar("2025-2026", tmp_path)
    with pytest.raises(SocleError, match="is not a school year"):
        maintenance.load_calendar("../../etc/x", tmp_path)


# --- Windows local administrator passwords ------------------------------------------------------
def test_six_rotations_at_once_lose_no_password(tmp_path, monkeypatch):
    secret = tmp_path / "vault-pass"
    secret.write_text("region-test-secret\n")
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(secret))
    monkeypatch.setenv("SOCLE_SECRETS_DIR", str(tmp_path / "secrets"))
    given: list[str] = []
    threads = [threading.Thread(target=lambda: given.append(vault.rotate("w-0671000y-01"))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    data = vault.read("w-0671000y-01")
    kept = [data["pending"]["password"]] + [u["password"] for u in data.get("unconfirmed", [])]
    # the poste may have taken any of the six: every one is kept until a commit confirms one
    assert len(given) == 6 and sorted(given) == sorted(kept)


# --- signing keys ---------------------------------------------------------------------------------
def test_without_a_region_key_a_build_signs_nothing_unless_development_is_asked(monkeypatch, tmp_path):
    monkeypatch.delenv("SOCLE_SIGNING_GNUPGHOME", raising=False)
    monkeypatch.delenv("SOCLE_DEV_SIGNING", raising=False)
    monkeypatch.setattr(signing, "DEV_HOME", tmp_path / "gnupg")
    with pytest.raises(SocleError) as err:
        signing.sign(tmp_path / "SHA256SUMS")
    assert "no master-signing key" in err.value.message and "--dev-signing" in (err.value.hint or "")
    assert not (tmp_path / "gnupg").exists()


def _gpg(home: Path, *args: str) -> str:
    proc = subprocess.run(["gpg", "--batch", "--homedir", str(home), *args], capture_output=True, text=True, check=True)
    return proc.stdout


@pytest.fixture
def region_keys(tmp_path, monkeypatch):
    """A production-like GnuPG home with two Région keys (old and new), as during a rotation."""
    home = tmp_path / "region-gnupg"
    home.mkdir(mode=0o700)
    fprs = []
    for uid in ("Région old <old@region.example>", "Région new <new@region.example>"):
        _gpg(home, "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
        listed = _gpg(home, "--with-colons", "--list-secret-keys", uid)
        fprs.append(next(ln.split(":")[9] for ln in listed.splitlines() if ln.startswith("fpr:")))
    monkeypatch.setenv("SOCLE_SIGNING_GNUPGHOME", str(home))
    monkeypatch.delenv("SOCLE_SIGNING_TRUST", raising=False)
    yield home, fprs
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False)


def _poste(slot_module, tmp_path: Path) -> tuple[Path, Path]:
    """What the build installs on a poste: the keyring and the pinned fingerprints."""
    keys = tmp_path / "poste-keys"
    keys.mkdir(exist_ok=True)
    (keys / "masters.asc").write_text(signing.public_key())
    (keys / "masters.fingerprints").write_text("\n".join(signing.trusted_fingerprints()) + "\n")
    slot_module.KEYRING, slot_module.PINNED = str(keys / "masters.asc"), str(keys / "masters.fingerprints")
    return keys / "masters.asc", keys / "masters.fingerprints"


def _signed(tmp_path: Path, name: str) -> tuple[str, str]:
    sums = tmp_path / name
    sums.write_text("0" * 64 + "  rootfs.squashfs\n")
    return str(sums), str(signing.sign(sums))


def test_a_key_in_the_keyring_but_not_pinned_is_refused(region_keys, tmp_path, monkeypatch):
    home, (old, new) = region_keys
    slot_module = load_socle_slot()
    monkeypatch.setenv("SOCLE_SIGNING_KEY", old)
    keyring, pinned = _poste(slot_module, tmp_path)
    # an attacker who got a second key into the keyring (not into the pins) signs a master with it
    keyring.write_text(_gpg(home, "--armor", "--export", old, new))
    monkeypatch.setenv("SOCLE_SIGNING_KEY", new)
    sums, sig = _signed(tmp_path, "SUMS-new")
    with pytest.raises(slot_module.Refused, match="not by a pinned key"):
        slot_module.verify_signature(sums, sig)
    pinned.write_text("")
    monkeypatch.setenv("SOCLE_SIGNING_KEY", old)
    sums, sig = _signed(tmp_path, "SUMS-old")
    with pytest.raises(slot_module.Refused, match="accepts no master"):
        slot_module.verify_signature(sums, sig)


def test_key_rotation_trusts_both_keys_then_only_the_new_one(region_keys, tmp_path, monkeypatch):
    _, (old, new) = region_keys
    slot_module = load_socle_slot()
    # 1. masters signed by the old key carry trust in the new one
    monkeypatch.setenv("SOCLE_SIGNING_KEY", old)
    monkeypatch.setenv("SOCLE_SIGNING_TRUST", new)
    assert signing.trusted_fingerprints() == [old, new]
    _poste(slot_module, tmp_path)
    slot_module.verify_signature(*_signed(tmp_path, "SUMS-1"))
    # 2. the switch: postes of step 1 accept masters signed by the new key
    monkeypatch.setenv("SOCLE_SIGNING_KEY", new)
    monkeypatch.setenv("SOCLE_SIGNING_TRUST", old)
    slot_module.verify_signature(*_signed(tmp_path, "SUMS-2"))
    _poste(slot_module, tmp_path)
    # 3. the old key is dropped: postes of the new masters refuse what it signs
    monkeypatch.delenv("SOCLE_SIGNING_TRUST")
    _poste(slot_module, tmp_path)
    monkeypatch.setenv("SOCLE_SIGNING_KEY", old)
    sums, sig = _signed(tmp_path, "SUMS-3")
    with pytest.raises(slot_module.Refused):
        slot_module.verify_signature(sums, sig)


def test_trust_lists_are_fingerprints(region_keys, monkeypatch):
    _, (old, _) = region_keys
    monkeypatch.setenv("SOCLE_SIGNING_KEY", old)
    monkeypatch.setenv("SOCLE_SIGNING_TRUST", "ABCD")
    with pytest.raises(SocleError, match="not a fingerprint"):
        signing.trusted_fingerprints()
    monkeypatch.setenv("SOCLE_SIGNING_TRUST", "F" * 40)
    with pytest.raises(SocleError, match="no public key for trusted fingerprint"):
        signing.public_key()


def test_a_windows_build_is_gated_on_the_catalogue_checks(catalogue_copy):
    path = catalogue_copy / "software" / "thonny.yaml"
    card = yaml.safe_load(path.read_text())
    installer = {"type": "msi", "url": "http://example.org/thonny.msi", "sha256": "a" * 64}
    card["platforms"]["windows"] = {"source": "msi-url", "installer": installer, "detect": {"display_name": "Thonny"},
                                    "disk_mb": 50}  # fmt: skip
    path.write_text(yamlio.dumps(card))
    with pytest.raises(SocleError) as err:
        selection.windows_packages(year="2026-2027", disciplines=["mathematiques"], root=catalogue_copy)
    assert "block a build" in err.value.message and "CAT005" in err.value.message


# --- Windows first boot ------------------------------------------------------------------------------
def _render_firstboot(name: str, **values: object) -> str:
    import jinja2

    folder = ROOT / "roles" / "win_firstboot" / "templates" / "Windows" / "Setup" / "Scripts"
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(folder), undefined=jinja2.StrictUndefined)
    defaults = yaml.safe_load((ROOT / "roles" / "win_firstboot" / "defaults" / "main.yml").read_text())
    return env.get_template(name).render(ansible_managed="managed", **{**defaults, **values})


HOSTILE_PS = ["$(Remove-Item C:\\ -Recurse)", "x'; Stop-Computer; '", "x\u2019; Stop-Computer; \u2018", "${env:X}"]


@pytest.mark.parametrize("name", ["socle-winrm.ps1.j2", "socle-firstboot.ps1.j2"])
def test_powershell_scripts_quote_every_value_from_data(name):
    text = _render_firstboot(name, win_firstboot_log=HOSTILE_PS[1], win_firstboot_odj_dir=HOSTILE_PS[0],
                             win_firstboot_kms_host=HOSTILE_PS[2], win_firstboot_region_ca_thumbprint="ab" * 20,
                             win_firstboot_winrm_remote_addresses=["10.0.0.0/8", *HOSTILE_PS])  # fmt: skip
    for line in text.splitlines():
        for value in HOSTILE_PS:
            if value.split(";")[0] in line:
                # inside a single-quoted string, with its quotes doubled: PowerShell reads it as text
                quoted = (
                    "'"
                    + value.replace("'", "''").replace("\u2019", "\u2019\u2019").replace("\u2018", "\u2018\u2018")
                    + "'"
                )
                assert quoted in line, line
                assert f'"{value}' not in line


def test_winrm_uses_a_certificate_only_when_its_chain_validates_to_the_region_ca():
    text = _render_firstboot("socle-winrm.ps1.j2", win_firstboot_region_ca_thumbprint="ab" * 20)
    assert "$valid = $chain.Build($_)" in text and "$valid -and" in text and "[void]$chain.Build" not in text
    assert "$regionCa = '" + "AB" * 20 + "'" in text and "-eq ''" not in text
    tasks = (ROOT / "roles" / "win_firstboot" / "tasks" / "main.yml").read_text()
    assert "win_firstboot_region_ca_thumbprint is match('^[0-9A-Fa-f]{40}$')" in tasks


def test_a_symlinked_etablissement_file_is_refused(region, tmp_path):
    secret = tmp_path / "secret.yaml"
    secret.write_text("password: SECRET-VALUE\n")
    (region / "etablissements" / "0671001A.yaml").symlink_to(secret)
    found = inv_checks.check(region)
    assert any("symbolic links are not accepted" in f.message for f in found)
    assert "SECRET-VALUE" not in json.dumps([f.message for f in found])
    graph = ansible("ansible-inventory", "-i", str(region), "--list")
    assert graph.returncode != 0 and "not a regular file" in graph.stderr


def test_a_cards_debian_suite_never_becomes_a_url_or_a_file_name(catalogue_copy, monkeypatch):
    import urllib.request

    def no_network(*args, **kwargs):
        raise AssertionError(f"the checks fetched {args[0]!r}")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    path = catalogue_copy / "software" / "gimp.yaml"
    card = yaml.safe_load(path.read_text())
    card["platforms"]["linux"]["apt"]["suite"] = "../../../x"
    path.write_text(yamlio.dumps(card))
    found = catalogue_checks.check(catalogue_copy, today=dt.date(2026, 11, 24))
    assert any(f.check == "CAT001" and "suite" in f.keypath for f in found)


def test_a_school_with_serveurs_only_renders_and_reads_back(region):
    rewrite(region, lambda d: d.update(salles=[]))
    assert yaml.safe_load(school_file(region).read_text())["salles"] == []


def test_two_runs_recording_at_once_keep_every_intervention(tmp_path, monkeypatch):
    from socle.core import history
    from socle.operations.reimage import write_record

    monkeypatch.setenv("SOCLE_HISTORY_DB", str(tmp_path / "history.sqlite"))

    def run(name: str) -> None:
        for i in range(100):
            report = tmp_path / f"{name}-{i}"
            report.mkdir()
            write_record(report, {"run": name, "i": i, "detail": "x" * 5000, "operation": "reimage",
                                  "started": "2026-11-30T08:00:00Z", "outcome": "success", "uai": "0671000Y",
                                  "salle": "S101", "profile": "ci", "master": "2026-2027.1",
                                  "postes": [{"host": "p01", "status": "done"}]}, history.Request())  # fmt: skip

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = (tmp_path / "interventions.jsonl").read_text().splitlines()
    assert len(lines) == 200 and all(json.loads(line)["detail"] == "x" * 5000 for line in lines)
    assert json.loads((tmp_path / "a-99" / "record.json").read_text())["i"] == 99
    assert len(history.interventions("2026-11-30", "2026-12-01")) == 200


def test_build_master_without_a_signing_key_is_refused_at_once(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SOCLE_DEV_SIGNING"}
    env.pop("SOCLE_SIGNING_GNUPGHOME", None)
    proc = subprocess.run([str(Path(sys.executable).parent / "invoke"), "build-master", "--profile", "ci"],
                          cwd=ROOT, env={**env, "SOCLE_DIST": str(tmp_path / "dist")}, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=120)  # fmt: skip
    assert proc.returncode == 2 and "no master-signing key" in proc.stderr and "--dev-signing" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "dist").exists()


def test_findings_reach_the_forges_on_their_lines_and_a_message_never_becomes_a_command():
    """GitLab Code Quality and GitHub annotations: a teacher's text in a finding (a newline, then what
    would be another workflow command) stays inside its own annotation."""
    from socle.core.findings import Finding, to_codequality, to_github

    found = [
        Finding("software_catalogue/software/jeu.yaml", 7, "CAT004", "error", "function",
                "two choices\n::add-mask::secret 100%", fix="keep one"),
        Finding("software_catalogue/software/x,y.yaml", 0, "CAT010", "warning", "", "old card"),
    ]  # fmt: skip
    lines = to_github(found).splitlines()
    assert len(lines) == 2 and all(line.startswith(("::error ", "::warning ")) for line in lines)
    assert lines[0] == ("::error file=software_catalogue/software/jeu.yaml,line=7,title=CAT004::"
                        "two choices%0A::add-mask::secret 100%25%0Afix: keep one")  # fmt: skip
    assert "file=software_catalogue/software/x%2Cy.yaml,line=1," in lines[1]
    report = json.loads(to_codequality(found))
    assert [(i["severity"], i["location"]) for i in report] == [
        ("major", {"path": "software_catalogue/software/jeu.yaml", "lines": {"begin": 7}}),
        ("minor", {"path": "software_catalogue/software/x,y.yaml", "lines": {"begin": 1}}),
    ]
    assert len({i["fingerprint"] for i in report}) == 2 and report[0]["check_name"] == "CAT004"


def test_the_forges_apply_the_request_templates_by_default():
    """GitLab applies merge_request_templates/Default.md by itself; GitHub has no quick actions."""
    gitlab = ROOT / ".gitlab" / "merge_request_templates" / "Default.md"
    github = ROOT / ".github" / "pull_request_template.md"
    assert gitlab.exists() and "/label ~catalogue" in gitlab.read_text()
    assert not [ln for ln in github.read_text().splitlines() if ln.startswith("/")]
