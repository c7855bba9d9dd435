"""Every molecule scenario: create -> converge -> idempotence -> verify -> destroy, on a local image.

The scenarios selected for the session run side by side (``SOCLE_MOLECULE_JOBS``, default 2: each one's
container is its own, ``socle-<scenario>``); each test waits for its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from socle.core.paths import ROOT

pytestmark = pytest.mark.integration

SCENARIOS = sorted(p.name for p in (ROOT / "molecule").iterdir() if (p / "molecule.yml").exists())
#: needs a real Windows VM reachable over WinRM HTTPS (molecule/windows/README.md)
NEEDS_WINDOWS = {"windows"}


def molecule_test(scenario: str) -> subprocess.CompletedProcess[str]:
    """``molecule test`` of one scenario, on the image ``SOCLE_TEST_IMAGE`` names."""
    bindir = os.path.dirname(sys.executable)
    env = {
        **os.environ,
        "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
        "ANSIBLE_HOME": os.environ.get("ANSIBLE_HOME", str(ROOT / ".cache" / "ansible-home")),
        "PY_COLORS": "0",
        "ANSIBLE_FORCE_COLOR": "0",
    }
    return subprocess.run([os.path.join(bindir, "molecule"), "test", "-s", scenario], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip


@pytest.fixture(scope="module")
def runs(request) -> Iterator[dict[str, Future[subprocess.CompletedProcess[str]]]]:
    """The selected scenarios, started together at the module's first test."""
    if not os.environ.get("SOCLE_TEST_IMAGE"):
        pytest.skip("SOCLE_TEST_IMAGE not set: run through `invoke test`, which builds the image")
    selected = [item.callspec.params["scenario"] for item in request.session.items
                if getattr(item, "originalname", "") == "test_molecule_scenario"]  # fmt: skip
    with ThreadPoolExecutor(max_workers=int(os.environ.get("SOCLE_MOLECULE_JOBS", "2"))) as pool:
        futures = {s: pool.submit(molecule_test, s) for s in selected if s not in NEEDS_WINDOWS}
        yield futures
        for future in futures.values():
            future.cancel()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario, runs):
    if scenario in NEEDS_WINDOWS:
        pytest.skip("needs a real Windows VM reachable over WinRM HTTPS (see molecule/windows/README.md)")
    proc = runs[scenario].result()
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert "changed=0" in out, "idempotence run did not report changed=0"
