"""Least privilege (issue #36), the parts that need no machine: the serveur's certificate names its own
établissement and forces the collector; what a poste answers through it is parsed, never trusted; a
line break git does not show is refused in every governed file. The logins themselves are proved on
real sshd: molecule/management (one machine) and tests/integration/test_pull_mode.py (two lycées)."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import jinja2
import pytest
import sqlalchemy as sa

from socle.cli import pull
from socle.conformity import forced
from socle.conformity import history as chistory
from socle.core import files, history, operator, sshid, yamlio
from socle.core.errors import SocleError
from socle.core.paths import ROOT
from socle.inventory import importer
from socle.operations import enrolment
from socle.review import report as review_report
from tests.unit.test_inventory import KLEBER, ansible
from tests.unit.test_pull import GOOD

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
    assert sshid.pull_certificate(user_key, "0681001U", cert) != cert  # another school: signed anew


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
    assert forced._run(["ssh"], t, "ansible", "collect", 5)[0] == 2


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


# --- the operator's identity: a CA pinned by root, never the environment ------------------------------


@pytest.fixture
def pki(tmp_path):
    for name in ("region-ca", "own-ca", "op"):
        sshid._keygen("-t", "ed25519", "-N", "", "-f", str(tmp_path / name), what="test key")
    return tmp_path


def _certify(pki, ca: str, name: str = "j.dupont", principals: str = "regional-it"):
    sshid._keygen("-s", str(pki / ca), "-I", name, "-n", principals, "-z", "7", "-V", "-5m:+1d",
                  str(pki / "op.pub"), what="test certificate")  # fmt: skip
    return pki / "op"


def test_a_self_signed_operator_certificate_is_refused(pki, monkeypatch):
    """A technician signs their own certificate naming a colleague: with their CA in the environment
    (what was read before), or with the Région's CA pinned, it proves nothing."""
    key = _certify(pki, "own-ca", name="colleague")
    monkeypatch.setenv("SOCLE_OPERATOR_KEY", str(key))
    monkeypatch.setenv("SOCLE_OPERATOR_CA", str(pki / "own-ca.pub"))
    operator.current.cache_clear()
    with pytest.raises(SocleError, match="no longer read"):
        operator.current()
    monkeypatch.delenv("SOCLE_OPERATOR_CA")
    monkeypatch.setattr(operator, "PINNED_CA", pki / "region-ca.pub")
    operator.current.cache_clear()
    with pytest.raises(SocleError, match="is not accepted"):
        operator.current()
    _certify(pki, "region-ca")
    operator.current.cache_clear()
    found = operator.current()
    assert (found.name, found.role) == ("j.dupont", "regional-it") and found.proof.startswith("certificate 7 ")
    operator.current.cache_clear()


def test_a_pinned_ca_others_may_write_is_refused(pki):
    (pki / "region-ca.pub").chmod(0o664)
    with pytest.raises(SocleError, match="written by root only"):
        operator.pinned_ca(pki / "region-ca.pub")
    (pki / "region-ca.pub").chmod(0o644)
    assert operator.pinned_ca(pki / "region-ca.pub") == pki / "region-ca.pub"


def test_the_development_identity_needs_the_switch_and_is_never_regional_it(monkeypatch):
    monkeypatch.delenv("SOCLE_OPERATOR_KEY", raising=False)
    monkeypatch.delenv("SOCLE_DEV_SIGNING", raising=False)
    operator.current.cache_clear()
    with pytest.raises(SocleError, match="no operator identity"):
        operator.current()
    monkeypatch.setenv("SOCLE_DEV_SIGNING", "1")
    operator.current.cache_clear()
    me = operator.current()
    assert me.role == operator.DEV_ROLE and me.proof == "development"
    operator.current.cache_clear()


def test_the_name_recorded_is_the_one_inside_the_signature(pki):
    key = _certify(pki, "region-ca")
    cert = (pki / "op-cert.pub").read_text().split()
    nonce = pki / "nonce"
    nonce.write_text("x")
    sshid._keygen("-Y", "sign", "-n", operator.NAMESPACE, "-f", str(pki / "op-cert.pub"), str(nonce), what="sign")
    assert operator.signed_certificate(pki / "nonce.sig").split() == cert[:2]
    assert operator.verify(key, pki / "region-ca.pub").name == "j.dupont"


# --- the lower points ------------------------------------------------------------------------------


