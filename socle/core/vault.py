"""Per-host local administrator passwords, kept in Ansible Vault files outside git.

One file per poste, ``<store>/<host>.vault``, encrypted with the Région's vault password (the
usual ``ANSIBLE_VAULT_PASSWORD_FILE``, so ``ansible-vault view`` reads it too). A rotation is two
steps so that no password is ever lost: ``rotate`` stores a new *pending* password and prints it
for the play that sets it on the poste; ``commit`` makes it *current* once the poste took it (the
previous current is kept). A CMIL reads a poste's password with ``invoke admin-password``; each
reading is appended to the store's ``access.log`` (who, when, which host).

    python -m socle.core.vault rotate --host HOST   # prints the new password (stdout only)
    python -m socle.core.vault commit --host HOST
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import string
import sys
from pathlib import Path
from typing import Any

import yaml

from socle.core.clock import utc_stamp
from socle.core.errors import SocleError
from socle.core.files import locked, write_atomic

HOST_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
SYMBOLS = "-_=+.,:;!?#%"


def store_dir() -> Path:
    return Path(os.environ.get("SOCLE_SECRETS_DIR", "/var/lib/socle/secrets"))


def _vault() -> Any:
    from ansible.parsing.vault import VaultLib, VaultSecret

    path = os.environ.get("ANSIBLE_VAULT_PASSWORD_FILE", "")
    if not path or not Path(path).is_file():
        raise SocleError(
            "per-host passwords need the Région's vault password: ANSIBLE_VAULT_PASSWORD_FILE is not set to a file",
            hint="export ANSIBLE_VAULT_PASSWORD_FILE=/path/to/vault-pass (the same file Ansible uses)",
        )
    secret = Path(path).read_bytes().strip()
    if not secret:
        raise SocleError(f"the vault password file {path} is empty", hint="write the vault password in it")
    return VaultLib([("default", VaultSecret(secret))])


def generate_password(length: int = 20) -> str:
    """Random, and accepted by Windows' complexity rule (upper, lower, digit, symbol)."""
    alphabet = string.ascii_letters + string.digits + SYMBOLS
    while True:
        pw = "".join(secrets.choice(alphabet) for _ in range(length))
        classes = [string.ascii_uppercase, string.ascii_lowercase, string.digits, SYMBOLS]
        if all(any(c in cls for c in pw) for cls in classes):
            return pw


def _path(host: str) -> Path:
    if not HOST_RE.match(host):
        raise SocleError(f"'{host}' is not a host name", hint="use the inventory name of the poste")
    return store_dir() / f"{host}.vault"


def read(host: str) -> dict[str, Any]:
    path = _path(host)
    if not path.exists():
        return {"host": host}
    from ansible.errors import AnsibleError

    try:
        return dict(yaml.safe_load(_vault().decrypt(path.read_bytes())))
    except AnsibleError as exc:
        raise SocleError(f"cannot decrypt {path}: {exc}", hint="is this the Région's vault password?") from None


def _write(host: str, data: dict[str, Any]) -> None:
    path = _path(host)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(path, _vault().encrypt(yaml.safe_dump(data, sort_keys=True)), mode=0o600)


#: unconfirmed passwords kept per poste: any of them may be the one an interrupted run set
MAX_UNCONFIRMED = 10


def rotate(host: str) -> str:
    """Store a new pending password for ``host`` and return it (an unconfirmed one is kept, not lost).

    Under the host's lock: two rotations at once (two operators, a retried AWX job) both keep theirs.
    """
    with locked(_path(host), what=f"the password of {host}"):
        data = read(host)
        if data.get("pending"):
            data["unconfirmed"] = [data["pending"], *data.get("unconfirmed", [])][:MAX_UNCONFIRMED]
        data["pending"] = {"password": generate_password(), "created_at": utc_stamp()}
        _write(host, data)
    return str(data["pending"]["password"])


def commit(host: str) -> None:
    """The poste took the pending password: it becomes current, the old current becomes previous."""
    with locked(_path(host), what=f"the password of {host}"):
        data = read(host)
        if not data.get("pending"):
            raise SocleError(f"no pending password for {host}", hint="run the rotation first (windows-firstboot.yml)")
        if data.get("current"):
            data["previous"] = data["current"]
        data["current"] = {"password": data.pop("pending")["password"], "set_at": utc_stamp()}
        data.pop("unconfirmed", None)
        _write(host, data)


def show(host: str, who: str) -> dict[str, Any]:
    """What a CMIL needs at the poste (current, plus pending/unconfirmed if a rotation did not finish)."""
    data = read(host)
    if not data.get("current") and not data.get("pending"):
        raise SocleError(f"no password stored for {host}", hint="playbooks/windows-firstboot.yml sets one per poste")
    with (store_dir() / "access.log").open("a") as log:
        log.write(f"{utc_stamp()} {who} read {host}\n")
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m socle.core.vault", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["rotate", "commit"])
    parser.add_argument("--host", required=True)
    args = parser.parse_args(argv)
    try:
        if args.action == "rotate":
            print(rotate(args.host))
        else:
            commit(args.host)
    except SocleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
