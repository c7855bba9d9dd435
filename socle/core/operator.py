"""Who runs an operation: the operator's identity, signed by the Région (docs/review.md).

Records say who reimaged a salle, and the monthly review counts interventions per contractor: so
"who" cannot come from ``$USER`` or ``$SUDO_USER``, which anyone sets. Each operator (a CMIL, a
contractor's technician, regional IT) holds an SSH key whose certificate the Région's operator CA
signed: the certificate's key ID names the person, one principal says the role (``cmil``,
``regional-it``, or ``contractor:<company>``), and its validity bounds the contract.

At each command socle signs a fresh nonce with that key (``ssh-keygen -Y sign``: the private key, or
ssh-agent) and verifies the signature against the CA (``ssh-keygen -Y verify`` with a
``cert-authority`` line): the operator holds the key, the CA signed its certificate, and the
certificate is valid now. The name and serial recorded are read from the certificate inside that
signature, never from a file read again afterwards. Nothing else is trusted.

Production: ``SOCLE_OPERATOR_KEY`` (the operator's key; its ``-cert.pub`` next to it), and the
operator CA's public key **pinned** in :data:`PINNED_CA` (``/etc/socle/operator-ca.pub``), a file
root owns and nobody else may write, as its folders: never the environment, where an operator could
name a CA of their own. Only with the development switch (``SOCLE_DEV_SIGNING=1``: ``--dev-signing``,
the test suite) and no key given, a development CA and key are generated once in ``.cache/ssh/``:
the role is ``development`` (never ``regional-it``) and every command says so.
"""

from __future__ import annotations

import base64
import getpass
import os
import re
import secrets
import shutil
import socket
import stat
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from rich.console import Console

from socle.core import signing
from socle.core.errors import SocleError
from socle.core.paths import ROOT

DEV_DIR = ROOT / ".cache" / "ssh"
NAMESPACE = "socle-operator"
#: the Région's operator CA, pinned by regional IT on each controller (root-owned, not writable by others)
PINNED_CA = Path("/etc/socle/operator-ca.pub")
#: role principals a certificate may carry; a contractor's names its company
ROLES = ("cmil", "regional-it", "contractor")
_PRINCIPAL = re.compile(r"^(cmil|regional-it|contractor:[a-z0-9][a-z0-9-]{0,40})$")
#: the development CA's only principal: records made with it are never a Région role
DEV_ROLE = "development"


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
    """The development operator CA and key (generated once; the key ID is the login, the role
    ``development``)."""
    ca, key = DEV_DIR / "dev-operator-ca", DEV_DIR / "dev-operator"
    DEV_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
    for path, comment in ((ca, "socle development operator CA"), (key, "socle development operator")):
        if not path.exists():
            _keygen("-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path), what="generating " + comment)
    cert = key.with_name(key.name + "-cert.pub")
    if not cert.exists():
        login = re.sub(r"[^a-z0-9._-]", "-", getpass.getuser().lower())[:40] or "operator"
        _keygen("-q", "-s", str(ca), "-I", f"dev-{login}", "-n", DEV_ROLE, "-V", "-5m:+3650d",
                str(key.with_name(key.name + ".pub")), what="signing the development operator key")  # fmt: skip
    return key, ca.with_name(ca.name + ".pub")


def pinned_ca(path: Path | None = None) -> Path:
    """The pinned operator CA, refused unless root owns it and nobody else may write it or its folders."""
    path = path or PINNED_CA
    if not path.is_file():
        raise SocleError(f"no operator CA pinned in {path}",
                         hint="regional IT installs the Région's operator CA public key there (root, mode 0644); "
                              "for development only: SOCLE_DEV_SIGNING=1")  # fmt: skip
    for part in (path, *path.parents):
        info = part.stat()
        if info.st_uid != 0 or (
            info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not (part.is_dir() and info.st_mode & stat.S_ISVTX)
        ):
            raise SocleError(f"{part}: the operator CA must be root's and written by root only",
                             hint=f"chown root:root {part} && chmod go-w {part}")  # fmt: skip
    return path


def _configured() -> tuple[Path, Path] | None:
    if os.environ.get("SOCLE_OPERATOR_CA"):
        raise SocleError("SOCLE_OPERATOR_CA is no longer read: the operator CA is pinned in " + str(PINNED_CA),
                         hint="unset SOCLE_OPERATOR_CA; regional IT installs the CA's public key there")  # fmt: skip
    key = os.environ.get("SOCLE_OPERATOR_KEY")
    if not key:
        return None
    cert = Path(key + "-cert.pub")
    if not cert.is_file():
        raise SocleError(f"the operator's certificate is missing: {cert}",
                         hint="ask regional IT for a certificate of the operator CA (docs/review.md)")  # fmt: skip
    return Path(key), pinned_ca()


def signed_certificate(signature: Path) -> str:
    """The certificate inside an SSH signature (what really signed), as a ``-cert.pub`` line."""
    lines = [x for x in signature.read_text().splitlines() if x and not x.startswith("-----")]
    blob = base64.b64decode("".join(lines))
    if blob[:6] != b"SSHSIG" or len(blob) < 14:
        raise SocleError("not an SSH signature", where=str(signature))
    (size,) = struct.unpack(">I", blob[10:14])
    key = blob[14 : 14 + size]
    (kind_size,) = struct.unpack(">I", key[:4])
    return f"{key[4 : 4 + kind_size].decode('ascii', 'replace')} {base64.b64encode(key).decode()}"


def _field(listing: str, name: str) -> str:
    found = re.search(rf"^\s*{name}:\s*(.*)$", listing, re.M)
    return found.group(1).strip() if found else ""


def verify(key: Path, ca_pub: Path, *, development: bool = False) -> Operator:
    """Prove that whoever runs this holds ``key`` and that the CA signed its certificate, valid now.
    ``development``: the development CA's certificate, whose only role is ``development``."""
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
        accepted = re.compile(f"^{DEV_ROLE}$") if development else _PRINCIPAL
        principals = [p for p in found.stdout.split() if accepted.match(p)] if found.returncode == 0 else []
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
        inside = Path(tmp) / "signer-cert.pub"
        inside.write_text(signed_certificate(Path(sig)) + "\n")
        listing = _keygen("-L", "-f", str(inside), what="reading the certificate").stdout
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
    if not signing.dev_signing_allowed():
        raise SocleError("no operator identity: SOCLE_OPERATOR_KEY is not set",
                         hint="your key with its certificate from the Région's operator CA (docs/review.md); "
                              "for development only: SOCLE_DEV_SIGNING=1")  # fmt: skip
    key, ca_pub = _dev_identity()
    found = verify(key, ca_pub, development=True)
    Console(stderr=True).print(
        f"operator: development identity {found.name} in {DEV_DIR}, role {DEV_ROLE} (not for production: set "
        f"SOCLE_OPERATOR_KEY, the CA pinned in {PINNED_CA})", markup=False,
    )  # fmt: skip
    return Operator(found.name, DEV_ROLE, "region", "development")
