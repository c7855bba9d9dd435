"""Every molecule scenario: create -> converge -> idempotence -> verify -> destroy, on a local image."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from socle.core.paths import ROOT

pytestmark = pytest.mark.integration

SCENARIOS = sorted(p.name for p in (ROOT / "molecule").iterdir() if (p / "molecule.yml").exists())


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario):
    if scenario == "windows":
        pytest.skip("needs a real Windows VM reachable over WinRM HTTPS (see molecule/windows/README.md)")
    image = os.environ.get("SOCLE_TEST_IMAGE")
    if not image:
        pytest.skip("SOCLE_TEST_IMAGE not set: run through `invoke test`, which builds the image")
    bindir = os.path.dirname(sys.executable)
    env = {
        **os.environ,
        "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
        "ANSIBLE_HOME": os.environ.get("ANSIBLE_HOME", str(ROOT / ".cache" / "ansible-home")),
        "PY_COLORS": "0",
        "ANSIBLE_FORCE_COLOR": "0",
    }
    proc = subprocess.run(
        [os.path.join(bindir, "molecule"), "test", "-s", scenario],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert "changed=0" in out, "idempotence run did not report changed=0"
