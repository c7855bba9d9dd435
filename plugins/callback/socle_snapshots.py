# Copyright: socle contributors. EUPL-1.2
"""Write each host's socle_facts snapshot (or why there is none) to a folder on the controller."""

from __future__ import annotations

DOCUMENTATION = """
    name: socle_snapshots
    type: aggregate
    short_description: Store conformity snapshots and patch records on the controller
    description:
      - For every host, writes C(<dir>/<host>.json) with the snapshot returned by C(socle_facts),
        or the reason there is none (unreachable, failed). No extra task runs on the hosts.
      - A task result carrying C(socle_record) (C(socle_apt_patch), or a fact of that name) is
        stored with status C(ok) and the record; a later failure of the same host keeps the record.
    requirements:
      - enable in callbacks_enabled
    options:
      directory:
        description: Folder for the JSON files.
        env:
          - name: SOCLE_CONFORMITY_RAW
        required: true
"""

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "socle_snapshots"
    CALLBACK_NEEDS_ENABLED = True

    def _write(self, host, payload):
        folder = self.get_option("directory")
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f".{host}.json.tmp")
        with open(tmp, "w") as fh:
            json.dump(payload, fh, sort_keys=True, default=str)
        os.replace(tmp, os.path.join(folder, f"{host}.json"))

    def _previous(self, host):
        try:
            with open(os.path.join(self.get_option("directory"), f"{host}.json")) as fh:
                return json.load(fh)
        except (OSError, ValueError):
            return {}

    def v2_runner_on_ok(self, result):
        res = result._result
        snapshot = res.get("snapshot")
        record = res.get("socle_record", (res.get("ansible_facts") or {}).get("socle_record"))
        if snapshot is not None:
            self._write(result._host.get_name(), {"status": "collected", "snapshot": snapshot})
        elif record is not None:
            self._write(result._host.get_name(), {"status": "ok", "record": record})

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if ignore_errors:
            return
        host = result._host.get_name()
        msg = result._result.get("msg") or result._result.get("module_stderr") or "failed"
        payload = {"status": "failed", "task": result._task.get_name(), "reason": str(msg)[:2000]}
        record = self._previous(host).get("record")
        if record is not None:
            payload["record"] = record
        self._write(host, payload)

    def v2_runner_on_unreachable(self, result):
        msg = result._result.get("msg") or "unreachable"
        self._write(result._host.get_name(), {"status": "unreachable", "reason": str(msg)[:2000]})
