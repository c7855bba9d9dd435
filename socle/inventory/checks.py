"""Inventory checks (ids INV001…): schema, UAI check letters, region-wide duplicates, vocabulary
(profiles from the master specs, disciplines from the catalogue), addresses, Windows remoting."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from socle.catalogue.model import load_catalogue
from socle.core import uai
from socle.core.errors import SocleError
from socle.core.files import regular_file_in
from socle.core.findings import Finding
from socle.core.paths import rel
from socle.core.schema import validate
from socle.core.yamlio import Document, KeyPath, format_keypath, load, value_at
from socle.inventory.model import (
    ACADEMIE_ZONE,
    DEFAULT_REGION,
    RESERVED_HOSTNAMES,
    WAVES,
    ZONES,
    address_problem,
    school_files,
)
from socle.registry import specs

CHECKS = {
    "INV001": "schema: required keys, types, no unknown keys; valid YAML",
    "INV002": "UAI: 7 digits + the right check letter, equal to the file name",
    "INV003": "duplicates region-wide: hostname, MAC, fixed IP, asset tag, UAI",
    "INV004": "vocabulary: profile, discipline, wave, zone, académie",
    "INV005": "addresses: well-formed MAC and IPv4, not zero, broadcast, multicast, loopback or link-local",
    "INV006": "salles: at least one poste, unique room ids",
    "INV007": "Windows remoting: HTTPS with certificate validation, no Basic/NTLM over HTTP, credentials from Vault",
    "INV008": "names and variables: no reserved host name; school vars only from the allowlist (docs/security.md)",
}


WEAK_AUTH = {"basic", "ntlm", "plaintext"}


def remoting_problems(variables: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(variable, problem, fix) for unsafe WinRM/PSRP settings in one set of Ansible variables."""
    out = []
    conn = str(variables.get("ansible_connection", ""))
    is_win = conn in {"winrm", "psrp", "ansible.builtin.winrm", "ansible.builtin.psrp"}
    scheme = str(variables.get("ansible_winrm_scheme", variables.get("ansible_psrp_protocol", "https"))).lower()
    port = str(variables.get("ansible_port", ""))
    plain_http = scheme == "http" or port == "5985"
    if is_win and plain_http:
        out.append(("ansible_winrm_scheme", "Windows remoting over plain HTTP",
                    "use HTTPS on 5986 with the Région's certificate (docs/windows.md, enrolment)"))  # fmt: skip
    for key in ("ansible_winrm_transport", "ansible_psrp_auth"):
        auth = {a.strip().lower() for a in str(variables.get(key, "")).split(",") if a.strip()}
        if auth & WEAK_AUTH and plain_http:
            out.append((key, f"{', '.join(sorted(auth & WEAK_AUTH))} authentication over HTTP sends reusable secrets",
                        "use kerberos (domain postes) or certificate authentication over HTTPS"))  # fmt: skip
    for key in ("ansible_winrm_server_cert_validation", "ansible_psrp_cert_validation"):
        if str(variables.get(key, "")).lower() == "ignore":
            out.append((key, "certificate validation is disabled",
                        "validate against the Région's CA (ansible_psrp_ca_cert / ca_trust_path)"))  # fmt: skip
    for key in ("ansible_password", "ansible_winrm_password", "ansible_psrp_password", "ansible_become_password"):
        value = variables.get(key)
        if isinstance(value, str) and value and "{{" not in value and not value.startswith("$ANSIBLE_VAULT"):
            out.append(
                (key, "a password is written in clear", "reference a vault_* variable from an encrypted vault file")
            )
    return out


def profiles(kind: str = "poste") -> set[str]:
    """Master profiles a salle (``poste``) or a serveur (``serveur``) may name: the specs' of that kind."""
    out: set[str] = set()
    for year in specs.available_years():
        out |= {p for p in specs.available_profiles(year) if p == kind or p.startswith(f"{kind}-")}
    return out or ({"poste-linux", "poste-windows"} if kind == "poste" else {"serveur"})


def disciplines() -> set[str]:
    cat = load_catalogue()
    return set(cat.disciplines) - {"commun"}