def test_a_lock_folder_others_may_write_is_refused_and_lock_files_are_not_world_writable(tmp_path, monkeypatch):
    folder = tmp_path / "locks"
    folder.mkdir(mode=0o777)
    folder.chmod(0o1777)  # what /tmp/socle-locks was
    monkeypatch.setenv("SOCLE_LOCK_DIR", str(folder))
    with pytest.raises(SocleError, match="may be written by others"), files.locked(tmp_path / "x"):
        pass
    folder.chmod(0o700)
    with files.locked(tmp_path / "x"):
        (made,) = folder.iterdir()
        assert made.stat().st_mode & 0o007 == 0


def test_import_never_echoes_a_file_that_is_no_spreadsheet(tmp_path):
    secret = tmp_path / "shadow"
    secret.write_text("root:$y$j9T$Sup3rS3cretHash:19000:0:99999:7:::\n")
    with pytest.raises(SocleError) as err:
        importer.parse_csv(secret)
    assert "Sup3rS3cret" not in str(err.value) and "1 not shown" in str(err.value)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (("reports: /var/lib/socle/pull/reports", "reports: /"), "reports"),
        (("reports: /var/lib/socle/pull/reports", "reports: /var/lib/socle/../../etc"), "reports"),
        (("sslmode=verify-full", "sslmode=verify-full&sslmode=disable"), "given twice: sslmode"),
    ],
)
def test_a_pull_configuration_that_would_prune_the_system_or_drop_tls_is_refused(tmp_path, capsys, change, says):
    path = tmp_path / "pull.yml"
    path.write_text(GOOD.replace(*change))
    assert pull.main(["--config", str(path)]) == 2
    assert says in capsys.readouterr().err


def test_pruning_removes_only_old_nightly_reports(tmp_path):
    reports = tmp_path / "reports"
    (reports / "20261101T023000Z").mkdir(parents=True)
    (reports / "keep-me").mkdir()
    for folder in reports.iterdir():
        os.utime(folder, (0, 0))
    pull._prune(reports, 14)
    assert [p.name for p in reports.iterdir()] == ["keep-me"]


# --- the history database as hostile input (rows a lycée serveur, or anyone, wrote) ------------------


def test_hostile_history_rows_are_counted_as_ignored_never_a_crash(tmp_path):
    """Rows socle never writes (a bad date, a detail nested 50,000 deep, an unknown operation, a huge
    count) leave the monthly review and the Région report working, and saying what they left out."""
    db = f"sqlite:///{tmp_path / 'history.sqlite'}"
    history.record(history.Intervention(
        "reimage", operator.Operator("m.bernard", "cmil", "region", "certificate 9 (CA test)"), "2026-11-10T08:00:00Z",
        "2026-11-10T09:00:00Z", "success", uai="0671000Y", salle="S101", postes=["p1"], postes_ok=1,
        request=history.Request("misuse", "A-1", "2026-11-10T07:30:00Z"),
    ), db=db)  # fmt: skip
    good = history.interventions("2026-11-01", "2026-12-01", db=db)[0]
    nested = "[" * 50_000 + "]" * 50_000
    bad = [
        {"requested_at": "yesterday"},
        {"detail": nested},
        {"operation": "rm -rf"},
        {"postes_total": 10**12},
        {"organisation": "<script>"},
    ]
    engine = sa.create_engine(db)
    with engine.begin() as con:
        for change in bad:
            con.execute(history.INTERVENTIONS.insert(), {**{k: v for k, v in good.items() if k != "id"}, **change})
        chistory.RUNS.metadata.create_all(con)
        run_row = {"target": "0671000Y", "at": "2026-11-10T02:00:00Z", "hosts": 1, "conformant": 0, "percent": 0.0,
                   "duration_s": 1.0}  # fmt: skip
        run = con.execute(chistory.RUNS.insert().values(**run_row)).inserted_primary_key[0]
        host_row = {"run_id": run, "host": "p1", "uai": "0671000Y", "salle": "S101", "profile": "ci",
                    "status": "drift", "detail": nested}  # fmt: skip
        con.execute(chistory.HOST_RESULTS.insert().values(**host_row))
    engine.dispose()
    ignored: Counter[str] = Counter()
    assert len(history.interventions("2026-11-01", "2026-12-01", db=db, ignored=ignored)) == 1
    assert ignored == {"request time": 1, "detail": 1, "operation": 1, "count": 1, "organisation": 1}
    ctx = review_report.collect("2026-11", db=db)
    assert ctx["current"].interventions == 1 and sum(ctx["ignored_rows"].values()) == 5
    assert "Lignes non comptées" in review_report.render_html(ctx)
    # work no Région certificate proves (a development identity) is not counted either, and said
    history.record(history.Intervention(
        "reset", operator.Operator("dev-x", "development", "region", "development"), "2026-11-11T08:00:00Z",
        "2026-11-11T08:10:00Z", "success", uai="0671000Y", salle="S101",
    ), db=db)  # fmt: skip
    ctx = review_report.collect("2026-11", db=db)
    assert ctx["current"].interventions == 1 and ctx["ignored_rows"][review_report.UNPROVED] == 1
    found, _silent, refused = chistory.newest_per_school(["0671000Y"], since=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
                                                         db=db)  # fmt: skip
    assert refused == 1 and found["0671000Y"] == []


