"""The management role: an account reached by key only with sudo, and a host identity kept on the
persistent partition (here the image's own folder: a container has no SOCLE-DATA partition)."""


def test_the_account_has_the_controller_key_and_no_password(host):
    user = host.user("ansible")
    assert user.exists and user.shell == "/bin/bash"
    assert host.run("getent shadow ansible").stdout.split(":")[1].startswith("!")
    keys = host.file("/home/ansible/.ssh/authorized_keys")
    assert keys.user == "ansible" and keys.content_string.strip().endswith("molecule")
    assert host.run("sudo -u ansible sudo -n true").rc == 0


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
