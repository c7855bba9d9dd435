"""OpenPGP signatures of masters: the build signs SHA256SUMS, postes verify with sqv or gpgv.

Why OpenPGP (gpg to sign, sqv/gpgv to verify) rather than signify: every Debian poste already
carries an OpenPGP verifier for apt (``sqv`` on trixie, ``gpgv`` before), so verification needs
no new package on the poste; the Région's key can live on a smartcard (gpg-agent); and the same
keyring format serves the lycée apt cache.

Production: ``SOCLE_SIGNING_GNUPGHOME`` (a GnuPG home holding, or pointing by gpg-agent to, the
Région's key) and ``SOCLE_SIGNING_KEY`` (its fingerprint). Without them, a development key is
generated once in ``.cache/signing/`` (never committed) and the build says so.
"""

from __future__ import annotations

import os
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
        raise SocleError("gpg is not installed", hint="run 'invoke setup' (package gnupg)")
    proc = subprocess.run(["gpg", "--batch", "--homedir", str(home), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise StepFailed(f"{what} failed: {proc.stderr.strip()[-800:]}", hint="check the signing key (docs/reimage.md)")
    return proc.stdout


def signer() -> tuple[Path, str]:
    """The GnuPG home and key that sign masters (the development key if none is configured)."""
    home = os.environ.get("SOCLE_SIGNING_GNUPGHOME")
    if home:
        key = os.environ.get("SOCLE_SIGNING_KEY")
        if not key:
            raise SocleError(
                "SOCLE_SIGNING_GNUPGHOME is set but SOCLE_SIGNING_KEY (the fingerprint) is not",
                hint="export SOCLE_SIGNING_KEY=<fingerprint of the Région's master-signing key>",
            )
        return Path(home), key
    if not (DEV_HOME / "fingerprint").exists():
        DEV_HOME.mkdir(parents=True, exist_ok=True, mode=0o700)
        _gpg(DEV_HOME, "--passphrase", "", "--quick-gen-key", DEV_UID, "ed25519", "sign", "never",
             what="generating the development signing key")  # fmt: skip
        out = _gpg(DEV_HOME, "--with-colons", "--list-secret-keys", what="listing the development key")
        fpr = next(ln.split(":")[9] for ln in out.splitlines() if ln.startswith("fpr:"))
        (DEV_HOME / "fingerprint").write_text(fpr + "\n")
        Console(stderr=True).print(f"signing: generated a development key in {DEV_HOME} (set SOCLE_SIGNING_GNUPGHOME "
                                   "and SOCLE_SIGNING_KEY for production)", markup=False)  # fmt: skip
    return DEV_HOME, (DEV_HOME / "fingerprint").read_text().strip()


def sign(path: Path) -> Path:
    """Write ``<path>.asc``, an armored detached signature."""
    home, key = signer()
    target = path.with_name(path.name + ".asc")
    _gpg(home, "--yes", "--armor", "--local-user", key, "--detach-sign", "--output", str(target), str(path),
         what=f"signing {path.name}")  # fmt: skip
    return target


def public_key() -> str:
    """The armored public key postes trust (installed by the reimage_client role)."""
    home, key = signer()
    return _gpg(home, "--armor", "--export", key, what="exporting the public key")


def verify(path: Path, signature: Path, keyring: Path) -> None:
    """Check a detached signature against an armored public key (what a poste does with sqv)."""
    with tempfile.TemporaryDirectory(prefix="socle-gpg-") as scratch:  # mode 0700, as gpg wants
        home = Path(scratch)
        _gpg(home, "--import", str(keyring), what="importing the public key")
        _gpg(home, "--verify", str(signature), str(path), what=f"verifying {path.name}")
