#!/usr/bin/python
# Copyright: socle contributors. EUPL-1.2
"""Collect everything the nightly conformity check needs from a Linux host, in one pass."""

from __future__ import annotations

DOCUMENTATION = r"""
module: socle_facts
short_description: One-pass conformity snapshot of a socle Linux host
description:
  - Reads the master identity (C(/etc/socle/master.json)), every installed package, the catalogue
    record, the effective values of the hardening controls (C(sshd -T), sysctl files, sudoers,
    root password state), time synchronisation, free disk, pending updates and the last patch
    date, and returns them as one JSON document. Evaluation happens on the controller.
  - Never changes the host.
version_added: "0.1.0"
author: socle contributors
options:
  sysctl_files:
    description: Files whose C(key = value) lines are read.
    type: list
    elements: path
    default: [/etc/sysctl.d/90-socle-hardening.conf]
notes:
  - Supports check mode (it never changes anything).
  - "Also installed on every Linux master as C(/usr/local/lib/socle/socle_facts.py) (role
    C(management)): C(python3 socle_facts.py --collect) prints the same snapshot, which is all a
    lycée serveur's pull-mode certificate may run (its forced command C(socle-collect))."
"""

EXAMPLES = r"""
- name: Collect the conformity snapshot
  socle_facts:
  register: snapshot
"""

RETURN = r"""
snapshot:
  description: The host's state.
  returned: always
  type: dict
"""

import json
import os
import shutil
import subprocess
import sys
import time

try:  # run by Ansible; the forced collector (--collect) runs without it
    from ansible.module_utils.basic import AnsibleModule
except ImportError:
    AnsibleModule = None

DEFAULT_SYSCTL_FILES = ["/etc/sysctl.d/90-socle-hardening.conf"]


def _run(cmd):
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return None


def _json(path):
    text = _read(path)
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def packages():
    out = _run(["dpkg-query", "-W", "-f", "${Package}\t${Version}\t${db:Status-Status}\n"]) or ""
    pkgs = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[2] == "installed":
            pkgs[parts[0]] = parts[1]
    return pkgs


def sshd_effective():
    if not os.path.exists("/usr/sbin/sshd"):
        return None
    out = _run(["/usr/sbin/sshd", "-T"])
    if out is None:
        return {"error": "sshd -T failed"}
    values = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        values[key] = value
    return values


def sysctl_files(paths):
    values = {}
    for path in paths:
        for line in (_read(path) or "").splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                values[key.strip()] = value.strip()
    return values


def root_password_state():
    out = _run(["passwd", "-S", "root"]) or ""
    fields = out.split()
    return fields[1] if len(fields) > 1 else "unknown"


def automatic_upgrades(conf_dir="/etc/apt/apt.conf.d"):
    """'on' when apt upgrades by itself: unattended-upgrades installed, its periodic run set to a
    non-zero value (the last file read wins, as for apt) and apt-daily-upgrade.timer not masked."""
    value = "0"
    names = sorted(os.listdir(conf_dir)) if os.path.isdir(conf_dir) else []
    for name in names:
        for line in _read(os.path.join(conf_dir, name)).splitlines():
            words = line.replace(";", " ").split()
            if len(words) >= 2 and words[0] == "APT::Periodic::Unattended-Upgrade":
                value = words[1].strip('"')
    masked = os.path.realpath("/etc/systemd/system/apt-daily-upgrade.timer") == "/dev/null"
    installed = os.path.exists("/usr/bin/unattended-upgrade")
    return "on" if installed and value not in ("0", "") and not masked else "off"


def pending_updates():
    lists = "/var/lib/apt/lists"
    has_lists = os.path.isdir(lists) and any(n.endswith("_Packages") for n in os.listdir(lists))
    if not has_lists:
        return {"known": False, "reason": "no apt lists (run apt-get update)"}
    out = _run(["apt-get", "-s", "-o", "Debug::NoLocking=true", "upgrade"]) or ""
    updates = [ln.split()[1] for ln in out.splitlines() if ln.startswith("Inst ")]
    security = [ln.split()[1] for ln in out.splitlines() if ln.startswith("Inst ") and "-security" in ln]
    return {"known": True, "count": len(updates), "security": sorted(security)}


def last_patch():
    history = _read("/var/log/apt/history.log") or ""
    last = None
    for line in history.splitlines():
        if line.startswith("End-Date: "):
            last = line[len("End-Date: ") :].strip()
    stamp = _read("/var/lib/socle/last-patch")
    return {"apt_history": last, "socle": stamp.strip() if stamp else None, "history": patch_history()}


def patch_history(path="/var/lib/socle/patch-history.jsonl", keep=200):
    """The last updates socle_apt_patch installed: when each became available, when it was installed."""
    text = _read(path) or ""
    out = []
    for line in text.splitlines()[-keep:]:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        out.append({k: entry.get(k) for k in ("package", "to", "available_since", "installed_at")})
    return out


def slots():
    """The poste's slots and boot state (socle-slot status): which slot booted, and whether GRUB fell
    back from a newer one that did not boot healthy."""
    out = _run(["/usr/local/sbin/socle-slot", "status"])
    try:
        return json.loads(out) if out else None
    except ValueError:
        return None


def disk():
    usage = shutil.disk_usage("/")
    return {"total_mb": usage.total // 2**20, "free_mb": usage.free // 2**20}


def timesync():
    out = _run(["timedatectl", "show", "-p", "NTPSynchronized", "-p", "NTP"]) or ""
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    active = _run(["systemctl", "is-active", "systemd-timesyncd"])
    enabled = _run(["systemctl", "is-enabled", "systemd-timesyncd"])
    return {
        "synchronized": values.get("NTPSynchronized"),
        "ntp": values.get("NTP"),
        "timesyncd_active": (active or "").strip() or "inactive",
        "timesyncd_enabled": (enabled or "").strip() or "disabled",
    }


def snapshot(sysctl_paths):
    start = time.monotonic()
    found = {
        "schema_version": 1,
        "collected_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "hostname": os.uname()[1],
        "master": _json("/etc/socle/master.json"),
        "catalogue_record": _json("/usr/share/socle/catalogue-software.json"),
        "packages": packages(),
        "hardening": {
            "sshd": sshd_effective(),
            "sysctl": sysctl_files(sysctl_paths),
            "sudoers_present": os.path.exists("/etc/sudoers.d/socle-hardening"),
            "unattended_upgrades": automatic_upgrades(),
            "root_password": root_password_state(),
        },
        "timesync": timesync(),
        "slots": slots(),
        "disk": disk(),
        "updates": pending_updates(),
        "last_patch": last_patch(),
    }
    found["collect_seconds"] = round(time.monotonic() - start, 3)
    return found


def main():
    module = AnsibleModule(
        argument_spec={"sysctl_files": {"type": "list", "elements": "path", "default": DEFAULT_SYSCTL_FILES}},
        supports_check_mode=True,
    )
    module.exit_json(changed=False, snapshot=snapshot(module.params["sysctl_files"]))


if __name__ == "__main__":
    if sys.argv[1:] == ["--collect"]:
        json.dump(snapshot(DEFAULT_SYSCTL_FILES), sys.stdout, sort_keys=True)
    else:
        main()
