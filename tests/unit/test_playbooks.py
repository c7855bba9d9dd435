"""Every playbook (Linux and Windows) passes ansible-playbook --syntax-check."""

import os
import subprocess
import sys

import pytest

from socle.core.paths import ROOT

PLAYBOOKS = sorted(p.name for p in (ROOT / "playbooks").glob("*.yml"))


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_syntax(playbook):
    bindir = os.path.dirname(sys.executable)
    proc = subprocess.run(
        [os.path.join(bindir, "ansible-playbook"), "--syntax-check", "-i", "localhost,", f"playbooks/{playbook}"],
        cwd=ROOT, env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
