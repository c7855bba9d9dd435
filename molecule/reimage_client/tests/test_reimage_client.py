"""The reimage_client role gives a poste its receivers, socle-slot, its slot folders and the trusted key."""

import json


def test_receivers_are_installed(host):
    for name in ("udpcast", "casync"):
        assert host.package(name).is_installed, name


def test_socle_slot_reports_an_empty_poste(host):
    slot = host.file("/usr/local/sbin/socle-slot")
    assert slot.mode == 0o755 and slot.user == "root"
    status = json.loads(host.check_output("/usr/local/sbin/socle-slot status"))
    assert isinstance(status, dict)


def test_slot_and_key_folders_and_the_trusted_key(host):
    for path in ("/var/lib/socle/slots", "/etc/socle/keys", "/boot/socle"):
        assert host.file(path).is_directory, path
    key = host.file("/etc/socle/keys/masters.asc")
    assert key.mode == 0o644 and "BEGIN PGP PUBLIC KEY BLOCK" in key.content_string
