"""Playbooks run through ansible-runner: the job events drive the display and give each host's record."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

from rich.console import Console

from socle.core import playbook
from socle.core.progress import Progress

BOOK = """
- name: Local play
  hosts: all
  gather_facts: false
  tasks:
    - name: Reach the host
      ansible.builtin.ping:
    - name: Leave a record
      ansible.builtin.set_fact:
        socle_record: {slot: b}
    - name: Fail on the second host
      ansible.builtin.fail:
        msg: disque plein
      when: inventory_hostname == 'poste-02'
"""


def plain() -> tuple[Progress, io.StringIO]:
    out = io.StringIO()
    return Progress("reimage", console=Console(file=out, force_terminal=False, width=200), interval=0), out


def test_a_real_run_gives_records_from_its_events(tmp_path):
    (tmp_path / "book.yml").write_text(BOOK)
    py = sys.executable
    (tmp_path / "hosts").write_text(
        f"poste-01 ansible_connection=local ansible_python_interpreter={py}\n"
        f"poste-02 ansible_connection=local ansible_python_interpreter={py}\n"
        "poste-03 ansible_connection=podman_pipe ansible_host=socle-no-such-container\n"
    )
    rc, events = playbook.run(tmp_path / "book.yml", data_dir=tmp_path / "run", inventory=tmp_path / "hosts",
                              label="test", results=tmp_path / "raw")  # fmt: skip
    assert rc != 0
    records = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "raw").glob("*.json")}
    assert records["poste-01"] == {"status": "ok", "record": {"slot": "b"}}
    # a failure keeps the record the host left before it
    assert records["poste-02"]["status"] == "failed" and records["poste-02"]["record"] == {"slot": "b"}
    assert records["poste-02"]["reason"] == "disque plein" and records["poste-02"]["task"] == "Fail on the second host"
    assert records["poste-03"]["status"] == "unreachable"
    assert events.failures == ["poste-02: Fail on the second host: disque plein"]
    # AWX's layout: the project, env/, artifacts/<ident>/ with stdout and every job event
    run = tmp_path / "run"
    assert (run / "project").resolve() == Path(playbook.ROOT) and (run / "env").is_dir()
    assert "disque plein" in playbook.stdout(run, "test").read_text()
    assert any((run / "artifacts" / "test" / "job_events").iterdir())
    # where the wait went: starting Ansible, then each play, in order, adding up to the run
    phases = events.phases()
    assert [p["phase"] for p in phases] == ["start Ansible", "Local play"]
    assert all(p["seconds"] > 0 for p in phases)


def test_outside_a_terminal_plain_timestamped_lines():
    progress, out = plain()
    events = playbook.Events(progress)
    with progress:
        for event in (
            {"event": "playbook_on_play_start", "event_data": {"play": "Reimage the salle"}},
            {"event": "playbook_on_task_start", "event_data": {"task": "Write the slot", "role": "reimage_client"}},
            {"event": "runner_on_start", "event_data": {"host": "poste-01", "task": "Write the slot"}},
            {"event": "runner_on_ok", "event_data": {"host": "poste-01", "task": "Write the slot",
                                                     "res": {"changed": True}}},
            {"event": "runner_on_failed", "event_data": {"host": "poste-02", "task": "Write the slot",
                                                         "res": {"msg": "no space"}}},
            {"event": "runner_on_failed", "event_data": {"host": "poste-03", "task": "Probe", "ignore_errors": True,
                                                         "res": {"msg": "ignored"}}},
        ):  # fmt: skip
            events(event)
    lines = out.getvalue().splitlines()
    assert all(line[:4] == "2026" or line[:2] == "20" for line in lines)
    assert any("[reimage_client] Write the slot" in line for line in lines)
    assert any("poste-02 failed at Write the slot: no space" in line for line in lines)
    assert lines[-1].endswith("finished — 2 host(s): 1 failed, 1 changed")
    assert "poste-03" not in out.getvalue()  # an ignored error is not a failure


def test_in_a_terminal_one_row_per_host_worst_first():
    out = io.StringIO()
    progress = Progress("conformity", console=Console(file=out, force_terminal=True, width=120))
    progress.on_play("Collect")
    progress.on_task("", "Collect the host's state")
    progress.on_host("poste-01", "ok", task="Collect the host's state")
    progress.on_host("poste-02", "unreachable", task="Collect the host's state", reason="no route")
    progress.on_host("poste-03", "running", task="Collect the host's state")
    progress.on_host("poste-01", "skipped", task="Next")
    rendered = io.StringIO()
    Console(file=rendered, width=120).print(progress._render())
    rows = [line.split()[0] for line in rendered.getvalue().splitlines()[2:5]]
    assert rows == ["poste-02", "poste-03", "poste-01"]
    assert progress.hosts["poste-01"].outcome == "ok"  # a later skip does not hide what the host did
