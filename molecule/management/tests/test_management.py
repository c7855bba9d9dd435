"""The management role: an account reached by the Région's SSH user certificates only, with sudo for
the `region` principal and the forced collector for this établissement's serveur; a host identity kept
on the persistent partition (here the image's own folder: a container has no SOCLE-DATA partition).
The logins are real: ssh to the container's own sshd, certificates signed by the test's user CA."""

import json

import pytest

UAI = "0671234C"
OTHER = "0681234K"
COLLECT = "/usr/local/sbin/socle-collect"


def _login(host, name, principal, command, *, force=None, revoke=False, ca="test-user-ca"):
    """ssh as ansible with a fresh key of ``name`` signed for ``principal`` by ``ca`` (a test CA)."""
    key = f"/root/t-{name}"
    host.run(f"rm -f {key} {key}.pub {key}-cert.pub && ssh-keygen -q -t ed25519 -N '' -f {key}")
    options = f"-O clear -O force-command={force}" if force else ""
    signed = host.run(f"ssh-keygen -q -s /root/{ca} -I t-{name} -n {principal} -V -5m:+1h {options} {key}.pub")
    assert signed.rc == 0, signed.stderr
    if revoke:
        assert host.run(f"ssh-keygen -q -k -u -f /etc/ssh/socle-revoked.krl {key}.pub").rc == 0
    return host.run(
        f"ssh -i {key} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no "
        f"-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR ansible@127.0.0.1 {command}"
    )


@pytest.fixture(scope="module")
def enrolled(host):
    """What enrolment leaves: the établissement beside the host key, the principals written again."""
    host.run("systemctl start ssh.service")
    assert host.run(f"echo {UAI} > /var/lib/socle/data/identity/uai && /usr/local/sbin/socle-host-identity").rc == 0
    yield host
    host.run("rm -f /var/lib/socle/data/identity/uai && /usr/local/sbin/socle-host-identity")


def test_the_account_has_no_key_and_no_password(host):
    user = host.user("ansible")
    assert user.exists and user.shell == "/bin/bash"
    assert host.run("getent shadow ansible").stdout.split(":")[1].startswith("!")
    assert not host.file("/home/ansible/.ssh/authorized_keys").exists
    assert host.run("sudo -u ansible sudo -n true").rc == 0
    effective = host.check_output("/usr/sbin/sshd -T 2>/dev/null").lower().splitlines()
    assert "trustedusercakeys /etc/ssh/socle-user-ca.pub" in effective
    assert "authorizedprincipalsfile /etc/ssh/socle-principals/%u" in effective
    assert "revokedkeys /etc/ssh/socle-revoked.krl" in effective and "authorizedkeysfile none" in effective


def test_without_an_etablissement_only_the_region_logs_in(host):
    principals = host.file("/etc/ssh/socle-principals/ansible")
    assert principals.user == "root" and principals.mode == 0o644
    assert principals.content_string.splitlines() == ["region"]


def test_the_regions_certificate_gets_root(enrolled):
    login = _login(enrolled, "region", "region", "sudo -n id -u")
    assert login.rc == 0 and login.stdout.strip() == "0", login.stderr


def test_during_a_rotation_both_user_cas_are_trusted_and_no_other(enrolled):
    """Rotation (docs/security.md): the next CA is trusted beside the current one; a CA nobody listed
    signs nothing that logs in."""
    assert _login(enrolled, "next", "region", "true", ca="test-user-ca-next").rc == 0
    enrolled.run("test -f /root/stranger-ca || ssh-keygen -q -t ed25519 -N '' -f /root/stranger-ca")
    stranger = _login(enrolled, "stranger", "region", "true", ca="stranger-ca")
    assert stranger.rc == 255 and "Permission denied" in stranger.stderr


def test_its_own_serveur_gets_the_collector_and_nothing_else(enrolled):
    snapshot = _login(enrolled, "serveur", f"serveur-{UAI}", "collect", force=COLLECT)
    assert snapshot.rc == 0, snapshot.stderr
    assert json.loads(snapshot.stdout)["hostname"] == enrolled.check_output("hostname")
    root = _login(enrolled, "serveur-root", f"serveur-{UAI}", "sudo -n id -u", force=COLLECT)
    assert root.rc == 2 and "only 'collect' and 'poweroff'" in root.stderr and root.stdout == ""


def test_the_poste_forces_the_collector_even_if_the_certificate_does_not(enrolled):
    """A certificate for the principal without its forced command (a CA mistake): the principals file
    of the poste forces the collector all the same."""
    root = _login(enrolled, "serveur-unforced", f"serveur-{UAI}", "sudo -n id -u")
    assert root.rc == 2 and root.stdout == ""


def test_another_schools_serveur_and_plain_keys_are_refused(enrolled):
    other = _login(enrolled, "other", f"serveur-{OTHER}", "collect", force=COLLECT)
    assert other.rc == 255 and "Permission denied" in other.stderr
    keys = "/home/ansible/.ssh/authorized_keys"
    enrolled.run(f"install -d -o ansible -m 0700 /home/ansible/.ssh && cp /root/t-other.pub {keys}")
    enrolled.run(f"chown ansible {keys} && rm /root/t-other-cert.pub")
    try:  # a key put in authorized_keys behind the role's back: sshd reads no such file (AuthorizedKeysFile none)
        plain = enrolled.run(
            "ssh -i /root/t-other -o IdentitiesOnly=yes -o BatchMode=yes "
            "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null ansible@127.0.0.1 true"
        )
    finally:
        enrolled.run("rm -f /home/ansible/.ssh/authorized_keys")
    assert plain.rc == 255


def test_a_revoked_key_is_refused_whatever_signed_it(enrolled):
    try:
        revoked = _login(enrolled, "revoked", "region", "true", revoke=True)
    finally:
        enrolled.run("ssh-keygen -q -k -f /etc/ssh/socle-revoked.krl /etc/ssh/socle-revoked.spec")
    assert revoked.rc == 255 and "Permission denied" in revoked.stderr


def test_the_host_identity_is_generated_once_outside_the_image(host):
    assert host.run("systemctl start socle-host-identity.service").rc == 0
    key = host.file("/var/lib/socle/data/identity/ssh_host_ed25519_key")
    assert key.mode == 0o600 and host.file("/var/lib/socle/data/identity").mode == 0o700
    first = host.file("/var/lib/socle/data/identity/ssh_host_ed25519_key.pub").content_string
    host.run("systemctl restart socle-host-identity.service")
    assert host.file("/var/lib/socle/data/identity/ssh_host_ed25519_key.pub").content_string == first
    assert host.file("/etc/systemd/system/ssh.service.wants/socle-host-identity.service").is_symlink


def test_sshd_uses_the_persistent_key_and_its_certificate(host):
    effective = host.check_output("/usr/sbin/sshd -T 2>/dev/null").lower().splitlines()
    assert "hostkey /var/lib/socle/data/identity/ssh_host_ed25519_key" in effective
    conf = host.file("/etc/ssh/sshd_config.d/05-socle-identity.conf").content_string
    assert "HostCertificate /var/lib/socle/data/identity/ssh_host_ed25519_key-cert.pub" in conf


def test_wired_interfaces_by_dhcp(host):
    assert "DHCP=yes" in host.file("/etc/systemd/network/80-socle-wired.network").content_string
