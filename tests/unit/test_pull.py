"""Pull mode, the parts that need no machine: the serveur's configuration is checked and located,
Wake-on-LAN packets are what NICs expect, the publication index names what a serveur fetches, its cache
keeps what it follows and the previous master."""

from __future__ import annotations

import json

import pytest

from socle.cli import pull
from socle.core import wol
from socle.core.paths import ROOT
from socle.registry import store
from tests.conftest import load_script

SOCLE_STAGE = ROOT / "roles" / "image_cache" / "files" / "usr" / "local" / "sbin" / "socle-stage"

GOOD = """\
uai: 0671000Y
inventory: /etc/socle/inventory
database: postgresql+psycopg://lycee_0671000y@/socle?host=db.region.example&sslmode=verify-full&sslrootcert=/etc/socle/ca.pem
reports: /var/lib/socle/pull/reports
masters: /srv/socle/masters
ssh_key: /etc/socle/ssh/pull_ed25519
known_hosts: /etc/socle/ssh/known_hosts
"""


def test_a_good_configuration_is_read_with_its_defaults(tmp_path):
    path = tmp_path / "pull.yml"
    path.write_text(GOOD)
    config = pull.load_config(path)
    assert config["uai"] == "0671000Y" and config["wake_wait_s"] == 180 and config["keep_reports_days"] == 14


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("sslmode=verify-full", "sslmode=disable"), "database"),  # never without TLS and a checked server
        (("lycee_0671000y@", "lycee_0671000y:secret@"), "database"),  # never a password in the file
        (("uai: 0671000Y", "uai: 067100"), "uai"),
        (("reports: /var", "reports: var"), "reports"),
    ],
)
def test_a_bad_configuration_is_refused_where_it_is(tmp_path, capsys, change, message):
    path = tmp_path / "pull.yml"
    path.write_text(GOOD.replace(*change))
    assert pull.main(["--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}:") and f": {message}: " in err and "Traceback" not in err


def test_a_missing_configuration_is_one_line():
    assert pull.main(["--config", "/nonexistent/pull.yml"]) == 2


def test_a_magic_packet_is_six_ff_then_the_mac_sixteen_times():
    packet = wol.magic_packet("52:54:00:00:00:0a")
    assert len(packet) == 102 and packet[:6] == b"\xff" * 6 and packet[6:12] == bytes.fromhex("52540000000a")
    assert packet[6:] == bytes.fromhex("52540000000a") * 16
    with pytest.raises(ValueError):
        wol.magic_packet("52:54:00:00:00")


def test_the_publication_index_names_each_version_and_what_a_serveur_fetches(tmp_path):
    root = tmp_path / "masters" / "2026-2027" / "ci"
    for version in ("2026-2027.0", "2026-2027.1"):
        folder = root / version
        folder.mkdir(parents=True)
        for name in (*store.SIGNED_FILES, "vmlinuz", "manifest.json"):
            (folder / name).write_text(version)
    (root / ".2026-2027.2.partial").mkdir()  # a build in progress is not published
    index = json.loads(store.write_index(root).read_text())
    assert [v["version"] for v in index["versions"]] == ["2026-2027.0", "2026-2027.1"]
    assert index["versions"][1]["files"] == [*store.SIGNED_FILES, "vmlinuz", "manifest.json"]
    assert index["versions"][1]["sums_sha256"] == store.sha256_file(root / "2026-2027.1" / "SHA256SUMS")


def test_a_serveur_keeps_what_it_follows_and_the_previous_master_only(tmp_path):
    """Wave moved to 2027-2028: of 2026-2027 the newest ci master stays (the previous one), 2025-2026 and
    a profile no salle runs any more go."""
    stage = load_script(SOCLE_STAGE, "socle_stage")
    for version in ("2025-2026.4", "2026-2027.1", "2026-2027.2", "2027-2028.0"):
        for profile in ("ci", "old-profile"):
            folder = tmp_path / version.split(".")[0] / profile / version
            folder.mkdir(parents=True)
            (folder / stage.MARKER).write_text("{}")
    (tmp_path / "2026-2027" / "ci" / ".2026-2027.3.partial").mkdir()  # a staging under way is not a master
    removed = stage.prune_unfollowed(str(tmp_path), {("2027-2028", "ci")})
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.glob("*/*/*") if (p / stage.MARKER).exists())
    assert left == ["2026-2027/ci/2026-2027.2", "2027-2028/ci/2027-2028.0"]
    assert set(removed) == {"2025-2026/ci", "2026-2027/ci/2026-2027.1", "2025-2026/old-profile",
                            "2026-2027/old-profile", "2027-2028/old-profile"}  # fmt: skip
    assert stage.prune_unfollowed(str(tmp_path), {("2027-2028", "ci")}) == [], "a second night removes nothing"
