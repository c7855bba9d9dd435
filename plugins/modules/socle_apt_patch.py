#!/usr/bin/python
# Copyright: socle contributors. EUPL-1.2
"""Apply the pending security updates of a Debian host and record when each became available."""

from __future__ import annotations

DOCUMENTATION = r"""
module: socle_apt_patch
short_description: Install pending security updates and keep the patch-latency history
description:
  - Lists the upgrades apt would make (C(apt-get -s upgrade)) and keeps those whose candidate
    comes from a suite matching O(suite_pattern) (Debian security suites by default).
  - For each one, the time it became available is the C(Date) of the C(Release) file of the
    repository that serves it (the lycée apt cache mirrors the archive's own file).
  - Installs them with C(apt-get install --only-upgrade), appends one JSON line per package to
    C(<state_dir>/patch-history.jsonl) (available since, installed at, versions, run id) and
    stamps C(<state_dir>/last-patch). The nightly C(socle_facts) reads both for the patch
    latency KPI.
  - Returns the rollback guidance (the previous versions) whatever happens next, so that a
    failing health check can record it.
version_added: "0.1.0"
author: socle contributors
options:
  suite_pattern:
    description: Regular expression on the candidate's suite; C(.*) takes every update.
    type: str
    default: "-security$"
  run_id:
    description: Identifier of the patch run, kept in the history.
    type: str
    default: ""
  state_dir:
    description: Folder of the history and the stamp.
    type: path
    default: /var/lib/socle
notes:
  - Supports check mode (lists what would be installed).
  - Run C(apt-get update) before (M(ansible.builtin.apt) with C(update_cache)).
"""

EXAMPLES = r"""
- name: Install the pending security updates
  socle_apt_patch:
    run_id: "2026-11-25T2100Z"
  register: patch
"""

RETURN = r"""
updates:
  description: The selected updates (package, from, to, suite, available_since).
  returned: always
  type: list
  elements: dict
reboot_required:
  description: Whether C(/run/reboot-required) exists after the upgrade.
  returned: always
  type: bool
rollback:
  description: The command that reinstalls the previous versions.
  returned: when updates were selected
  type: str
socle_record:
  description: The same facts for the controller's run record (read from the job events).
  returned: always
  type: dict
"""

import datetime as dt
import email.utils
import glob
import json
import os
import re

from ansible.module_utils.basic import AnsibleModule

# Inst sqlite3 [3.46.1-7] (3.46.1-7+deb13u1 Debian-Security:13/stable-security [amd64])
_INST = re.compile(r"^Inst (?P<pkg>\S+) \[(?P<old>[^\]]+)\] \((?P<new>\S+) (?P<origins>[^\[]*?)(?: \[[^\]]*\])?\)")
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C.UTF-8"}


def parse_simulation(text):
    """Upgrades from `apt-get -s upgrade`: package, old, new and the (origin, suite) pairs serving it."""
    out = []
    for line in text.splitlines():
        m = _INST.match(line)
        if not m:
            continue
        origins = []
        for item in m.group("origins").split(", "):
            origin, _, suites = item.partition(":")
            for suite in suites.split("/"):
                if suite:
                    origins.append((origin.strip(), suite.strip()))
        out.append({"package": m.group("pkg"), "from": m.group("old"), "to": m.group("new"), "origins": origins})
    return out


def release_dates(lists_dir="/var/lib/apt/lists"):
    """(label or origin, suite, codename or version) -> ISO date of the Release file apt holds for it."""
    dates = {}
    for path in glob.glob(os.path.join(lists_dir, "*Release")):
        fields = {}
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith(" ") or ":" not in line:
                    if line.startswith("-----BEGIN PGP SIGNATURE"):
                        break
                    continue
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if "Date" not in fields:
            continue
        try:
            when = email.utils.parsedate_to_datetime(fields["Date"]).astimezone(dt.UTC)
        except (TypeError, ValueError):
            continue
        stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        # apt names a source by its Label (else Origin) in simulations: index under both
        for name in {fields.get("Label", ""), fields.get("Origin", "")}:
            for key in ("Suite", "Codename", "Version"):
                if fields.get(key):
                    dates[(name, fields[key])] = stamp
    return dates


def select(upgrades, pattern, dates):
    """The upgrades served by a matching suite, with the date they became available."""
    rx = re.compile(pattern)
    chosen = []
    for up in upgrades:
        hits = [(o, s) for o, s in up["origins"] if rx.search(s)]
        if not hits:
            continue
        origin, suite = hits[0]
        known = [dates[h] for h in hits if h in dates]
        chosen.append({"package": up["package"], "from": up["from"], "to": up["to"], "origin": origin, "suite": suite,
                       "available_since": min(known) if known else None})  # fmt: skip
    return chosen


def rollback_command(updates):
    pins = " ".join(f"{u['package']}={u['from']}" for u in updates)
    return f"apt-get install --allow-downgrades {pins}" if pins else ""


def main():
    module = AnsibleModule(
        argument_spec={
            "suite_pattern": {"type": "str", "default": "-security$"},
            "run_id": {"type": "str", "default": ""},
            "state_dir": {"type": "path", "default": "/var/lib/socle"},
        },
        supports_check_mode=True,
    )
    p = module.params
    module.run_command_environ_update = APT_ENV
    rc, out, err = module.run_command(["apt-get", "-s", "-o", "Debug::NoLocking=true", "upgrade"])
    if rc != 0:
        module.fail_json(msg=f"apt-get -s upgrade failed: {err.strip() or out.strip()}")
    try:
        updates = select(parse_simulation(out), p["suite_pattern"], release_dates())
    except re.error as exc:
        module.fail_json(msg=f"suite_pattern is not a valid regular expression: {exc}")
    result = {"changed": bool(updates), "updates": updates, "rollback": rollback_command(updates)}
    if module.check_mode or not updates:
        result["reboot_required"] = os.path.exists("/run/reboot-required")
        result["socle_record"] = {"updates": updates, "installed": False, "reboot_required": result["reboot_required"]}
        module.exit_json(**result)
    cmd = ["apt-get", "install", "-y", "--only-upgrade", "-o", "Dpkg::Options::=--force-confold",
           "-o", "Dpkg::Options::=--force-confdef"] + [u["package"] for u in updates]  # fmt: skip
    rc, out, err = module.run_command(cmd)
    if rc != 0:
        module.fail_json(msg=f"apt-get install failed ({rc}): {(err or out).strip()[-1500:]}", **result)
    installed_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    os.makedirs(p["state_dir"], exist_ok=True)
    with open(os.path.join(p["state_dir"], "patch-history.jsonl"), "a", encoding="utf-8") as fh:
        for u in updates:
            fh.write(json.dumps({**u, "installed_at": installed_at, "run": p["run_id"]}, sort_keys=True) + "\n")
    stamp = os.path.join(p["state_dir"], "last-patch")
    with open(stamp + ".tmp", "w", encoding="utf-8") as fh:
        fh.write(installed_at + "\n")
    os.replace(stamp + ".tmp", stamp)
    result["reboot_required"] = os.path.exists("/run/reboot-required")
    result["socle_record"] = {"updates": updates, "installed": True, "installed_at": installed_at,
                              "reboot_required": result["reboot_required"]}  # fmt: skip
    module.exit_json(**result)


if __name__ == "__main__":
    main()