class _Checker:
    def __init__(self) -> None:
        self.out: list[Finding] = []
        self.seen: dict[str, dict[str, tuple[str, int, str]]] = defaultdict(dict)
        self.profiles = profiles()
        self.serveur_profiles = profiles("serveur")
        self.disciplines = disciplines()

    def add(self, doc: Document, kp: KeyPath, check: str, *, message: str, fix: str, severity: str = "error") -> None:
        self.out.append(Finding(str(doc.path), doc.line(kp) or 1, check, severity, format_keypath(kp), message, fix))

    def unique(self, doc: Document, kp: KeyPath, kind: str, value: str, who: str, fix: str) -> None:
        if not value or value == "dhcp":
            return
        first = self.seen[kind].get(value)
        if first:
            self.add(
                doc,
                kp,
                "INV003",
                message=f"{kind} '{value}' of {who} is already used by {first[2]} ({first[0]}:{first[1]})",
                fix=fix,
            )
        else:
            self.seen[kind][value] = (str(doc.path), doc.line(kp) or 1, who)

    def school(self, doc: Document) -> None:
        data = doc.data
        code = data.get("uai")
        problem = uai.problem(code)
        if problem:
            self.add(
                doc,
                ("uai",),
                "INV002",
                message=problem,
                fix="write the UAI of the établissement exactly (annuaire de l'éducation)",
            )
        elif Path(doc.path).stem != code:
            self.add(
                doc,
                ("uai",),
                "INV002",
                message=f"file name '{Path(doc.path).stem}' differs from the UAI '{code}'",
                fix=f"rename the file to {code}.yaml",
            )
        self.unique(doc, ("uai",), "UAI", str(code), f"établissement {data.get('name')}", "one file per établissement")
        zone, wave, acad = data.get("zone"), str(data.get("wave")), data.get("academie")
        if zone not in ZONES:
            self.add(doc, ("zone",), "INV004", message=f"unknown holiday zone '{zone}'", fix="use A, B or C")
        if wave not in WAVES:
            self.add(
                doc,
                ("wave",),
                "INV004",
                message=f"unknown rollout wave '{data.get('wave')}'",
                fix='use pilot, 1, 2 or 3 (quote numbers: "1")',
            )
        if acad not in ACADEMIE_ZONE:
            self.add(
                doc,
                ("academie",),
                "INV004",
                message=f"unknown académie '{acad}'",
                fix=f"use one of: {', '.join(sorted(ACADEMIE_ZONE))}",
            )
        elif zone in ZONES and ACADEMIE_ZONE[acad] != zone:
            self.add(
                doc,
                ("zone",),
                "INV004",
                message=f"académie {acad} is in zone {ACADEMIE_ZONE[acad]}, not {zone}",
                fix=f"set zone: {ACADEMIE_ZONE[acad]}",
            )
        for problem in remoting_problems(data.get("vars") or {}):
            self.add(doc, ("vars", problem[0]), "INV007", message=problem[1], fix=problem[2])
        for i, salle in enumerate(data.get("salles") or []):
            for problem in remoting_problems(salle.get("vars") or {}):
                self.add(doc, ("salles", i, "vars", problem[0]), "INV007", message=problem[1], fix=problem[2])
        for i, srv in enumerate(data.get("serveurs") or []):
            self.host(doc, ("serveurs", i), srv, f"serveur {srv.get('hostname')} of {code}")
            if srv.get("profile", "serveur") not in self.serveur_profiles:
                self.add(doc, ("serveurs", i, "profile"), "INV004",
                         message=f"unknown serveur profile '{srv.get('profile')}' for {srv.get('hostname')} of {code}",
                         fix=f"use one of: {', '.join(sorted(self.serveur_profiles))}, or leave it out")  # fmt: skip
        rooms: dict[str, int] = {}
        for i, salle in enumerate(data.get("salles") or []):
            rid = str(salle.get("id"))
            where = f"{code}/{rid}"
            if rid in rooms:
                self.add(
                    doc,
                    ("salles", i, "id"),
                    "INV006",
                    message=f"salle '{rid}' is defined twice (first at index {rooms[rid]})",
                    fix="give each salle a unique id within the établissement",
                )
            rooms[rid] = i
            if not salle.get("postes"):
                self.add(
                    doc,
                    ("salles", i, "postes"),
                    "INV006",
                    message=f"salle {where} has no postes",
                    fix="list its postes, or remove the salle",
                )
            if salle.get("profile") not in self.profiles:
                self.add(
                    doc,
                    ("salles", i, "profile"),
                    "INV004",
                    message=f"unknown master profile '{salle.get('profile')}' in {where}",
                    fix=f"use one of: {', '.join(sorted(self.profiles))}",
                )
            for j, d in enumerate(salle.get("disciplines") or []):
                if d not in self.disciplines:
                    self.add(
                        doc,
                        ("salles", i, "disciplines", j),
                        "INV004",
                        message=f"unknown discipline '{d}' in {where}",
                        fix=f"use the catalogue's disciplines: {', '.join(sorted(self.disciplines))}",
                    )
            for j, poste in enumerate(salle.get("postes") or []):
                self.host(doc, ("salles", i, "postes", j), poste, f"poste {poste.get('hostname')} in {where}")

    def host(self, doc: Document, kp: KeyPath, host: dict[str, Any], who: str) -> None:
        name, mac, ip = str(host.get("hostname", "")), host.get("mac"), host.get("ip", "dhcp")
        if name in RESERVED_HOSTNAMES:
            groups = ", ".join(sorted(RESERVED_HOSTNAMES))
            self.add(doc, (*kp, "hostname"), "INV008", message=f"host name '{name}' is reserved ({who})",
                     fix=f"give the machine its real name ({groups} name groups)")  # fmt: skip
        self.unique(doc, (*kp, "hostname"), "hostname", name, who, "hostnames are unique in the whole Région")
        if mac is not None:
            problem = address_problem(mac=mac.lower()) if isinstance(mac, str) else "malformed MAC address"
            if problem:
                self.add(doc, (*kp, "mac"), "INV005", message=f"{problem} for {who}",
                         fix="write the card's own address: six hex pairs, e.g. 52:54:00:12:34:56")  # fmt: skip
            else:
                self.unique(doc, (*kp, "mac"), "MAC", mac.lower(), who, "a MAC address belongs to one machine")
        if ip != "dhcp":
            problem = address_problem(ip=str(ip))
            if problem:
                self.add(doc, (*kp, "ip"), "INV005", message=f"{problem} for {who}",
                         fix="write its IPv4 address on the lycée network (e.g. 10.67.12.21), or dhcp")  # fmt: skip
            else:
                self.unique(doc, (*kp, "ip"), "fixed IP", str(ip), who, "each fixed IP is used once")
        if host.get("asset"):
            self.unique(doc, (*kp, "asset"), "asset tag", str(host["asset"]), who, "asset tags are unique")


