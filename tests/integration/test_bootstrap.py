"""README's first command on a fresh Debian with nothing but git: ``./socle.sh`` installs Python's
venv support (as root), creates .venv, installs socle and runs the task. Debian 12 and 13, in CI."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from socle.build import rootfs
from tests.conftest import tracked_tree

pytestmark = pytest.mark.integration

#: a user's fresh machine: minbase (no Python at all) with git to clone socle
FRESH = ("git", "ca-certificates", "util-linux")

SCRIPT = r"""
set -u
# the site's own CAs (a TLS proxy's) in the system store, as this host has them
update-ca-certificates > /dev/null
cp -a /src /opt/socle && chmod 0755 /opt/socle && cd /opt/socle
fail() { echo "FAILED: $*"; exit 1; }
command -v python3 && fail "the fresh image already has python3"

# not root: told the one command to run as root, and nothing is created
setpriv --reuid=65534 --regid=65534 --clear-groups ./socle.sh --version > /tmp/user.out 2>&1
[ $? -eq 2 ] || fail "not root: expected exit 2"
grep -q "apt-get install -y python3 python3-venv" /tmp/user.out || fail "not root: $(cat /tmp/user.out)"
[ ! -e .venv ] || fail "not root: .venv was created"

# root: the first command does everything
./socle.sh --version || fail "--version"
[ -x .venv/bin/socle ] || fail "no .venv/bin/socle"
.venv/bin/python -c 'import pytest' 2>/dev/null && fail "the test tools came without the test command"
./socle.sh catalogue.check --format json > /tmp/check.json || fail "catalogue.check"
.venv/bin/python -c 'import json; json.load(open("/tmp/check.json"))' || fail "catalogue.check: not JSON"

# a bad argument is one line with its fix, never a traceback
./socle.sh inventory.generate --etabs abc --postes 3 > /tmp/bad.out 2>&1 && fail "--etabs abc was accepted"
grep -q Traceback /tmp/bad.out && fail "traceback: $(cat /tmp/bad.out)"
[ -s /tmp/bad.out ] || fail "a bad argument said nothing"
echo "python: $(.venv/bin/python -V)"
echo BOOTSTRAP-OK
"""


def site_cas() -> list[str]:
    """This host's local CAs (its network's TLS proxy, if any), given to the fresh machine as its
    administrators would: in /usr/local/share/ca-certificates."""
    local = Path("/usr/local/share/ca-certificates")
    return ["-v", f"{local}:{local}:ro"] if any(local.glob("*.crt")) else []


#: the Python each fresh release gives socle's .venv
RELEASES = {"bookworm": "Python 3.11", "trixie": "Python 3.13"}


def test_the_first_command_on_fresh_debian_12_and_13(tmp_path):
    """Both releases at once (each mostly waits for the mirror and PyPI)."""
    src = tracked_tree(tmp_path / "checkout")
    runs = {}
    for release in RELEASES:
        spec = rootfs.RootfsSpec(release=release, packages=FRESH)
        image = f"localhost/socle/fresh-{release}:{spec.key()}"
        if not rootfs.image_exists(image):
            rootfs.import_rootfs(rootfs.build_rootfs(spec), image)
        log = (tmp_path / f"{release}.log").open("w")
        runs[release] = (subprocess.Popen(
            ["podman", "run", "--rm", "-v", f"{src}:/src:ro", *site_cas(), image, "/bin/sh", "-c", SCRIPT],
            stdout=log, stderr=subprocess.STDOUT, text=True,
        ), log)  # fmt: skip
    for release, (proc, log) in runs.items():
        proc.wait(timeout=1500)
        log.close()
        out = (tmp_path / f"{release}.log").read_text()
        assert proc.returncode == 0 and "BOOTSTRAP-OK" in out, f"{release}: {out[-4000:]}"
        assert f"python: {RELEASES[release]}" in out, release
