"""Master signatures: what the build signs, a poste's verifier accepts; anything altered is refused."""

from __future__ import annotations

import subprocess

import pytest

from socle.core import signing
from socle.core.errors import SocleError, StepFailed


@pytest.fixture
def dev_key(tmp_path, monkeypatch):
    monkeypatch.delenv("SOCLE_SIGNING_GNUPGHOME", raising=False)
    monkeypatch.setattr(signing, "DEV_HOME", tmp_path / "gnupg")
    yield tmp_path
    subprocess.run(["gpgconf", "--homedir", str(tmp_path / "gnupg"), "--kill", "gpg-agent"], check=False)


def test_signed_sums_verify_and_altered_ones_do_not(dev_key):
    sums = dev_key / "SHA256SUMS"
    sums.write_text("0" * 64 + "  rootfs.squashfs\n")
    sig = signing.sign(sums)
    key = dev_key / "masters.asc"
    key.write_text(signing.public_key())
    assert "BEGIN PGP PUBLIC KEY BLOCK" in key.read_text() and sig.name == "SHA256SUMS.asc"
    signing.verify(sums, sig, key)
    sums.write_text("1" * 64 + "  rootfs.squashfs\n")
    with pytest.raises(StepFailed, match="verifying SHA256SUMS failed"):
        signing.verify(sums, sig, key)
    assert signing.signer()[1] == (dev_key / "gnupg" / "fingerprint").read_text().strip()  # generated once


def test_production_key_needs_its_fingerprint(monkeypatch, tmp_path):
    monkeypatch.setenv("SOCLE_SIGNING_GNUPGHOME", str(tmp_path))
    monkeypatch.delenv("SOCLE_SIGNING_KEY", raising=False)
    with pytest.raises(SocleError, match="SOCLE_SIGNING_KEY"):
        signing.signer()
