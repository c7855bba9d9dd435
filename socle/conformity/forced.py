"""Pull mode's collection: a lycée serveur reaches its établissement's Linux machines with its own
certificate (principal ``serveur-<UAI>``), whose only command is the forced collector ``socle-collect``
(socle.core.sshid). No Ansible and no shell: one ``ssh … collect`` per host, which prints the same
snapshot as the ``socle_facts`` module, and ``ssh … poweroff`` for the postes it woke.

What comes back is a poste's word: bounded in size, parsed, and a host that answers anything but a
JSON object is "failed", never trusted. Each host's record is written where the playbook's would be
(``raw/<host>.json``), so the evaluation is the same in both modes."""

from __future__ import annotations

import ipaddress
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from socle.conformity.model import Target
from socle.core import sshid
from socle.core.files import write_atomic
from socle.core.playbook import SAFE_HOST

#: a snapshot is tens of kilobytes (a desktop master's package list: about 200 kB)
MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024
#: ssh's own exit status when it could not connect or authenticate
_SSH_FAILED = 255


def _safe_address(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
        return True
    except ValueError:
        return bool(SAFE_HOST.match(address))


def ssh_base() -> list[str]:
    """ssh with the serveur's key and certificate, host identity verified (the same for every host
    of a run: made once)."""
    return ["ssh", "-i", str(sshid.controller_key()), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", "ConnectTimeout=15", "-o", "ServerAliveInterval=10", "-o", "ServerAliveCountMax=3",
            "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={sshid.known_hosts()}", "-T"]  # fmt: skip


def _run(base: list[str], t: Target, account: str, verb: str, timeout_s: float) -> tuple[int, bytes, str]:
    if not (SAFE_HOST.match(t.host) and _safe_address(t.address)):
        return 2, b"", f"the inventory's address of {t.host[:60]!r} is not an address"
    command = [*base, "-o", f"HostKeyAlias={t.host}", "--", f"{account}@{t.address}", verb]
    try:
        proc = subprocess.run(command, capture_output=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return _SSH_FAILED, b"", f"no answer within {int(timeout_s)} s"
    return proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace").strip()[-300:]


def parse_answer(rc: int, out: bytes, err: str) -> dict[str, Any]:
    """A host's record from what ``ssh … collect`` gave: its exit status, its output, its errors."""
    if rc == _SSH_FAILED:
        return {"status": "unreachable", "reason": err or "ssh failed"}
    if rc != 0:
        return {"status": "failed", "task": "socle-collect", "reason": f"exit {rc}: {err}"}
    if len(out) > MAX_SNAPSHOT_BYTES:
        return {"status": "failed", "task": "socle-collect", "reason": f"answer over {MAX_SNAPSHOT_BYTES} bytes"}
    try:
        snapshot = json.loads(out)
    except (ValueError, RecursionError):
        return {"status": "failed", "task": "socle-collect", "reason": "the answer is not JSON"}
    if not isinstance(snapshot, dict):
        return {"status": "failed", "task": "socle-collect", "reason": "the answer is not a JSON object"}
    return {"status": "collected", "snapshot": snapshot}


def collect(chosen: list[Target], raw_dir: Path, *, account: str, workers: int = 32) -> None:
    """One record per host of ``chosen`` in ``raw_dir`` (``collected``, ``failed`` or ``unreachable``)."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    base = ssh_base()

    def one(t: Target) -> None:
        record = parse_answer(*_run(base, t, account, "collect", 180))
        if SAFE_HOST.match(t.host):
            write_atomic(raw_dir / f"{t.host}.json", json.dumps(record, sort_keys=True))

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(chosen)))) as pool:
        list(pool.map(one, chosen))


def power_off(woken: list[Target], *, account: str) -> dict[str, str]:
    """Switch off the postes woken for the check; the poste refuses when someone uses it. Host ->
    outcome ("off", or why not)."""

    if not woken:
        return {}
    base = ssh_base()

    def one(t: Target) -> tuple[str, str]:
        rc, _out, err = _run(base, t, account, "poweroff", 60)
        return t.host, "off" if rc == 0 else (err or f"exit {rc}")

    with ThreadPoolExecutor(max_workers=min(32, len(woken))) as pool:
        return dict(pool.map(one, woken))
