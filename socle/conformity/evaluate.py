"""The comparison of one host's snapshot with what it should be: a pure function, no I/O."""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Any

from socle.conformity.model import NOT_SEEN, Drift, HostResult, Target
from socle.core.clock import parse_utc

#: well-known SIDs of the principals CIS 2.2.21 denies network logon to
PRINCIPAL_SIDS = {"Guests": "S-1-5-32-546", "Local account": "S-1-5-113"}


#: sshd -T prints some values under another name than sshd_config accepts
SSHD_ALIASES = {"prohibit-password": "without-password"}


MIN_FREE_DISK_PERCENT = 10


def evaluate(
    target: Target,
    raw: dict[str, Any] | None,
    *,
    manifest: dict[str, Any] | None,
    expected_software: dict[str, str],
    hardening: dict[str, Any],
    today: dt.date,
) -> HostResult:
    """Compare one host's snapshot with what it should be. Pure function: no I/O."""
    result = HostResult(target.host, target.uai, target.salle, target.profile, "conformant")
    if raw is None or raw.get("status") == "unreachable":
        reason = "no answer (switched off or not reached)"
        result.status, result.reason = NOT_SEEN, str((raw or {}).get("reason") or reason)
        return result
    if raw.get("status") != "collected":
        result.status, result.reason = "failed", str(raw.get("reason", ""))
        return result
    snap = raw["snapshot"]
    patch = snap.get("last_patch") or {}
    result.last_patch = patch.get("socle") or patch.get("apt_history")
    result.patch_latency_h = patch_latency(patch.get("history") or [], today)
    drifts = result.drifts
    installed: dict[str, str] = snap.get("packages") or {}
    windows = snap.get("platform") == "windows"
    # master identity
    ident = snap.get("master") or {}
    if manifest is None:
        drifts.append(Drift("master", "reference", f"no published master for profile {target.profile}"))
    else:
        if ident.get("profile") != target.profile:
            drifts.append(Drift("master", "profile", "wrong master profile for this salle", target.profile,
                                ident.get("profile")))  # fmt: skip
        if ident.get("version") != manifest["version"]:
            drifts.append(
                Drift("master", "version", "not on the current master", manifest["version"], ident.get("version"))
            )
        fell_back = fallback(snap.get("slots"))
        if fell_back:
            drifts.append(Drift("master", "fallback", f"slot {fell_back['slot']} did not boot healthy: the poste "
                                "fell back to its previous master", fell_back.get("version"),
                                ident.get("version")))  # fmt: skip
        reference = {n: p["version"] for n, p in manifest["packages"].items()}
        unknown = sorted(set(installed) - set(reference))
        for name in unknown:
            drifts.append(Drift("unknown-software", "outside-master", f"{name} is not part of the master", None,
                                installed[name]))  # fmt: skip
        # catalogue software is reported once, as catalogue drift
        catalogue_names = {_installed_name(reference, k, windows) for k in expected_software} - {None}
        for name in sorted(set(reference) - set(installed) - catalogue_names):
            drifts.append(Drift("master", "package-missing", f"{name} of the master is missing", reference[name], None))
    # catalogue software of the room
    for pkg, software in sorted(expected_software.items()):
        name = _installed_name(installed, pkg, windows)
        if name is None:
            drifts.append(Drift("catalogue", "missing", f"{software} ({pkg}) is missing", "installed", None))
        elif manifest and name in manifest["packages"] and installed[name] != manifest["packages"][name]["version"]:
            drifts.append(Drift("catalogue", "version", f"{software} ({pkg}) is not at the approved version",
                                manifest["packages"][name]["version"], installed[name]))  # fmt: skip
    if windows:
        _windows_hardening_and_health(snap, hardening, drifts)
        result.last_patch = (snap.get("last_patch") or {}).get("windows_update")
        result.status = "drift" if drifts else "conformant"
        return result
    # hardening: the role's own variables are the expectation, its control ids name the drift
    hard = snap.get("hardening") or {}
    if hardening.get("hardening_rule_sshd") and "openssh-server" in installed:
        effective = hard.get("sshd") or {}
        for key, value in hardening.get("hardening_sshd_settings", {}).items():
            want = SSHD_ALIASES.get(str(value).lower(), str(value).lower())
            got = str(effective.get(key.lower(), "")).lower()
            if got != want:
                drifts.append(Drift("hardening", control(hardening, "sshd", f"sshd.{key}"), f"sshd {key} is '{got}'",
                                    want, got))  # fmt: skip
    if hardening.get("hardening_rule_sysctl"):
        values = hard.get("sysctl") or {}
        for key, value in hardening.get("hardening_sysctl", {}).items():
            if str(values.get(key)) != str(value):
                drifts.append(Drift("hardening", control(hardening, "sysctl", f"sysctl.{key}", key),
                                    f"sysctl {key} not set to {value}", str(value), values.get(key)))  # fmt: skip
    if hardening.get("hardening_rule_root_password_locked") and hard.get("root_password") not in {"L", "LK"}:
        drifts.append(Drift("hardening", control(hardening, "root_password_locked", "root-password"),
                            "root password login is not locked", "L", hard.get("root_password")))  # fmt: skip
    if hardening.get("hardening_rule_sudo") and "sudo" in installed and not hard.get("sudoers_present"):
        drifts.append(Drift("hardening", control(hardening, "sudo", "sudo"), "sudo hardening drop-in missing", True,
                            False))  # fmt: skip
    if hardening.get("hardening_rule_unattended_upgrades"):
        want = "on" if hardening.get("hardening_updates_by") == "unattended" else "off"
        if hard.get("unattended_upgrades") != want:
            what = ("apt upgrades by itself, outside the patch waves" if want == "off"
                    else "unattended security upgrades not configured")  # fmt: skip
            drifts.append(Drift("hardening", control(hardening, "unattended_upgrades", "unattended-upgrades"), what,
                                want, hard.get("unattended_upgrades")))  # fmt: skip
    # health
    ts = snap.get("timesync") or {}
    if ts.get("timesyncd_enabled") != "enabled":
        drifts.append(Drift("health", "time-sync", "systemd-timesyncd is not enabled", "enabled",
                            ts.get("timesyncd_enabled")))  # fmt: skip
    _disk_and_updates(snap, drifts)
    result.status = "drift" if drifts else "conformant"
    return result


