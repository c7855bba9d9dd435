"""master_finalize leaves a generalised image: no host identity, no caches, no history, empty logs."""


def test_host_identity_is_gone(host):
    assert host.file("/etc/machine-id").content_string == ""
    assert host.run("ls /etc/ssh/ssh_host_*").rc != 0
    assert not host.file("/var/lib/dbus/machine-id").exists


def test_build_time_settings_caches_and_history_are_removed(host):
    for path in ("/etc/dpkg/dpkg.cfg.d/99mmdebstrap", "/root/.bash_history"):
        assert not host.file(path).exists, path
    assert host.run("ls /var/lib/apt/lists/*_Packages").rc != 0


def test_logs_are_kept_but_empty(host):
    log = host.file("/var/log/socle-build.log")
    assert log.exists and log.size == 0
