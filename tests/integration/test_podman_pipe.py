"""The ``podman_pipe`` connection enters a running container's namespaces (nsenter) with the
container's environment and capabilities only, and follows a restart."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from socle.build import rootfs
from socle.core.paths import ROOT

pytestmark = pytest.mark.integration

BOOK = """\
- hosts: box
  gather_facts: false
  tasks:
    - name: Read the environment and the root folder
      ansible.builtin.shell: "env; ls /; cat /etc/socle-box; grep -E '^Cap(Bnd|Eff|Inh)' /proc/self/status"
      register: first
    - name: Restart the container (its first process changes)
      ansible.builtin.command: podman restart -t 0 {name}
      delegate_to: localhost
    - name: Read the marker again, after the restart
      ansible.builtin.command: cat /etc/socle-box
      register: second
    - name: Show what the container gave
      ansible.builtin.debug:
        msg: "FIRST<<{{{{ first.stdout }}}}>> SECOND<<{{{{ second.stdout }}}}>>"
"""


@pytest.fixture
def box():
    name = f"socle-pipe-{uuid.uuid4().hex[:8]}"
    subprocess.run(["podman", "run", "-d", "--name", name, "--init", rootfs.test_image(), "sleep", "infinity"],
                   capture_output=True, check=True)  # fmt: skip
    subprocess.run(["podman", "exec", name, "sh", "-c", "echo marker-in-box > /etc/socle-box"], check=True)
    try:
        yield name
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True)


def play(tmp_path: Path, name: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "book.yml").write_text(BOOK.format(name=name))
    (tmp_path / "hosts").write_text(f"box ansible_connection=podman_pipe ansible_host={name} "
                                    "ansible_python_interpreter=/usr/bin/python3\n")  # fmt: skip
    ansible = Path(sys.executable).with_name("ansible-playbook")
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), **extra_env}
    return subprocess.run([str(ansible), "-vvv", "-i", str(tmp_path / "hosts"), str(tmp_path / "book.yml")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip


@pytest.mark.skipif(os.geteuid() != 0, reason="nsenter into a rootful container needs root")
def test_commands_enter_the_container_with_its_own_environment(tmp_path, box):
    proc = play(tmp_path, box, SOCLE_CONTROLLER_SECRET="do-not-leak")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "NSENTER" in proc.stdout, "commands went through podman exec"
    first = proc.stdout.split("FIRST<<", 1)[1].split(">>", 1)[0].replace("\\n", "\n").replace("\\t", "\t")
    assert "marker-in-box" in first and "container=podman" in first
    assert "do-not-leak" not in first and "SOCLE_CONTROLLER_SECRET" not in first
    # no capability the container lacks under podman exec (CAP_SYS_ADMIN, CAP_MKNOD…)
    caps = subprocess.run(["podman", "exec", box, "grep", "-E", "^Cap(Bnd|Eff|Inh)", "/proc/self/status"],
                          capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    entered = [line.split() for line in first.splitlines() if line.startswith("Cap")]
    assert entered == [caps[i : i + 2] for i in (0, 2, 4)]
    with open("/proc/self/status", encoding="ascii") as fh:
        assert next(line for line in fh if line.startswith("CapBnd")).split()[1] != caps[caps.index("CapBnd:") + 1]
    # after the restart the connection found the container's new first process
    assert "SECOND<<marker-in-box>>" in proc.stdout


def test_podman_exec_when_nsenter_is_turned_off(tmp_path, box):
    proc = play(tmp_path, box, ANSIBLE_PODMAN_NSENTER="false")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "NSENTER" not in proc.stdout and "b'exec'" in proc.stdout
    assert "SECOND<<marker-in-box>>" in proc.stdout