def _installed_name(installed: dict[str, str], key: str, windows: bool) -> str | None:
    """Debian packages match exactly; Windows display names by prefix ("GeoGebra Classic 6.0.8…")."""
    if key in installed:
        return key
    if windows:
        low = key.lower()
        return next((n for n in sorted(installed) if n.lower().startswith(low)), None)
    return None


def _disk_and_updates(snap: dict[str, Any], drifts: list[Drift]) -> None:
    """Health checks both platforms share: free disk, pending security updates."""
    disk = snap.get("disk") or {}
    if disk.get("total_mb") and 100 * disk["free_mb"] / disk["total_mb"] < MIN_FREE_DISK_PERCENT:
        drifts.append(Drift("health", "disk", f"less than {MIN_FREE_DISK_PERCENT}% free disk",
                            f">= {MIN_FREE_DISK_PERCENT}%", f"{disk['free_mb']} MB"))  # fmt: skip
    updates = snap.get("updates") or {}
    if updates.get("known") and updates.get("security"):
        drifts.append(Drift("health", "security-updates", f"{len(updates['security'])} security update(s) pending", 0,
                            len(updates["security"])))  # fmt: skip


def fallback(slots: dict[str, Any] | None) -> dict[str, Any] | None:
    """The slot this boot fell back from (GRUB's boot counting), or None."""
    last = (slots or {}).get("last_boot") or {}
    if last.get("fell_back_from") and last.get("boot_id") == (slots or {}).get("boot_id"):
        return dict(last["fell_back_from"])
    return None


def control(rules: dict[str, Any], switch: str, what: str, key: str = "") -> str:
    """A drift id that names its BP-028 control, from the hardening role's ``hardening_controls``
    (for sysctl, the control of the key's longest matching family): ``R39 | sudo``."""
    ids = (rules.get("hardening_controls") or {}).get(switch)
    if isinstance(ids, dict):
        family = max((p for p in ids if key == p or key.startswith(p + ".")), key=len, default=None)
        ids = ids.get(family) if family else None
    return f"{ids} | {what}" if ids else what


def _windows_hardening_and_health(snap: dict[str, Any], rules: dict[str, Any], drifts: list[Drift]) -> None:
    """win_hardening's variables are the expectation; the collector reports effective values."""
    hard = snap.get("hardening") or {}

    def check(rule: str, check_id: str, message: str, want: Any, got: Any) -> None:
        if rules.get(rule) and got != want:
            drifts.append(Drift("hardening", check_id, message, want, got))

    check("win_hardening_rule_smb1_disabled", "smb1", "SMBv1 server is enabled", False, hard.get("smb1_enabled"))
    check("win_hardening_rule_llmnr_disabled", "llmnr", "LLMNR is not disabled", 0, hard.get("llmnr_enable_multicast"))
    check("win_hardening_rule_autorun_disabled", "autorun", "AutoRun is not disabled on every drive",
          rules.get("win_hardening_autorun_no_drive_type"), hard.get("autorun_no_drive_type"))  # fmt: skip
    for key, want in (rules.get("win_hardening_uac_settings") or {}).items():
        check(
            "win_hardening_rule_uac", f"uac.{key}", f"UAC {key} is not {want}", want, (hard.get("uac") or {}).get(key)
        )
    for fw_profile in rules.get("win_hardening_firewall_profiles") or []:
        check("win_hardening_rule_firewall", f"firewall.{fw_profile}", f"firewall {fw_profile} profile is off", True,
              (hard.get("firewall") or {}).get(fw_profile))  # fmt: skip
    check("win_hardening_rule_defender_realtime", "defender", "Defender real-time protection is off", True,
          hard.get("defender_realtime"))  # fmt: skip
    if rules.get("win_hardening_rule_deny_network_logon_local_accounts"):
        want = sorted(PRINCIPAL_SIDS.get(p, p) for p in rules.get("win_hardening_deny_network_logon_principals", []))
        got = sorted(hard.get("deny_network_logon") or [])
        if not set(want) <= set(got):
            drifts.append(Drift("hardening", "deny-network-logon", "local accounts may log on over the network",
                                want, got))  # fmt: skip
    if (snap.get("timesync") or {}).get("w32time") != "Running":
        drifts.append(Drift("health", "time-sync", "the Windows Time service is not running", "Running",
                            (snap.get("timesync") or {}).get("w32time")))  # fmt: skip
    _disk_and_updates(snap, drifts)


LATENCY_WINDOW_DAYS = 90


def patch_latency(history: list[dict[str, Any]], today: dt.date) -> float | None:
    """Median hours between a security update's availability and its installation, recent ones only."""
    since = dt.datetime.combine(today - dt.timedelta(days=LATENCY_WINDOW_DAYS), dt.time(), dt.UTC)
    hours = []
    for entry in history:
        try:
            available, installed = parse_utc(entry["available_since"]), parse_utc(entry["installed_at"])
        except (KeyError, TypeError, ValueError):
            continue  # availability unknown: no latency to count
        if installed >= since:
            hours.append(max(0.0, (installed - available).total_seconds() / 3600))
    return round(statistics.median(hours), 1) if hours else None
