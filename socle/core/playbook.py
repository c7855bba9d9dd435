"""Every playbook runs through ansible-runner, as AWX runs it: operation plays and build steps.

Each run gets a private data dir in AWX's layout (``project/`` the socle checkout, ``env/``,
``artifacts/<ident>/`` with the job events and stdout). Its job events drive the live display
(:mod:`socle.core.progress`) and give each host's record: the ``socle_facts`` snapshot, the
``socle_record`` a task left, or why there is none (failed, unreachable).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from socle.core import sshid
from socle.core.errors import SocleError, StepFailed
from socle.core.files import read_json, write_atomic
from socle.core.paths import ROOT
from socle.core.progress import Progress

#: a host name safe to use as a file name (inventory names are checked; this guards the writer too)
#: an inventory host name that may name a file or an ssh destination (never an option)
SAFE_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")
#: reasons are kept short in records and messages
_REASON_MAX = 2000


@dataclass(frozen=True)
class Container:
    """Run inside an execution environment image (ansible-runner's process isolation), as AWX does:
    the checkout is mounted read-only at its own path, and so are ``mounts``."""

    image: str
    options: tuple[str, ...] = ()
    mounts: tuple[str, ...] = ()


def _env(container: Container | None, **extra: str) -> dict[str, str]:
    """The project's ansible.cfg; on this machine, this interpreter's Ansible first on PATH (inside an
    execution environment, the image's own)."""
    path = {} if container else {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return {"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1",
            **path, **extra}  # fmt: skip


def _reason(res: Mapping[str, Any], default: str) -> str:
    msg = str(res.get("msg") or res.get("module_stderr") or default)
    stderr = str(res.get("stderr") or "").strip()
    if stderr and stderr not in msg:  # "non-zero return code" says nothing without what the command said
        msg = f"{msg}: {stderr.splitlines()[-1]}"
    return msg[:_REASON_MAX]


@dataclass
class Events:
    """The event handler of one run: the display, per-host records, the failed tasks."""

    progress: Progress
    results: Path | None = None
    #: the socle_record each host left (small; a failure later keeps it), never whole snapshots:
    #: a conformity run over a Région would hold gigabytes
    records: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    #: (play, time.monotonic() when it started), in order: what each play cost (:meth:`phases`)
    plays: list[tuple[str, float]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def phases(self) -> list[dict[str, Any]]:
        """Seconds spent starting Ansible, then in each play, in order: where an operator's wait went."""
        marks = [("start Ansible", self.started), *self.plays, ("", time.monotonic())]
        return [{"phase": name, "seconds": round(marks[i + 1][1] - at, 2)} for i, (name, at) in enumerate(marks[:-1])]

    def __call__(self, event: dict[str, Any]) -> bool:
        name = event.get("event") or ""
        data = event.get("event_data") or {}
        host, task = str(data.get("host") or ""), str(data.get("task") or "")
        res = data.get("res") if isinstance(data.get("res"), dict) else {}
        if name == "playbook_on_play_start":
            self.plays.append((str(data.get("play") or ""), time.monotonic()))
            self.progress.on_play(str(data.get("play") or ""))
        elif name == "playbook_on_task_start":
            self.progress.on_task(str(data.get("role") or ""), task)
        elif name == "runner_on_start" and host:
            self.progress.on_host(host, "running", task=task)
        elif name == "runner_on_ok" and host:
            self.progress.on_host(host, "changed" if res.get("changed") else "ok", task=task)
            self._ok(host, res)
        elif name == "runner_on_skipped" and host:
            self.progress.on_host(host, "skipped", task=task)
        elif name == "runner_on_failed" and host and not data.get("ignore_errors"):
            reason = _reason(res, "failed")
            self.progress.on_host(host, "failed", task=task, reason=reason.splitlines()[0] if reason else "")
            self.failures.append(f"{host}: {task}: {reason[:300]}")
            previous = self.records.get(host)
            self._write(host, {"status": "failed", "task": task, "reason": reason}
                        | ({"record": previous} if previous is not None else {}))  # fmt: skip
        elif name == "runner_on_unreachable" and host:
            reason = _reason(res, "unreachable")
            self.progress.on_host(host, "unreachable", task=task, reason=reason.splitlines()[0] if reason else "")
            self._write(host, {"status": "unreachable", "reason": reason})
        # runner keeps the event in artifacts/<ident>/job_events, except a snapshot: it is in results/
        # already, and a night's snapshots of a Région would double its reports on disk
        return "snapshot" not in res

    def _ok(self, host: str, res: Mapping[str, Any]) -> None:
        snapshot = res.get("snapshot")
        record = res.get("socle_record", (res.get("ansible_facts") or {}).get("socle_record"))
        if snapshot is not None:
            self._write(host, {"status": "collected", "snapshot": snapshot})
        elif record is not None:
            self._write(host, {"status": "ok", "record": record})

    def _write(self, host: str, payload: dict[str, Any]) -> None:
        if payload.get("record") is not None:
            self.records[host] = payload["record"]
        if self.results is not None and SAFE_HOST.match(host):
            write_atomic(self.results / f"{host}.json", json.dumps(payload, sort_keys=True, default=str))


def run(
    book: Path,
    *,
    data_dir: Path,
    inventory: Path,
    label: str,
    extravars: Mapping[str, Any] | None = None,
    limit: str | None = None,
    forks: int | None = None,
    envvars: Mapping[str, str] | None = None,
    results: Path | None = None,
    cmdline: str | None = None,
    container: Container | None = None,
) -> tuple[int, Events]:
    """Run ``book`` with ansible-runner in ``data_dir``; returns Ansible's exit code and the events.

    ``data_dir/artifacts/<label>/stdout`` holds the full output and ``job_events/`` every event.
    """
    import ansible_runner  # imported here: a run pays for it, `socle --help` does not

    data_dir.mkdir(parents=True, exist_ok=True)
    # AWX's layout: project/ and inventory (in an execution environment, runner reads /runner/inventory)
    for name, target in (("project", ROOT), ("inventory", inventory.resolve())):
        link = data_dir / name
        if not link.is_symlink() and not link.exists():
            link.symlink_to(target, target_is_directory=target.is_dir())
    if results is not None:
        results.mkdir(parents=True, exist_ok=True)
    events = Events(Progress(label), results)
    isolation: dict[str, Any] = {}
    if container is not None:
        mounts = [f"{ROOT}:{ROOT}:ro", *(f"{m}:{m}:ro" for m in container.mounts)]
        isolation = {"process_isolation": True, "process_isolation_executable": "podman",
                     "container_image": container.image, "container_options": list(container.options),
                     "container_volume_mounts": mounts}  # fmt: skip
    with events.progress:
        runner = ansible_runner.run(
            private_data_dir=str(data_dir),
            ident=label,
            playbook=str(book),
            inventory=str(inventory),  # in an execution environment: /runner/inventory, the link above
            extravars=dict(extravars or {}),
            envvars=_env(container, **(envvars or {})),
            limit=limit,
            forks=forks,
            cmdline=cmdline,
            event_handler=events,
            quiet=True,
            rotate_artifacts=0,
            **isolation,
        )
    return int(runner.rc if runner.rc is not None else 1), events


def stdout(data_dir: Path, label: str) -> Path:
    """The full Ansible output of a run."""
    return data_dir / "artifacts" / label / "stdout"


def operation(
    book: Path, inventory: Path, *, results: Path, log: Path, forks: int, extravars: Mapping[str, Any] | None = None,
    limit: str | None = None, label: str | None = None,
) -> tuple[int, list[dict[str, Any]]]:  # fmt: skip
    """Run an operation playbook; one JSON per host in ``results``, the full output copied to ``log``.

    Returns ansible-playbook's exit code (per-host outcomes are in ``results``) and the run's phases.
    """
    label = label or book.stem
    data_dir = log.parent / "runner"
    rc, events = run(book, data_dir=data_dir, inventory=inventory, label=label, extravars=extravars, limit=limit,
                     forks=forks, envvars=sshid.ansible_env(), results=results)  # fmt: skip
    _copy_log(stdout(data_dir, label), log)
    return rc, events.phases()


def step(book: Path, inventory: Path, log: Path, label: str, *, cmdline: str | None = None) -> None:
    """A build step: the playbook on ``inventory``; a failure names its failed tasks."""
    data_dir = log.parent / f"runner-{label}"
    rc, events = run(book, data_dir=data_dir, inventory=inventory, label=label, cmdline=cmdline)
    _copy_log(stdout(data_dir, label), log)
    if rc:
        tail = "\n    ".join(events.failures[-8:]) or f"ansible-playbook exit {rc}"
        raise StepFailed(f"ansible-playbook ({label}) failed:\n    {tail}", hint=f"full log: {log}")


def _copy_log(source: Path, log: Path) -> None:
    if source.exists():
        shutil.copyfile(source, log)


def load_raw(path: Path) -> dict[str, Any] | None:
    """One host's record as a run wrote it (None when the host has none, or when what was written
    cannot be read: the host is then reported without a result, never trusted)."""
    try:
        data = read_json(path, what=f"the result of {path.stem}") if path.exists() else None
    except SocleError:
        return None
    return data if isinstance(data, dict) else None
