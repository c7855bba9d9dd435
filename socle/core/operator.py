"""Who runs an operation: the operator's identity, signed by the Région (docs/review.md).

Records say who reimaged a salle, and the monthly review counts interventions per contractor: so
"who" cannot come from ``$USER`` or ``$SUDO_USER``, which anyone sets. Each operator (a CMIL, a
contractor's technician, regional IT) holds an SSH key whose certificate the Région's operator CA
signed: the certificate's key ID names the person, one principal says the role (``cmil``,
``regional-it``, or ``contractor:<company>``), and its validity bounds the contract.

At each command socle signs a fresh nonce with that key (``ssh-keygen -Y sign``: the private key, or
ssh-agent) and verifies the signature against the CA (``ssh-keygen -Y verify`` with a
``cert-authority`` line): the operator holds the key, the CA signed its certificate, and the
certificate is valid now. Nothing else is trusted.

Production: ``SOCLE_OPERATOR_KEY`` (the operator's key; its ``-cert.pub`` next to it) and
``SOCLE_OPERATOR_CA`` (the operator CA's public key). Without them, a development operator CA and
key are generated once in ``.cache/ssh/`` and every command says so (``proof: development``).
"""

from __future__ import annotations

import getpass
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from rich.console import Console

from socle.core.errors import SocleError
from socle.core.paths import ROOT

DEV_DIR = ROOT / ".cache" / "ssh"
NAMESPACE = "socle-operator"
#: role principals a certificate may carry; a contractor's names its company
ROLES = ("cmil", "regional-it", "contractor")
_PRINCIPAL = re.compile(r"^(cmil|regional-it|contractor:[a-z0-9][a-z0-9-]{0,40})$")


@dataclass(frozen=True)
class Operator:
    name: str  # the certificate's key ID: the person
    role: str  # cmil | regional-it | contractor
    organisation: str  # the contractor's company, else "region"
    proof: str  # "certificate <serial> (CA <fingerprint>)" or "development"


def _keygen(*args: str, what: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    if not shutil.which("ssh-keygen"):
        raise SocleError("ssh-keygen is not installed", hint="run './socle.sh setup' (package openssh-client)")
    return subprocess.run(["ssh-keygen", *args], input=stdin, capture_output=True, text=True, timeout=60,
                          stdin=None if stdin is not None else subprocess.DEVNULL)  # fmt: skip


def _dev_identity() -> tuple[Path, Path]:
    """The development operator CA and key (generated once; the key ID is the login: development only)."""
    ca, key = DEV_DIR / "operator-ca", DEV_DIR / "operator"
    DEV_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
    for path, comment in ((ca, "socle development operator CA"), (key, "socle development operator")):
        if not path.exists():
            _keygen("-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path), what="generating " + comment)
    cert = key.with_name(key.name + "-cert.pub")
    if not cert.exists():
        login = re.sub(r"[^a-z0-9._-]", "-", getpass.getuser().lower())[:40] or "operator"
        _keygen("-q", "-s", str(ca), "-I", f"dev-{login}", "-n", "regional-it", "-V", "-5m:+3650d",
                str(key.with_name(key.name + ".pub")), what="signing the development operator key")  # fmt: skip
    return key, ca.with_name(ca.name + ".pub")


def _configured() -> tuple[Path, Path] | None:
    key, ca = os.environ.get("SOCLE_OPERATOR_KEY"), os.environ.get("SOCLE_OPERATOR_CA")
    if not key and not ca:
        return None
    if not (key and ca):
        raise SocleError("SOCLE_OPERATOR_KEY and SOCLE_OPERATOR_CA go together",
                         hint="the operator's key (-cert.pub beside it) and the operator CA's public key")  # fmt: skip
    cert = Path(key + "-cert.pub")
    for path, what in ((cert, "the operator's certificate"), (Path(ca), "the operator CA's public key")):
        if not path.is_file():
            raise SocleError(f"{what} is missing: {path}",
                             hint="ask regional IT for a certificate of the operator CA (docs/review.md)")  # fmt: skip
    return Path(key), Path(ca)


def _field(listing: str, name: str) -> str:
    found = re.search(rf"^\s*{name}:\s*(.*)$", listing, re.M)
    return found.group(1).strip() if found else ""


def verify(key: Path, ca_pub: Path) -> Operator:
    """Prove that whoever runs this holds ``key`` and that the CA signed its certificate, valid now."""
    cert = key.with_name(key.name + "-cert.pub")
    with tempfile.TemporaryDirectory(prefix="socle-operator-") as tmp:
        nonce = Path(tmp) / "nonce"
        nonce.write_text(secrets.token_hex(32))
        signed = _keygen("-Y", "sign", "-n", NAMESPACE, "-f", str(cert), str(nonce), what="signing")
        if signed.returncode != 0:
            raise SocleError(f"cannot sign with the operator key {key}: {signed.stderr.strip()[-300:]}",
                             hint="the private key (or ssh-agent holding it) must be available; no passphrase "
                                  "prompt can be answered here: load it into ssh-agent")  # fmt: skip
        allowed = Path(tmp) / "allowed_signers"
        allowed.write_text(f"* cert-authority {ca_pub.read_text().strip()}\n")
        sig = str(nonce) + ".sig"
        found = _keygen("-Y", "find-principals", "-f", str(allowed), "-s", sig, what="reading the principals")
        principals = [p for p in found.stdout.split() if _PRINCIPAL.match(p)] if found.returncode == 0 else []
        if not principals:
            raise SocleError(f"the operator certificate {cert} is not accepted: "
                             f"{(found.stderr.strip() or 'no role principal')[-300:]}",
                             hint="it must be signed by the Région's operator CA, be valid today, and name one "
                                  "role: cmil, regional-it or contractor:<company>")  # fmt: skip
        checked = _keygen("-Y", "verify", "-f", str(allowed), "-I", principals[0], "-n", NAMESPACE, "-s", sig,
                          what="verifying", stdin=nonce.read_text())  # fmt: skip
        if checked.returncode != 0:
            raise SocleError(f"the operator signature does not verify: {checked.stderr.strip()[-300:]}",
                             hint="the key and its certificate do not match")  # fmt: skip
    listing = _keygen("-L", "-f", str(cert), what="reading the certificate").stdout
    role, _, company = principals[0].partition(":")
    ca_fp = _keygen("-l", "-f", str(ca_pub), what="fingerprint").stdout.split()[1:2]
    return Operator(_field(listing, "Key ID").strip('"'), role, company or "region",
                    f"certificate {_field(listing, 'Serial')} (CA {''.join(ca_fp)})")  # fmt: skip


def unattended() -> Operator:
    """The identity of a check that changes nothing and runs on a schedule (the nightly conformity): the
    machine that ran it."""
    return Operator(socket.gethostname(), "schedule", "region", "unattended check (changes nothing)")


@cache
def current() -> Operator:
    """The operator running this process (checked once per process)."""
    configured = _configured()
    if configured:
        return verify(*configured)
    key, ca_pub = _dev_identity()
    found = verify(key, ca_pub)
    Console(stderr=True).print(
        f"operator: development identity {found.name} in {DEV_DIR} (not for production: set SOCLE_OPERATOR_KEY "
        "and SOCLE_OPERATOR_CA)", markup=False,
    )  # fmt: skip
    return Operator(found.name, found.role, found.organisation, "development")
