"""Checks run by `invoke build-master` against a container started from the freshly built image.

Run by hand against any master: pytest tests/master --hosts=podman://<container>
"""

import json

import pytest


@pytest.fixture(scope="module")
def master(host):
    return json.loads(host.file("/etc/socle/master.json").content_string)


def test_identity_recorded(master):
    assert master["profile"]
    assert master["version"].startswith(master["school_year"] + ".")


def test_generalised(host):
    # The image ships no machine-id and no SSH host keys (checked on the image by build-master);
    # a booted copy gets its own at first boot, its host key in the identity folder (management role).
    assert host.file("/etc/machine-id").content_string.strip() != ""
    assert host.file("/var/lib/socle/data/identity/ssh_host_ed25519_key").mode == 0o600
    assert host.service("ssh").is_running
    assert not host.file("/root/.bash_history").exists
    assert not host.file("/root/.ansible").exists, "the build's Ansible working folder stays in the build"
    # package lists: build-master checks the image itself (a running copy may fetch them at once: Lynis,
    # which audits beside these checks, updates them to look for security updates)
    # build-time dpkg options stay in the build: a poste's updates are written safely
    assert "force-unsafe-io" not in host.run("cat /etc/dpkg/dpkg.cfg /etc/dpkg/dpkg.cfg.d/* 2>/dev/null").stdout


def test_french_and_paris(host):
    for path in ("/etc/locale.conf", "/etc/default/locale"):
        assert host.file(path).content_string.strip() == "LANG=fr_FR.UTF-8"
    assert host.file("/etc/localtime").linked_to == "/usr/share/zoneinfo/Europe/Paris"


def test_catalogue_software_installed(host):
    if not host.file("/usr/share/socle/catalogue-software.json").exists:
        pytest.skip("this master carries no teaching software (serveur profiles)")
    record = json.loads(host.file("/usr/share/socle/catalogue-software.json").content_string)
    for item in record:
        pkg = host.package(item["name"])
        assert pkg.is_installed, f"catalogue package {item['name']} ({item['software']}) missing"
        if item.get("version"):
            assert pkg.version == item["version"]


def test_hardening_baseline(host):
    shadow = host.run("getent shadow root").stdout.split(":")
    assert shadow[1].startswith("!") or shadow[1] in {"*", "!*"}, "root password login must be locked"
    if host.package("openssh-server").is_installed:
        conf = host.file("/etc/ssh/sshd_config.d/10-socle-hardening.conf").content_string
        assert "PermitRootLogin prohibit-password" in conf
        effective = host.check_output("/usr/sbin/sshd -T").lower().splitlines()
        assert "permitrootlogin without-password" in effective
        assert "passwordauthentication no" in effective
    assert host.file("/etc/sysctl.d/90-socle-hardening.conf").contains("kernel.dmesg_restrict = 1")
    assert host.file("/var/lib/socle/setuid-audit.txt").exists


def test_reimage_client_ready(host):
    if not host.file("/usr/local/sbin/socle-slot").exists:
        pytest.skip("no reimage_client role in this master")
    assert host.file("/etc/socle/keys/masters.asc").contains("BEGIN PGP PUBLIC KEY BLOCK")
    assert host.exists("udp-receiver") and (host.exists("sqv") or host.exists("gpgv"))
    status = json.loads(host.check_output("socle-slot status"))
    assert status["active"] in {"A", "B"}


def test_image_cache_ready(host):
    if not host.file("/etc/nginx/sites-available/socle-images").exists:
        pytest.skip("no image_cache role in this master")
    assert host.exists("udp-sender")
    assert host.file("/etc/nginx/sites-enabled/socle-images").is_symlink
    assert host.run("nginx -t").rc == 0
    assert host.service("nginx").is_enabled


def test_managed_by_certificates_only(host):
    """The management account: certificates of the Région's user CA (no key authorised as such), sudo
    without password, no password of its own."""
    record = json.loads(host.file("/etc/socle/master.json").content_string)
    account = record.get("management_account", "ansible")
    shadow = host.run(f"getent shadow {account}").stdout.split(":")
    assert shadow[1].startswith("!"), f"{account} must have no usable password"
    assert not host.file(f"/home/{account}/.ssh/authorized_keys").exists
    cas = [k for k in host.file("/etc/ssh/socle-user-ca.pub").content_string.splitlines() if k.startswith("ssh-")]
    assert cas, "no user CA trusted"
    assert host.run(f"sudo -n -u {account} sudo -n true").rc == 0
    assert host.file("/usr/local/sbin/socle-collect").mode == 0o755
    effective = host.check_output("/usr/sbin/sshd -T").lower().splitlines()
    assert "hostkey /var/lib/socle/data/identity/ssh_host_ed25519_key" in effective
    assert "authorizedkeysfile none" in effective and "trustedusercakeys /etc/ssh/socle-user-ca.pub" in effective