# --- forge flows: no stale approvals, no token beside untrusted code -----------------------------------


def _workflow(name: str) -> dict:
    data = yamlio.loads((ROOT / ".github" / "workflows" / name).read_text(), name).data
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def test_pull_request_code_never_runs_beside_a_token_that_writes():
    """A job that runs the branch's own socle has read-only rights and no token in its environment;
    the job that comments checks out nothing."""
    catalogue = _workflow("catalogue.yml")
    assert "workflow_dispatch" in catalogue["on"] and "pull_request" in catalogue["on"]
    for name, job in catalogue["jobs"].items():
        steps = job["steps"]
        runs_branch_code = any("./socle.sh" in str(s.get("run", "")) for s in steps)
        writes = any(v == "write" for v in job.get("permissions", {}).values())
        assert not (runs_branch_code and writes), name
        if runs_branch_code:
            assert "GH_TOKEN" not in str(job) and "github.token" not in str(job), name
            checkout = next(s for s in steps if str(s.get("uses", "")).startswith("actions/checkout"))
            assert checkout["with"]["persist-credentials"] is False
        if writes:
            assert not any(str(s.get("uses", "")).startswith("actions/checkout") for s in steps), name


def test_a_request_branch_is_pushed_once_and_checked():
    request = _workflow("request.yml")
    script = "\n".join(str(s.get("run", "")) for s in request["jobs"]["request"]["steps"])
    assert "push -f" not in script and "--force" not in script and "switch -C" not in script
    assert script.index("ls-remote --exit-code") < script.index("catalogue.request")
    assert "gh workflow run catalogue.yml --ref" in script and request["permissions"]["actions"] == "write"
    gitlab = yamlio.loads((ROOT / ".gitlab-ci.yml").read_text(), ".gitlab-ci.yml").data
    job = "\n".join(gitlab["catalogue-request"]["script"])
    assert "push -f" not in job and "switch -C" not in job and job.index("ls-remote") < job.index("catalogue.request")
    assert "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH" in gitlab["catalogue-request"]["rules"][0]["if"]
    # the merge request's own code (the catalogue job) never sees the api token
    assert "SOCLE_MR_NOTE_TOKEN" not in "\n".join(gitlab["catalogue"]["script"])


# --- enrolment: a one-time secret, never trust on first use -------------------------------------------


def test_the_postes_enrolment_proof_is_what_the_controller_checks(tmp_path):
    """socle-enrol-proof (rendered as the role does, run here) proves the armed install's secret over
    the host key; another secret, or another key, gives another proof."""
    env = jinja2.Environment(keep_trailing_newline=True)
    env.filters["to_json"] = json.dumps
    template = ROOT / "roles" / "management" / "templates" / "usr" / "local" / "sbin" / "socle-enrol-proof.j2"
    script = tmp_path / "socle-enrol-proof"
    script.write_text(env.from_string(template.read_text()).render(management_identity_dir=str(tmp_path),
                                                                   ansible_managed="test"))  # fmt: skip
    sshid._keygen("-t", "ed25519", "-N", "", "-f", str(tmp_path / "ssh_host_ed25519_key"), what="host key")
    host_key = " ".join((tmp_path / "ssh_host_ed25519_key.pub").read_text().split()[:2])
    nonce = "ab" * 16

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(script), nonce], capture_output=True, text=True)

    assert "no enrolment secret" in run().stderr  # an install nobody armed
    token = enrolment.new_token()
    (tmp_path / "enrol-token").write_text(token + "\n")
    kind, key, answer = run().stdout.split()
    assert f"{kind} {key}" == host_key and answer == enrolment.proof(token, nonce, host_key)
    assert answer != enrolment.proof(enrolment.new_token(), nonce, host_key)
    assert subprocess.run([sys.executable, str(script), "x; id"], capture_output=True).returncode != 0
