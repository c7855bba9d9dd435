"""The CLI as a newcomer meets it: task list, one-line errors with a hint, never a traceback."""

import pytest

from tests.conftest import run_invoke

TASKS = [
    "setup", "build-master", "install", "reimage", "patch", "conformity", "report", "lint", "test",
    "catalogue.check", "catalogue.diff", "catalogue.request", "inventory.check",
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
