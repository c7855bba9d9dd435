"""Check one poste (or serveur) by hand, the same checks as the nightly run:

    pytest tests/conformity --hosts=podman://NAME        # a container
    pytest tests/conformity --hosts=ssh://ansible@HOST   # a poste over SSH
    pytest tests/conformity --hosts=ansible://etab_0671000y --ansible-inventory=inventories/grand-est

Expectations come from the same places as `invoke conformity`: the master manifest (newest in
SOCLE_DIST for the host's profile), the catalogue record and the `hardening` role's defaults.
"""

from __future__ import annotations

import json

import pytest

from socle.conformity import evaluate, expected
from socle.registry import specs, store

HARDENING = expected.hardening_expectations()


@pytest.fixture(scope="module")
def identity(host):
    path = host.file("/etc/socle/master.json")
    assert path.exists, "not a socle master: /etc/socle/master.json is missing"
    return json.loads(path.content_string)


def test_runs_the_current_master(identity):
    manifest = store.newest_manifest(identity["profile"], specs.resolve_year(None))
    if manifest is None:
        pytest.skip(f"no published {identity['profile']} master in this dist/ to compare with")
    assert identity["version"] == manifest["version"], "the poste must be reimaged with the current master"


def test_catalogue_software_installed(host):
    record = json.loads(host.file("/usr/share/socle/catalogue-software.json").content_string)
    missing = [item["name"] for item in record if not host.package(item["name"]).is_installed]
    assert not missing, f"catalogue software missing: {', '.join(missing)}"


@pytest.mark.parametrize(("key", "value"), sorted(HARDENING["hardening_sshd_settings"].items()))
def test_sshd_setting(host, key, value):
    if not host.package("openssh-server").is_installed:
        pytest.skip("no SSH server")
    got = host.check_output(f"/usr/sbin/sshd -T | grep -i '^{key.lower()} '").split(" ", 1)[1].lower()
    want = evaluate.SSHD_ALIASES.get(str(value).lower(), str(value).lower())
    assert got == want


@pytest.mark.parametrize(("key", "value"), sorted(HARDENING["hardening_sysctl"].items()))
def test_sysctl_setting(host, key, value):
    conf = host.file("/etc/sysctl.d/90-socle-hardening.conf")
    assert conf.contains(f"^{key} = {value}$")


def test_root_password_locked(host):
    assert host.check_output("passwd -S root").split()[1] in {"L", "LK"}


def test_time_sync_enabled(host):
    assert host.service("systemd-timesyncd").is_enabled


def test_enough_free_disk(host):
    total, free = map(int, host.check_output("df -Pm / | awk 'NR==2 {print $2, $4}'").split())
    assert 100 * free / total >= evaluate.MIN_FREE_DISK_PERCENT
