"""The Région's SSH identities: two certificate authorities and the keys they sign.

- The **host CA** signs postes' and serveurs' host keys; controllers trust it (``@cert-authority``).
- The **user CA** signs the keys that may log in as the management account. A machine trusts the
  user CA with *principals* (docs/security.md, "Who can reach a machine"): ``region`` (the Région's
  controllers: AWX, regional IT) gets the account with sudo; ``serveur-<UAI>`` (the pull-mode key of
  that établissement's serveur, and only on that établissement's machines) gets one forced command,
  ``socle-collect`` (the conformity snapshot, or switching off a poste nobody uses), never a shell.
  No key is authorised as such any more: one stolen serveur key no longer opens the Région.

Why host certificates on persistent host keys (docs/install.md): a poste keeps its host keys on its
persistent partition, so reimage and reset leave them unchanged; the installer's enrolment signs them
once with the Région's SSH CA. Every controller (a laptop, AWX, a lycée serveur in pull mode) then
verifies any poste with one ``@cert-authority`` line, with no per-poste known_hosts to keep in step
across 200,000 postes, and ``StrictHostKeyChecking`` stays on.

Production: ``SOCLE_SSH_KEY`` (the controller's private key, or a key held by ssh-agent: give its
path, the ``.pub`` next to it is used, and its certificate ``<key>-cert.pub`` with the ``region``
principal), ``SOCLE_SSH_CA`` (the host CA's private key) and ``SOCLE_SSH_USER_CA`` (the user CA's
private key), both kept on the Région's controller only. Without them, a development identity is
generated once in ``.cache/ssh/`` (never committed), and every command that uses it says so.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from functools import cache
from pathlib import Path

from rich.console import Console

from socle.core.errors import SocleError, StepFailed
from socle.core.files import write_atomic
from socle.core.paths import ROOT
from socle.core.uai import problem as uai_problem

DEV_DIR = ROOT / ".cache" / "ssh"
#: Principals of a host certificate are host names; controllers connect with HostKeyAlias=<inventory name>.
CERT_VALIDITY = "-5m:+1825d"
#: The principal of the Région's controllers (AWX, regional IT): the management account with sudo.
REGION_PRINCIPAL = "region"
#: The one command a serveur's pull-mode certificate may run on its établissement's machines.
COLLECT_COMMAND = "/usr/local/sbin/socle-collect"
#: A controller certificate lasts a week (renewed at each use); a serveur's 90 days, renewed by
#: playbooks/pull-mode.yml once fewer than 30 remain. Rotation of the CA: docs/security.md.
CONTROLLER_VALIDITY_S = 7 * 86400
PULL_VALIDITY_DAYS = 90
PULL_RENEW_DAYS = 30


def serveur_principal(uai: str) -> str:
    """The principal a lycée serveur's pull-mode certificate carries: its own établissement only."""
    # letters and digits only (it goes into a principal and a shell line), then the UAI's own checks
    why = uai_problem(uai) if uai.isascii() and uai.isalnum() else "not 7 digits and a letter"
    if why:
        raise SocleError(f"'{uai[:20]}' is not a UAI: {why}", hint="7 digits and a check letter, e.g. 0671234C")
    return f"serveur-{uai}"


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
        f"ssh: using the development {what} in {DEV_DIR} (not for production: set SOCLE_SSH_KEY, SOCLE_SSH_CA "
        "and SOCLE_SSH_USER_CA)",
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
    """The private key the controller connects with (as the management account); its certificate
    (``<key>-cert.pub``, which ssh loads with the key) is renewed here when it is missing, names
    another principal or expires within a day and the user CA is at hand (development, or
    ``SOCLE_SSH_USER_CA`` on the Région's controller). A lycée serveur holds only its own key and
    certificate (``playbooks/pull-mode.yml`` renews them)."""
    key = _identity("SOCLE_SSH_KEY", "controller", "controller key")
    cert = key.with_name(key.name + "-cert.pub")
    can_sign = bool(os.environ.get("SOCLE_SSH_USER_CA")) or not os.environ.get("SOCLE_SSH_KEY")
    current = certificate_facts(cert.read_text()) if can_sign and cert.is_file() else {}
    if can_sign and not _still_valid(current, _public(key), REGION_PRINCIPAL, CONTROLLER_VALIDITY_S // 7):
        signed = sign_user_key(_public(key), key_id="socle-controller", principals=[REGION_PRINCIPAL],
                               validity_s=CONTROLLER_VALIDITY_S)  # fmt: skip
        write_atomic(cert, signed + "\n", mode=0o644)  # two runs at once never read half a certificate
    if not cert.is_file():
        raise SocleError(f"{cert}: no certificate for the key {key}", hint="the Région signs it: "
                         "python -m socle.core.sshid sign-controller (docs/security.md)")  # fmt: skip
    return key


def user_ca() -> Path:
    """The private key of the Région's SSH user certificate authority."""
    return _identity("SOCLE_SSH_USER_CA", "user-ca", "SSH user CA")


def user_ca_public() -> str:
    """The public key masters trust for the management account (with principals)."""
    return _public(user_ca())


def certificate_facts(cert_text: str) -> dict[str, object]:
    """What ``ssh-keygen -L`` says of a certificate: key fingerprint, principals, end of validity
    (a UTC datetime, or None for "forever"), forced command. Empty for anything that is not one."""
    if not cert_text.strip():
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c-cert.pub"
        path.write_text(cert_text.strip() + "\n")
        proc = subprocess.run(["ssh-keygen", "-L", "-f", str(path)], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL)  # fmt: skip
    if proc.returncode != 0:
        return {}
    facts: dict[str, object] = {"principals": [], "force_command": None, "until": None}
    section = ""
    for line in proc.stdout.splitlines()[1:]:
        text = line.strip()
        if not line.startswith(" " * 16):  # a heading (8 spaces): "Principals:", "Valid: from … to …"
            section = text.split(":", 1)[0]
            if section == "Public key":
                facts["fingerprint"] = text.split()[-1]
            elif section == "Valid" and " to " in text:
                end = text.rsplit(" to ", 1)[1]  # in the local time of this machine
                facts["until"] = None if end == "forever" else dt.datetime.fromisoformat(end).astimezone(dt.UTC)
        elif section == "Principals":
            facts["principals"].append(text)  # type: ignore[union-attr]
        elif section == "Critical Options" and text.startswith("force-command "):
            facts["force_command"] = text.split(" ", 1)[1]
    return facts


def _fingerprint(public_key: str) -> str:
    proc = subprocess.run(["ssh-keygen", "-l", "-f", "-"], input=public_key + "\n", capture_output=True, text=True)
    return proc.stdout.split()[1] if proc.returncode == 0 and len(proc.stdout.split()) > 1 else ""


def _still_valid(facts: dict[str, object], public_key: str, principal: str, margin_s: int) -> bool:
    """Whether the certificate of ``facts`` (:func:`certificate_facts`) is over ``public_key``, names
    ``principal`` and lasts ``margin_s`` more seconds."""
    until = facts.get("until")
    return (bool(facts) and facts.get("fingerprint") == _fingerprint(public_key)
            and facts.get("principals") == [principal]
            and (until is None or until > dt.datetime.now(dt.UTC) + dt.timedelta(seconds=margin_s)))  # fmt: skip


def sign_user_key(public_key: str, *, key_id: str, principals: list[str], validity_s: int,
                  force_command: str | None = None) -> str:  # fmt: skip
    """A user certificate over ``public_key`` (one line). With ``force_command`` every permission is
    cleared (no pty, no forwarding, no ~/.ssh/rc) and the command is the only thing it runs."""
    fields = public_key.split()
    if len(fields) < 2 or not fields[0].startswith("ssh-") or fields[0].endswith("-cert-v01@openssh.com"):
        raise StepFailed(f"{key_id}: not an SSH public key: {public_key[:60]!r}")
    # a controller keeps a terminal (Ansible may ask for one) and nothing it could forward
    forwarding = ["no-agent-forwarding", "no-port-forwarding", "no-x11-forwarding", "no-user-rc"]
    chosen = ["clear", f"force-command={force_command}"] if force_command else forwarding
    options = [arg for option in chosen for arg in ("-O", option)]
    with tempfile.TemporaryDirectory() as tmp:
        pub = Path(tmp) / "key.pub"
        pub.write_text(f"{fields[0]} {fields[1]}\n")
        _keygen("-s", str(user_ca()), "-I", key_id, "-n", ",".join(principals), "-V", f"-5m:+{validity_s}s",
                "-z", str(int(time.time())), *options, str(pub), what=f"signing the user key {key_id}")  # fmt: skip
        return (Path(tmp) / "key-cert.pub").read_text().strip()


def pull_certificate(public_key: str, uai: str, current: str = "") -> str:
    """The certificate of a lycée serveur's pull-mode key: principal ``serveur-<UAI>``, the forced
    collector, 90 days. ``current`` is kept while it is over the same key and lasts 30 more days."""
    principal = serveur_principal(uai)
    facts = certificate_facts(current)
    if (
        _still_valid(facts, public_key, principal, PULL_RENEW_DAYS * 86400)
        and facts["force_command"] == COLLECT_COMMAND
    ):
        return current.strip()
    return sign_user_key(public_key, key_id=f"socle-pull-{uai}", principals=[principal],
                         validity_s=PULL_VALIDITY_DAYS * 86400, force_command=COLLECT_COMMAND)  # fmt: skip


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


def main(argv: list[str] | None = None) -> int:
    """``python -m socle.core.sshid sign-pull --uai UAI`` (stdin: ``{"public_key": …, "current": …}``,
    stdout: the certificate; what playbooks/pull-mode.yml runs on the controller),
    ``sign-controller --public-key FILE [--days N]`` (a regional IT controller's certificate) and
    ``user-ca`` (the CA's public key, for playbooks/ssh-access.yml)."""
    parser = argparse.ArgumentParser(prog="python -m socle.core.sshid")
    sub = parser.add_subparsers(dest="verb", required=True)
    pull = sub.add_parser("sign-pull", help="sign a lycée serveur's pull-mode key (JSON on stdin)")
    pull.add_argument("--uai", required=True)
    sub.add_parser("user-ca", help="print the public key of the Région's SSH user CA")
    ctl = sub.add_parser("sign-controller", help="sign a Région controller's key (principal region)")
    ctl.add_argument("--public-key", required=True, type=Path)
    ctl.add_argument("--days", type=int, default=7)
    args = parser.parse_args(argv)
    try:
        if args.verb == "sign-pull":
            given = json.loads(sys.stdin.read(64 * 1024) or "{}")
            if not isinstance(given, dict) or not isinstance(given.get("public_key"), str):
                raise SocleError('stdin: expected {"public_key": "ssh-ed25519 …", "current": "…"}')
            current = given.get("current") if isinstance(given.get("current"), str) else ""
            print(pull_certificate(given["public_key"].strip(), args.uai, current))
        elif args.verb == "user-ca":
            print(user_ca_public())
        else:
            if not 1 <= args.days <= 31:
                raise SocleError(f"--days {args.days}: a controller certificate lasts 1 to 31 days")
            print(sign_user_key(args.public_key.read_text().strip(), key_id=f"socle-controller-{args.public_key.stem}",
                                principals=[REGION_PRINCIPAL], validity_s=args.days * 86400))  # fmt: skip
    except (SocleError, OSError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
