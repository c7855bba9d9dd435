"""Shared fixtures: a scratch copy of the catalogue, the CLI runner."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from socle.core.paths import ROOT

# tests build and sign development masters: the explicit opt-in a production build never has
os.environ.setdefault("SOCLE_DEV_SIGNING", "1")
# the suite reads socle's English; tests/unit/test_i18n.py asks for French where it checks it
os.environ["SOCLE_LANG"] = "en"
# operations record into the history database: the session's own, not the checkout's
os.environ.setdefault("SOCLE_HISTORY_DB", str(Path(tempfile.mkdtemp(prefix="socle-history-")) / "history.sqlite"))


@pytest.fixture
def catalogue_copy(tmp_path: Path) -> Path:
    """A writable copy of the real catalogue, for tests that break it on purpose."""
    dest = tmp_path / "software_catalogue"
    shutil.copytree(ROOT / "software_catalogue", dest)
    return dest


def run_invoke(*args: str, env: dict[str, str] | None = None, timeout: float = 600,
               wrap: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run `invoke ARGS` as a user would, from the checkout, without stdin (under ``wrap``: a command prefix)."""
    bindir = os.path.dirname(sys.executable)
    full_env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}", **(env or {})}
    return subprocess.run(
        [*wrap, os.path.join(bindir, "invoke"), *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )


HOST_SUITES = (ROOT / "tests" / "master", ROOT / "tests" / "conformity")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """tests/master/ and tests/conformity/ check a running machine: only with --hosts."""
    for suite in HOST_SUITES:
        if collection_path == suite or suite in collection_path.parents:
            return None if config.getoption("hosts", None) else True
    return None


@pytest.fixture
def region(tmp_path: Path) -> Path:
    """A writable copy of the sample Région inventory (inventories/grand-est)."""
    dest = tmp_path / "grand-est"
    shutil.copytree(ROOT / "inventories" / "grand-est", dest)
    return dest


def load_script(path: Path, name: str) -> Any:
    """A Python script without .py (socle-slot, socle-stage) as a fresh module, reading the environment
    as it is now."""
    loader = importlib.machinery.SourceFileLoader(name, str(path))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader))
    loader.exec_module(module)
    return module


def screenshot(page: Path, png: Path) -> None:
    """Render the report in headless Chromium, as a person would open it."""
    chromium = shutil.which("chromium")
    if not chromium:
        pytest.skip("chromium not installed (./socle.sh setup installs it)")
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={png.parent / 'chromium-profile'}", "--window-size=1000,1400",
         f"--screenshot={png}", page.as_uri()],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, "the report did not render"


def tracked_tree(dest: Path) -> Path:
    """The checkout as a clone would have it (tracked and new files, nothing ignored: no .venv, no dist)."""
    names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split("\0")  # fmt: skip
    for name in filter(None, names):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest
