"""OpenPGP signatures of masters: the build signs SHA256SUMS, postes verify with sqv or gpgv.

Why OpenPGP (gpg to sign, sqv/gpgv to verify) rather than signify: every Debian poste already
carries an OpenPGP verifier for apt (``sqv`` on trixie, ``gpgv`` before), so verification needs
no new package on the poste; the Région's key can live on a smartcard (gpg-agent); and the same
keyring format serves the lycée apt cache.

Production: ``SOCLE_SIGNING_GNUPGHOME`` (a GnuPG home holding, or pointing by gpg-agent to, the
Région's key) and ``SOCLE_SIGNING_KEY`` (its fingerprint). Without them nothing is signed, unless a
development build is asked for explicitly (``invoke build-master --dev-signing`` or
``SOCLE_DEV_SIGNING=1``): a development key, without passphrase, is generated once in
``.cache/signing/`` (never committed) and every command that uses it says so.

Postes pin fingerprints, not just a keyring: the masters they accept are signed by one of
:func:`trusted_fingerprints`. Key rotation (docs/security.md) adds the next key with
``SOCLE_SIGNING_TRUST`` (fingerprints trusted besides the signing key, their public keys in the same
GnuPG home), rolls masters out that trust both, switches ``SOCLE_SIGNING_KEY``, then drops the old one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from rich.console import Console

from socle.core.errors import SocleError, StepFailed
from socle.core.paths import ROOT

DEV_HOME = ROOT / ".cache" / "signing" / "gnupg"
DEV_UID = "socle development signing key (not for production) <socle-dev@localhost>"


def _gpg(home: Path, *args: str, what: str) -> str:
    if not shutil.which("gpg"):
        raise SocleError("gpg is not installed", hint="run './socle.sh setup' (package gnupg)")
    proc = subprocess.run(["gpg", "--batch", "--homedir", str(home), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise StepFailed(f"{what} failed: {proc.stderr.strip()[-800:]}", hint="check the signing key (docs/reimage.md)")
    return proc.stdout


_FPR = re.compile(r"[0-9A-F]{40}|[0-9A-F]{64}")
_announced = False


def dev_signing_allowed() -> bool:
    """A development build was asked for explicitly (``--dev-signing`` sets ``SOCLE_DEV_SIGNING=1``)."""
    return os.environ.get("SOCLE_DEV_SIGNING", "") in {"1", "yes", "true"}


def signer() -> tuple[Path, str]:
    """The GnuPG home and key that sign masters (the development key only when asked for)."""
    global _announced
    home = os.environ.get("SOCLE_SIGNING_GNUPGHOME")
    if home:
        key = os.environ.get("SOCLE_SIGNING_KEY")
        if not key:
            raise SocleError(
                "SOCLE_SIGNING_GNUPGHOME is set but SOCLE_SIGNING_KEY (the fingerprint) is not",
                hint="export SOCLE_SIGNING_KEY=<fingerprint of the Région's master-signing key>",
            )
        if not _FPR.fullmatch(key.upper()):
            raise SocleError(f"SOCLE_SIGNING_KEY '{key[:50]}' is not a full fingerprint",
                             hint="give the 40 (v4) or 64 (v6) hex digits of the key, no spaces")  # fmt: skip
        return Path(home), key.upper()
    if not dev_signing_allowed():
        raise SocleError(
            "no master-signing key: SOCLE_SIGNING_GNUPGHOME and SOCLE_SIGNING_KEY are not set",
            hint="set them to the Région's key; for a development build only, pass --dev-signing (SOCLE_DEV_SIGNING=1)",
        )
    if not (DEV_HOME / "fingerprint").exists():
        DEV_HOME.mkdir(parents=True, exist_ok=True, mode=0o700)
        _gpg(DEV_HOME, "--passphrase", "", "--quick-gen-key", DEV_UID, "ed25519", "sign", "never",
             what="generating the development signing key")  # fmt: skip
        out = _gpg(DEV_HOME, "--with-colons", "--list-secret-keys", what="listing the development key")
        fpr = next(ln.split(":")[9] for ln in out.splitlines() if ln.startswith("fpr:"))
        (DEV_HOME / "fingerprint").write_text(fpr + "\n")
    if not _announced:  # every command that signs with it says so, not only the one that made it
        Console(stderr=True).print(f"signing: DEVELOPMENT key of {DEV_HOME} (no passphrase): not for production; "
                                   "only postes built with it trust what it signs", markup=False)  # fmt: skip
        _announced = True
    return DEV_HOME, (DEV_HOME / "fingerprint").read_text().strip()


def trusted_fingerprints() -> list[str]:
    """The fingerprints postes accept: the signing key, then ``SOCLE_SIGNING_TRUST`` (rotation)."""
    _, key = signer()
    extra = [f.strip().upper() for f in os.environ.get("SOCLE_SIGNING_TRUST", "").replace(",", " ").split()]
    bad = [f for f in extra if not _FPR.fullmatch(f)]
    if bad:
        raise SocleError(f"SOCLE_SIGNING_TRUST holds '{bad[0][:50]}', not a fingerprint",
                         hint="list full fingerprints separated by spaces or commas")  # fmt: skip
    return list(dict.fromkeys([key, *extra]))


def sign(path: Path) -> Path:
    """Write ``<path>.asc``, an armored detached signature."""
    home, key = signer()
    target = path.with_name(path.name + ".asc")
    _gpg(home, "--yes", "--armor", "--local-user", key, "--detach-sign", "--output", str(target), str(path),
         what=f"signing {path.name}")  # fmt: skip
    return target


def public_key() -> str:
    """The armored public keys postes trust (installed by the reimage_client role), pinned by fingerprint."""
    home, _ = signer()
    fprs = trusted_fingerprints()
    listed = _gpg(home, "--with-colons", "--list-keys", what="listing the keys")
    found = {ln.split(":")[9] for ln in listed.splitlines() if ln.startswith("fpr:")}
    missing = [f for f in fprs if f not in found]
    if missing:
        raise SocleError(f"no public key for trusted fingerprint {missing[0]} in {home}",
                         hint="import it (gpg --import) before listing it in SOCLE_SIGNING_TRUST")  # fmt: skip
    return _gpg(home, "--armor", "--export", *fprs, what="exporting the public keys")


def verify(path: Path, signature: Path, keyring: Path) -> None:
    """Check a detached signature against an armored public key (what a poste does with sqv)."""
    with tempfile.TemporaryDirectory(prefix="socle-gpg-") as scratch:  # mode 0700, as gpg wants
        home = Path(scratch)
        _gpg(home, "--import", str(keyring), what="importing the public key")
        _gpg(home, "--verify", str(signature), str(path), what=f"verifying {path.name}")
