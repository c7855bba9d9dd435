"""Enrolment: the moment a freshly installed poste's host key becomes trusted (docs/install.md).

The installer leaves the poste with a new host key on its persistent partition, and the one-time
secret `invoke install` made for this poste's MAC (handed to it by the iPXE script of that MAC only).
Inside the armed window the controller connects with ``StrictHostKeyChecking=accept-new`` into this
run's own known_hosts and sends a fresh nonce; the poste answers with its host key and
HMAC-SHA256(secret, nonce + host key) (``socle-enrol-proof``). Whatever answers at the poste's
address without the secret (a neighbour, a machine armed by nobody) gets nothing signed: no
trust-on-first-use. The controller then signs the host key with the Région's SSH host CA for the
poste's inventory name, deletes the secret on the poste, and installs the certificate, with the
poste's établissement (``uai`` beside the key: its own serveur's pull-mode certificate is accepted
there, for the forced collector only). From then on every
controller verifies the poste through the CA, and a reimage or a reset keeps the key (and so the
certificate and the établissement).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from socle.core import sshid

IDENTITY = "/var/lib/socle/data/identity/ssh_host_ed25519_key"
UAI_FILE = "/var/lib/socle/data/identity/uai"
TOKEN_FILE = "/var/lib/socle/data/identity/enrol-token"
_ANSWER = re.compile(r"^(ssh-[a-z0-9-]+) ([A-Za-z0-9+/=]{16,1024}) ([0-9a-f]{64})$")


def new_token() -> str:
    """The one-time enrolment secret of one poste (armed with its MAC)."""
    return secrets.token_hex(16)


def proof(token: str, nonce: str, host_key: str) -> str:
    """What the poste must answer: HMAC-SHA256(token, "<nonce> <type> <base64>")."""
    return hmac.new(token.encode(), f"{nonce} {host_key}".encode(), hashlib.sha256).hexdigest()


@dataclass
class Enrolled:
    host: str
    ok: bool
    detail: str
    retry: bool = False  # the poste answered, but not yet from its disk: ask again later


def _ssh(account: str, address: str, alias: str, options: list[str], command: str,
         stdin: str | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    cmd = ["ssh", "-i", str(sshid.controller_key()), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
           "-o", "ConnectTimeout=20", "-o", f"HostKeyAlias={alias}", *options, f"{account}@{address}",
           command]  # fmt: skip
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120,
                          stdin=None if stdin is not None else subprocess.DEVNULL)  # fmt: skip


def _presented(known_hosts: Path, alias: str) -> str:
    """The key the first connection recorded for ``alias`` (type and base64; the file may be hashed)."""
    found = subprocess.run(["ssh-keygen", "-F", alias, "-f", str(known_hosts)], capture_output=True, text=True)
    for line in found.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 3 and not line.startswith("#"):
            return f"{fields[1]} {fields[2]}"
    return ""


def install_identity_command(uai: str) -> str:
    """The shell command (run as the management account, the certificate on stdin) that installs a host
    certificate and the établissement, then writes the principals again and reloads sshd."""
    sshid.serveur_principal(uai)  # a UAI, nothing a shell could read otherwise
    return (
        f"sudo tee {IDENTITY}-cert.pub >/dev/null && echo {uai} | sudo tee {UAI_FILE} >/dev/null"
        f" && sudo rm -f {TOKEN_FILE} && sudo /usr/local/sbin/socle-host-identity && sudo systemctl reload ssh"
    )


def enrol(host: str, address: str, account: str, run_dir: Path, uai: str, token: str) -> Enrolled:
    """Sign the host key ``host`` presents at ``address`` once it proved ``token`` (its armed
    install's secret), and install the certificate on it, with the établissement ``uai``."""
    tofu = run_dir / f"known_hosts.enrolment-{host}"
    first = ["-o", "StrictHostKeyChecking=accept-new", "-o", f"UserKnownHostsFile={tofu}"]
    nonce = secrets.token_hex(16)
    ask = f"grep -q socle.slot= /proc/cmdline || exit 10; sudo /usr/local/sbin/socle-enrol-proof {nonce}"
    pub = _ssh(account, address, host, first, ask)
    if pub.returncode == 10:
        return Enrolled(host, False, "not booted from its disk yet", retry=True)
    if pub.returncode != 0:
        return Enrolled(host, False, f"no enrolment proof: {pub.stderr.strip()[-300:]}")
    answer = _ANSWER.match(pub.stdout.strip())
    if not answer:
        return Enrolled(host, False, "the enrolment proof is not one (a host key and an HMAC)")
    offered = f"{answer.group(1)} {answer.group(2)}"
    if not hmac.compare_digest(answer.group(3), proof(token, nonce, offered)):
        return Enrolled(host, False, "the machine at this address does not hold the secret of this poste's "
                                     "armed install: nothing signed")  # fmt: skip
    presented = _presented(tofu, host)
    if not presented or presented != offered:
        return Enrolled(host, False, "the key the connection presented is not the poste's identity key")
    cert = sshid.sign_host_key(offered, host, run_dir / "certs")
    pinned = ["-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={tofu}"]
    put = _ssh(account, address, host, pinned, install_identity_command(uai), stdin=cert + "\n")
    if put.returncode != 0:
        return Enrolled(host, False, f"cannot install the certificate: {put.stderr.strip()[-300:]}")
    # the proof: the poste now passes the check every controller makes (the CA only, strict)
    strict = ["-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={sshid.known_hosts()}"]
    for _ in range(10):  # sshd re-executes on reload: its port is closed for a moment
        check = _ssh(account, address, host, strict, "true")
        if check.returncode == 0 or "Connection refused" not in check.stderr:
            break
        time.sleep(1)
    if check.returncode != 0:
        return Enrolled(host, False, f"the certificate does not verify: {check.stderr.strip()[-300:]}")
    return Enrolled(host, True, f"host certificate for {host} ({offered.split()[0]})")
