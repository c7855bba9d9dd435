"""The ANSSI minimal subset holds on a running system (effective values, not only files)."""


def test_sshd_effective_configuration(host):
    effective = host.check_output("/usr/sbin/sshd -T").lower().splitlines()
    for line in ("permitrootlogin without-password", "passwordauthentication no", "x11forwarding no", "maxauthtries 4"):
        assert line in effective, line
    assert host.service("ssh").is_running


def test_sudo_logs_and_uses_a_pty(host):
    assert host.run("visudo -c").rc == 0
    sudoers = host.file("/etc/sudoers.d/socle-hardening")
    assert sudoers.mode == 0o440 and "Defaults use_pty" in sudoers.content_string


def test_sysctl_file_written(host):
    conf = host.file("/etc/sysctl.d/90-socle-hardening.conf").content_string
    assert "kernel.kptr_restrict = 2" in conf and "net.ipv4.conf.all.accept_redirects = 0" in conf


def test_apt_never_upgrades_by_itself(host):
    """Updates come through the waves: prepare installed unattended-upgrades (as a desktop install
    would); the role removed it, turned the periodic runs off and masked apt's daily timers."""
    assert not host.package("unattended-upgrades").is_installed
    periodic = host.file("/etc/apt/apt.conf.d/20auto-upgrades").content_string
    assert 'APT::Periodic::Unattended-Upgrade "0"' in periodic and 'Update-Package-Lists "0"' in periodic
    for timer in ("apt-daily.timer", "apt-daily-upgrade.timer"):
        assert host.file(f"/etc/systemd/system/{timer}").linked_to == "/dev/null"
        assert host.run(f"systemctl is-enabled {timer}").stdout.strip() == "masked"


def test_root_password_locked(host):
    assert host.check_output("passwd -S root").split()[1] == "L"


def test_setuid_audit_recorded(host):
    audit = host.file("/var/lib/socle/setuid-audit.txt").content_string.splitlines()
    assert "/usr/bin/sudo" in audit and "/usr/bin/passwd" in audit


def test_forbidden_services_removed(host):
    """R62: prepare installed a telnet client (as a desktop install might); the role purged it."""
    assert not host.package("inetutils-telnet").is_installed
