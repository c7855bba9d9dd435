"""Least privilege (issue #36), the parts that need no machine: the serveur's certificate names its own
établissement and forces the collector; what a poste answers through it is parsed, never trusted; a
line break git does not show is refused in every governed file. The logins themselves are proved on
real sshd: molecule/management (one machine) and tests/integration/test_pull_mode.py (two lycées)."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest

from socle.conformity import forced
from socle.core import sshid, yamlio
from socle.core.errors import SocleError
from socle.operations import enrolment
from tests.unit.test_inventory import KLEBER, ansible

UAI = "0671234C"


@pytest.fixture
def user_key(tmp_path):
    key = tmp_path / "pull_ed25519"
    sshid._keygen("-t", "ed25519", "-N", "", "-f", str(key), what="test key")
    return key.with_name(key.name + ".pub").read_text().strip()


def test_a_pull_certificate_names_one_school_and_forces_the_collector(user_key):
    cert = sshid.pull_certificate(user_key, UAI)
    facts = sshid.certificate_facts(cert)
    assert facts["principals"] == [f"serveur-{UAI}"] and facts["force_command"] == sshid.COLLECT_COMMAND
    days = (facts["until"] - dt.datetime.now(dt.UTC)).days
    assert sshid.PULL_VALIDITY_DAYS - 1 <= days <= sshid.PULL_VALIDITY_DAYS
    assert sshid.pull_certificate(user_key, UAI, cert) == cert  # still valid: kept (the play is idempotent)
    assert sshid.pull_certificate(user_key, "0681234K", cert) != cert  # another school: signed anew


def test_a_controller_certificate_forwards_nothing(user_key):
    cert = sshid.sign_user_key(user_key, key_id="t", principals=[sshid.REGION_PRINCIPAL], validity_s=3600)
    facts = sshid.certificate_facts(cert)
    assert facts["force_command"] is None and facts["principals"] == ["region"]


@pytest.mark.parametrize("uai", ["0671234", "0671234c", "0671234C; id", "../x"])
def test_a_pull_certificate_for_a_non_uai_is_refused(user_key, uai):
    with pytest.raises(SocleError, match="is not a UAI"):
        sshid.pull_certificate(user_key, uai)
    with pytest.raises(SocleError):
        enrolment.install_identity_command(uai)


def test_the_sign_pull_command_reads_bounded_json(user_key, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps({"public_key": user_key})))
    assert sshid.main(["sign-pull", "--uai", UAI]) == 0
    assert capsys.readouterr().out.startswith("ssh-ed25519-cert-v01@openssh.com ")
    monkeypatch.setattr("sys.stdin", io.StringIO("[1, 2]"))
    assert sshid.main(["sign-pull", "--uai", UAI]) == 2
    assert "expected" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("rc", "out", "status", "says"),
    [
        (0, b'{"hostname": "p1"}', "collected", ""),
        (255, b"", "unreachable", "ssh failed"),
        (2, b"", "failed", "exit 2"),
        (0, b"[1, 2]", "failed", "not a JSON object"),
        (0, b"{" * 100_000, "failed", "not JSON"),
        (0, b"not json", "failed", "not JSON"),
        (0, b" " * (forced.MAX_SNAPSHOT_BYTES + 1), "failed", "answer over"),
    ],
)
def test_what_a_poste_answers_is_parsed_never_trusted(rc, out, status, says):
    record = forced.parse_answer(rc, out, "")
    assert record["status"] == status and says in record.get("reason", "")


def test_an_address_that_ssh_could_read_as_an_option_is_never_used():
    t = forced.Target("p1", UAI, "", "S1", "ci", [], address="-oProxyCommand=id")
    assert forced._run(t, "ansible", "collect", 5)[0] == 2


@pytest.mark.parametrize(
    ("text", "says", "where"),
    [
        ("name: x # note\u2028catalogue: {software: [evil]}\n", "U+2028", ":1:15"),
        ("name: x\nnote: y\u2029z: 1\n", "U+2029", ":2:8"),
        ("name: x # \u0085a: 1\n", "U+0085", ":1:11"),
        ("name: x # \ra: 1\n", "carriage return", ":1:11"),
    ],
)
def test_a_line_break_git_does_not_show_is_refused_where_it_is(tmp_path, text, says, where):
    with pytest.raises(SocleError) as err:
        yamlio.loads(text, "f.yml")
    assert says in str(err.value) and err.value.where == f"f.yml{where}"
    path = tmp_path / "f.yml"
    path.write_bytes(text.encode())
    with pytest.raises(SocleError) as fast:
        yamlio.fast_load(path)
    assert says in str(fast.value) and fast.value.where == f"{path}{where}"


def test_crlf_and_escaped_separators_stay_accepted():
    assert yamlio.loads('a: 1\r\nb: "x\\u2028y"\r\n').data == {"a": 1, "b": "x\u2028y"}


def test_the_inventory_plugin_refuses_hidden_breaks_and_non_addresses(region):
    path = region / "etablissements" / f"{KLEBER}.yaml"
    text = path.read_text()
    path.write_text(text.replace("\nsalles:", "\n# note\u2028vars: {image_cache_multicast_interface: x}\nsalles:", 1))
    graph = ansible("ansible-inventory", "-i", str(region), "--list")
    assert graph.returncode != 0 and "a line break git does not show" in graph.stderr
    path.write_text(text.replace("ip: dhcp", "ip: '-oProxyCommand=id'", 1))
    graph = ansible("ansible-inventory", "-i", str(region), "--list")
    assert graph.returncode != 0 and "is not an IPv4 address" in graph.stderr
    assert Path(path).read_text().count("ip: '-oProxyCommand=id'") == 1
