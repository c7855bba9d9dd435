"""The catalogue_software role installs the selected Debian packages and records what the image carries."""

import json


def test_selected_packages_are_installed(host):
    for name in ("sqlite3", "tree"):
        assert host.package(name).is_installed, name


def test_no_recommends_came_along(host):
    # install_recommends is false by default: sqlite3 recommends sqlite3-doc
    assert not host.package("sqlite3-doc").is_installed


def test_the_record_lists_the_entries(host):
    record = host.file("/usr/share/socle/catalogue-software.json")
    assert record.mode == 0o644
    entries = json.loads(record.content_string)
    assert [(e["name"], e["software"]) for e in entries] == [("sqlite3", "sqlite"), ("tree", "tree")]
