# Copyright: socle contributors. EUPL-1.2
"""Write each host's socle_facts snapshot (or why there is none) to a folder on the controller."""

from __future__ import annotations

DOCUMENTATION = """
    name: socle_snapshots
    type: aggregate
    short_description: Store conformity snapshots on the controller
    description:
      - For every host, writes C(<dir>/<host>.json) with the snapshot returned by C(socle_facts),
        or the reason there is none (unreachable, failed). No extra task runs on the hosts.
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

    def v2_runner_on_ok(self, result):
        snapshot = result._result.get("snapshot")
        if snapshot is not None:
            self._write(result._host.get_name(), {"status": "collected", "snapshot": snapshot})

    def v2_runner_on_failed(self, result, ignore_errors=False):
        msg = result._result.get("msg") or result._result.get("module_stderr") or "failed"
        self._write(result._host.get_name(), {"status": "failed", "reason": str(msg)[:2000]})

    def v2_runner_on_unreachable(self, result):
        msg = result._result.get("msg") or "unreachable"
        self._write(result._host.get_name(), {"status": "unreachable", "reason": str(msg)[:2000]})
