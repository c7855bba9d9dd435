"""Per-host administrator passwords in Ansible Vault: rotation in two steps, readable by ansible-vault."""

import os
import string
import subprocess
import sys

import pytest

from socle.core import vault as secrets
from socle.core.errors import SocleError
from tests.conftest import run_invoke


@pytest.fixture
def store(tmp_path, monkeypatch):
    vault_pass = tmp_path / "vault-pass"
    vault_pass.write_text("région-vault-password\n")
    env = {"SOCLE_SECRETS_DIR": str(tmp_path / "secrets"), "ANSIBLE_VAULT_PASSWORD_FILE": str(vault_pass)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def test_rotation_stores_encrypted_and_commits(store):
    first = secrets.rotate("0670001a-s101-p01")
    path = secrets.store_dir() / "0670001a-s101-p01.vault"
    raw = path.read_bytes()
    assert raw.startswith(b"$ANSIBLE_VAULT;1.1;AES256") and first.encode() not in raw
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    secrets.commit("0670001a-s101-p01")
    second = secrets.rotate("0670001a-s101-p01")
    secrets.commit("0670001a-s101-p01")
    data = secrets.read("0670001a-s101-p01")
    assert data["current"]["password"] == second != first == data["previous"]["password"]
    # the file is a plain Ansible Vault file: ansible-vault reads it with the same password file
    bindir = os.path.dirname(sys.executable)
    view = subprocess.run([os.path.join(bindir, "ansible-vault"), "view", str(path)], capture_output=True,
                          text=True, env={**os.environ, **store})  # fmt: skip
    assert view.returncode == 0 and second in view.stdout


def test_interrupted_rotation_loses_no_password(store):
    secrets.rotate("p02")
    secrets.commit("p02")
    lost = secrets.rotate("p02")  # the play died before commit: did the poste take it? unknown
    newer = secrets.rotate("p02")
    data = secrets.read("p02")
    assert data["pending"]["password"] == newer and data["unconfirmed"][0]["password"] == lost


def test_passwords_are_unique_and_meet_windows_complexity():
    seen = {secrets.generate_password() for _ in range(200)}
    assert len(seen) == 200
    for pw in seen:
        assert len(pw) == 20
        assert all(any(c in cls for c in pw) for cls in
                   (string.ascii_uppercase, string.ascii_lowercase, string.digits, secrets.SYMBOLS))  # fmt: skip


def test_wrong_vault_password_and_bad_host_are_clear(store, tmp_path, monkeypatch):
    secrets.rotate("p03")
    other = tmp_path / "other-pass"
    other.write_text("not the région's\n")
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(other))
    with pytest.raises(SocleError, match="cannot decrypt"):
        secrets.read("p03")
    with pytest.raises(SocleError, match="not a host name"):
        secrets.rotate("../etc/passwd")
    monkeypatch.delenv("ANSIBLE_VAULT_PASSWORD_FILE")
    with pytest.raises(SocleError, match="ANSIBLE_VAULT_PASSWORD_FILE"):
        secrets.rotate("p03")


def test_cmil_reads_a_password_and_the_reading_is_logged(store):
    pw = secrets.rotate("p04")
    secrets.commit("p04")
    proc = run_invoke("admin-password", "--host", "p04", env=store)
    assert proc.returncode == 0 and f"current : {pw}" in proc.stdout
    log = (secrets.store_dir() / "access.log").read_text()
    assert " read p04" in log
    missing = run_invoke("admin-password", "--host", "p99", env=store)
    assert missing.returncode == 2 and "no password stored for p99" in missing.stderr
    assert "Traceback" not in missing.stderr
