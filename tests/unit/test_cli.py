"""The CLI as a newcomer meets it: task list, one-line errors with a hint, never a traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

from socle import __version__
from tests.conftest import run_invoke

TASKS = [
    "setup", "build-master", "install", "reimage", "patch", "conformity", "report", "lint", "test",
    "catalogue.check", "catalogue.diff", "catalogue.request", "inventory.check", "year.new",
]  # fmt: skip


def test_invoke_list_shows_the_tasks():
    out = run_invoke("--list").stdout
    for name in TASKS:
        assert f"  {name} " in out or out.rstrip().endswith(name), name


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["build-master", "--profile", "poste-mac"], "unknown profile 'poste-mac'"),
        (["build-master", "--year", "1999-2000"], "no masters for school year '1999-2000'"),
        (["catalogue.check", "--format", "pdf"], "unknown format 'pdf'"),
        (["catalogue.diff", "--base", "no-such-rev"], "unknown git revision 'no-such-rev'"),
        (["year.new", "2026-2027"], "masters/2026-2027 exists already"),
        (["reimage", "--etab", "0671000Y", "--salle", "S101", "--year", "2031-2032"], "no masters for school year"),
    ],
)
def test_bad_input_is_one_clear_line_and_a_hint(args, expected):
    proc = run_invoke(*args)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and expected in proc.stderr
    assert "hint:" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_reimage_needs_a_salle_and_knows_its_inventory(tmp_path):
    proc = run_invoke("reimage")
    assert proc.returncode == 2 and "--etab UAI --salle ROOM" in proc.stderr
    proc = run_invoke("reimage", "--etab", "0671000Y", "--salle", "NOPE")
    assert proc.returncode == 2 and "no salle 'NOPE'" in proc.stderr and "S101" in proc.stderr
    proc = run_invoke("reimage", "--etab", "0671000Y", "--salle", "S101", "--reboot", "later")
    assert proc.returncode == 2 and "unknown --reboot 'later'" in proc.stderr and "Traceback" not in proc.stderr


def test_unknown_option_is_refused_by_invoke():
    proc = run_invoke("build-master", "--bogus")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr


def test_patch_plan_is_shown_and_scope_is_required():
    # applying is tested against containers (tests/integration/test_patching.py), never against
    # the addresses of the shipped inventory
    plan = run_invoke("patch", "--wave", "pilot", "--check")
    assert plan.returncode == 0 and "0671000Y" in plan.stderr and "patch plan" in plan.stderr
    assert run_invoke("patch").returncode == 2


def test_a_scheduled_patch_run_with_its_gate_closed_does_nothing_and_succeeds(tmp_path):
    """What socle-patch@1.service runs (roles/patch_timer): no fresh results of the pilot wave in the
    results database, so wave 1 waits; from a timer that is "nothing to do now", exit 0, and no host
    is contacted (the decision is made before any play). By hand, the same run is an error."""
    env = {"SOCLE_HISTORY_DB": str(tmp_path / "history.sqlite")}
    proc = run_invoke("patch", "--wave", "1", "--scheduled", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "nothing to do now: the rollout gate is closed" in proc.stderr and "wave pilot" in proc.stderr
    by_hand = run_invoke("patch", "--wave", "1", env=env)
    assert by_hand.returncode == 2 and "error: the rollout gate is closed" in by_hand.stderr


def socle_command(*args: str, cwd: str = "/") -> subprocess.CompletedProcess[str]:
    """The console command as installed with socle, run from another folder than the checkout."""
    script = Path(sys.executable).parent / "socle"
    return subprocess.run([str(script), *args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=300, check=False)  # fmt: skip


def test_the_socle_command_has_a_version_and_never_a_traceback(tmp_path):
    version = socle_command("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"socle {__version__}"
    listed = socle_command("--list")
    assert "build-master" in listed.stdout and "inventory.import" in listed.stdout
    bad = [
        (["nosuch"], "No idea what 'nosuch' is!"),
        (["inventory.generate", "--nope"], "--nope"),
        (["inventory.generate", "--etabs", "abc", "--out", str(tmp_path)], "not a whole number"),
    ]
    for args, said in bad:
        proc = socle_command(*args)
        assert proc.returncode != 0 and said in proc.stderr and "Traceback" not in proc.stderr + proc.stdout, args


def test_a_value_the_parser_cannot_take_is_one_line(capsys):
    from invoke import Collection, task

    from socle.cli.program import Socle

    @task
    def count(c, number=1):
        """A task with a number."""

    Socle(namespace=Collection(count), version="x", name="socle", binary="socle").run(
        ["socle", "count", "--number", "abc"], exit=False
    )
    err = capsys.readouterr().err
    assert err.startswith("socle: bad argument: ") and "Traceback" not in err
