"""The Région's SSH identities: the controller's key (postes authorise it for the management account)
and the host certificate authority (postes' host keys are signed by it; controllers trust it).

Why host certificates on persistent host keys (docs/install.md): a poste keeps its host keys on its
persistent partition, so reimage and reset leave them unchanged; the installer's enrolment signs them
once with the Région's SSH CA. Every controller (a laptop, AWX, a lycée serveur in pull mode) then
verifies any poste with one ``@cert-authority`` line, with no per-poste known_hosts to keep in step
across 200,000 postes, and ``StrictHostKeyChecking`` stays on.

Production: ``SOCLE_SSH_KEY`` (the controller's private key, or a key held by ssh-agent: give its
path, the ``.pub`` next to it is used) and ``SOCLE_SSH_CA`` (the host CA's private key, kept
offline or on a token in production). Without them, a development identity is generated once in
``.cache/ssh/`` (never committed), and every command that uses it says so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

from rich.console import Console

from socle.core.errors import SocleError, StepFailed
from socle.core.paths import ROOT

DEV_DIR = ROOT / ".cache" / "ssh"
#: Principals of a host certificate are host names; controllers connect with HostKeyAlias=<inventory name>.
CERT_VALIDITY = "-5m:+1825d"


def _keygen(*args: str, what: str) -> str:
    if not shutil.which("ssh-keygen"):
        raise SocleError("ssh-keygen is not installed", hint="run './socle.sh setup' (package openssh-client)")
    proc = subprocess.run(["ssh-keygen", "-q", *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise StepFailed(f"{what} failed: {proc.stderr.strip()[-500:]}", hint="see docs/install.md (SSH identity)")
    return proc.stdout


def _dev_key(name: str, comment: str) -> Path:
    key = DEV_DIR / name
    if not key.exists():
        DEV_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
        _keygen("-t", "ed25519", "-N", "", "-C", comment, "-f", str(key), what=f"generating the development {name}")
    return key


@cache
def _say_dev(what: str) -> None:
    Console(stderr=True).print(
        f"ssh: using the development {what} in {DEV_DIR} (not for production: set SOCLE_SSH_KEY and SOCLE_SSH_CA)",
        markup=False,
    )


def _configured(variable: str) -> Path | None:
    value = os.environ.get(variable)
    if not value:
        return None
    path = Path(value)
    if not path.is_file() or not path.with_name(path.name + ".pub").is_file():
        raise SocleError(f"{variable}={value}: the key or its .pub is missing",
                         hint=f"point {variable} at a private key file with its .pub next to it")  # fmt: skip
    return path


def _identity(variable: str, name: str, what: str) -> Path:
    """The private key ``variable`` names, else the development one (generated once, announced)."""
    configured = _configured(variable)
    if configured:
        return configured
    _say_dev(what)
    return _dev_key(name, f"socle development {what} (not for production)")


def _public(key: Path) -> str:
    return key.with_name(key.name + ".pub").read_text().strip()


def controller_key() -> Path:
    """The private key the controller connects with (as the management account)."""
    return _identity("SOCLE_SSH_KEY", "controller", "controller key")


def controller_public() -> str:
    """The public key masters authorise for the management account."""
    return _public(controller_key())


def host_ca() -> Path:
    """The private key of the Région's SSH host certificate authority."""
    return _identity("SOCLE_SSH_CA", "host-ca", "SSH host CA")


def host_ca_public() -> str:
    return _public(host_ca())


def sign_host_key(public_key: str, hostname: str, workdir: Path) -> str:
    """A host certificate for ``hostname`` over ``public_key`` (one line, ``ssh-ed25519-cert-v01…``)."""
    fields = public_key.split()
    if len(fields) < 2 or not fields[0].startswith("ssh-"):
        raise StepFailed(f"{hostname}: not an SSH public key: {public_key[:60]!r}")
    workdir.mkdir(parents=True, exist_ok=True)
    pub = workdir / f"{hostname}.pub"
    pub.write_text(f"{fields[0]} {fields[1]}\n")
    _keygen("-s", str(host_ca()), "-h", "-I", f"socle-host-{hostname}", "-n", hostname, "-V", CERT_VALIDITY,
            str(pub), what=f"signing the host key of {hostname}")  # fmt: skip
    return (workdir / f"{hostname}-cert.pub").read_text().strip()


def known_hosts() -> Path:
    """The controller's known_hosts: one ``@cert-authority`` line for every poste and serveur.
    A lycée serveur in pull mode holds only that line, not the CA: ``SOCLE_SSH_KNOWN_HOSTS``."""
    given = os.environ.get("SOCLE_SSH_KNOWN_HOSTS")
    if given:
        return Path(given)
    target = (DEV_DIR if not os.environ.get("SOCLE_SSH_CA") else ROOT / ".cache" / "ssh-region") / "known_hosts"
    line = f"@cert-authority * {host_ca_public()}\n"
    if not target.exists() or target.read_text() != line:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        target.write_text(line)
    return target


def ansible_env() -> dict[str, str]:
    """What ansible-playbook needs to reach postes as the management account, host identity verified."""
    # ServerAlive: a poste that reboots or is switched off mid-command drops no FIN; without it the
    # ssh client (and the play) would wait for TCP keepalive, two hours
    ssh_args = (
        "-o ControlMaster=auto -o ControlPersist=60s -o ServerAliveInterval=10 -o ServerAliveCountMax=3 "
        f"-o StrictHostKeyChecking=yes -o UserKnownHostsFile={known_hosts()} -o IdentitiesOnly=yes"
    )
    return {"ANSIBLE_PRIVATE_KEY_FILE": str(controller_key()), "ANSIBLE_SSH_ARGS": ssh_args,
            "ANSIBLE_HOST_KEY_CHECKING": "True"}  # fmt: skip