def load_school(path: Path) -> tuple[Document | None, list[Finding]]:
    try:
        doc = load(regular_file_in(path, path.parent))
    except SocleError as exc:
        m = re.search(r":(\d+)", exc.where or "")
        return None, [
            Finding(rel(path), int(m.group(1)) if m else 1, "INV001", "error", "", exc.message, exc.hint or "")
        ]
    doc.path = Path(rel(path))
    findings = validate(doc, "etablissement", "INV001")
    for kp, raw in doc.coerced.items():
        findings.append(
            Finding(
                str(doc.path),
                doc.line(kp) or 1,
                "INV001",
                "error",
                format_keypath(kp),
                f"'{raw}' is read by YAML as {type(value_at(doc.data, kp)).__name__}",
                f'quote it: "{raw}"',
            )
        )
    return doc, findings


def _load_vars(path: Path) -> tuple[Document | None, list[Finding]]:
    try:
        doc = load(path)
    except SocleError as exc:
        return None, [Finding(rel(path), 1, "INV001", "error", "", exc.message, exc.hint or "")]
    doc.path = Path(rel(path))
    return doc, []


def check(region: Path | None = None) -> list[Finding]:
    region = region or DEFAULT_REGION
    checker = _Checker()
    findings: list[Finding] = []
    for path in sorted((region / "group_vars").glob("*.y*ml")) if (region / "group_vars").is_dir() else []:
        doc, problems = _load_vars(path)
        findings += problems
        if doc is not None:
            for key, problem, fix in remoting_problems(doc.data if isinstance(doc.data, dict) else {}):
                findings.append(Finding(str(doc.path), doc.line((key,)) or 1, "INV007", "error", key, problem, fix))
    for path in school_files(region):
        doc, problems = load_school(path)
        findings += problems
        if doc is not None and isinstance(doc.data, dict) and not [p for p in problems if p.keypath == ""]:
            try:
                checker.school(doc)
            except (AttributeError, KeyError, TypeError, ValueError) as exc:
                # the cross-file checks read a schema-valid shape; the schema findings say what is wrong
                if not problems:
                    findings.append(Finding(str(doc.path), 1, "INV001", "error", "",
                                            f"cannot check this file further ({type(exc).__name__})",
                                            "fix its structure (socle/schemas/etablissement.schema.json)"))  # fmt: skip
    return sorted(set(findings + checker.out), key=lambda f: (f.file, f.line, f.check))
