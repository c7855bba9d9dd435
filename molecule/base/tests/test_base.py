"""The base role leaves a French, Paris-time, size-limited system."""


def test_default_locale_is_french(host):
    for path in ("/etc/locale.conf", "/etc/default/locale"):
        assert host.file(path).content_string.strip() == "LANG=fr_FR.UTF-8"
    assert "fr_FR.utf8" in host.run("locale -a").stdout


def test_time_zone_is_paris(host):
    assert host.file("/etc/localtime").linked_to == "/usr/share/zoneinfo/Europe/Paris"
    assert host.run("date +%Z").stdout.strip() in {"CET", "CEST"}


def test_keyboard_is_french(host):
    keyboard = host.file("/etc/default/keyboard")
    assert keyboard.mode == 0o644
    assert 'XKBLAYOUT="fr"' in keyboard.content_string


def test_timesyncd_enabled_with_ntp_servers(host):
    assert host.service("systemd-timesyncd").is_enabled
    conf = host.file("/etc/systemd/timesyncd.conf.d/socle.conf").content_string
    assert "NTP=0.fr.pool.ntp.org 1.fr.pool.ntp.org" in conf


def test_journald_limited(host):
    conf = host.file("/etc/systemd/journald.conf.d/socle.conf").content_string
    assert "SystemMaxUse=200M" in conf
    assert host.run("systemctl show systemd-journald -p ActiveState").stdout.strip() == "ActiveState=active"
