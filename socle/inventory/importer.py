"""`invoke inventory.import`: postes from a CMIL spreadsheet or a linuxmuster ``devices.csv`` into an
établissement file, checked region-wide in a scratch copy; a dry run with a diff unless applied."""

from __future__ import annotations

import csv
import difflib
import io
import ipaddress
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from socle.core import uai
from socle.core.errors import SocleError
from socle.core.paths import rel
from socle.inventory import checks
from socle.inventory.model import DEFAULT_REGION, MAC, render, school_files

#: accepted headers (lower-cased, accents stripped) -> field
COLUMNS = {
    "salle": "salle", "room": "salle", "local": "salle",
    "nom": "hostname", "hostname": "hostname", "nom du poste": "hostname", "poste": "hostname",
    "adresse mac": "mac", "mac": "mac", "adresse physique": "mac",
    "ip": "ip", "adresse ip": "ip",
    "numero d'inventaire": "asset", "inventaire": "asset", "asset": "asset", "n inventaire": "asset",
    "modele": "model", "model": "model",
    "usage": "usage", "disciplines": "disciplines", "profil": "profile", "profile": "profile",
}  # fmt: skip


def _norm(header: str) -> str:
    table = str.maketrans("éèêëàâäîïôöùûüç°", "eeeeaaaiioouuuc ")
    return " ".join(header.strip().lower().translate(table).replace("_", " ").split())


@dataclass
class ImportRow:
    line: int
    salle: str
    hostname: str
    mac: str
    ip: str = "dhcp"
    asset: str = ""
    model: str = ""
    usage: str = ""
    disciplines: list[str] = field(default_factory=list)
    profile: str = ""


def parse_csv(path: Path) -> list[ImportRow]:
    """CMIL spreadsheet (header row, ; or , separated, French headers) or linuxmuster devices.csv."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SocleError("file not found", where=str(path)) from None
    except UnicodeDecodeError:
        raise SocleError("not UTF-8", where=str(path), hint="export the spreadsheet as CSV UTF-8") from None
    lines = text.splitlines()
    first = next((ln for ln in lines if ln.strip() and not ln.startswith("#")), "")
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    rows: list[ImportRow] = []
    errors: list[str] = []
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [_norm(h) for h in next(reader, [])] if not _is_linuxmuster(first) else None
    if header is not None:
        unknown = [h for h in header if h and h not in COLUMNS]
        fields = [COLUMNS.get(h) for h in header]
        missing = {"salle", "hostname", "mac"} - set(fields)
        if missing:
            raise SocleError(
                f"missing column(s): {', '.join(sorted(missing))} (unknown: {', '.join(unknown) or 'none'})",
                where=f"{path}:1",
                hint="columns: salle; nom; adresse MAC; IP; numéro d'inventaire; modèle (see docs/inventories.md)",
            )
    else:
        reader = csv.reader(io.StringIO(text), delimiter=";")
    for lineno, cells in enumerate(reader, start=2 if header is not None else 1):
        if not cells or not "".join(cells).strip() or cells[0].startswith("#"):
            continue
        if header is None:  # linuxmuster: room;host;hostgroup;mac;ip;...
            if len(cells) < 5:
                errors.append(f"{path}:{lineno}: expected at least 5 ';' fields (room;host;group;mac;ip)")
                continue
            values = {"salle": cells[0], "hostname": cells[1], "mac": cells[3], "ip": cells[4] or "dhcp"}
        else:
            values = {f: c.strip() for f, c in zip(fields, cells, strict=False) if f}
        row, problem = _row(values, lineno)
        if problem:
            errors.append(f"{path}:{lineno}: {problem}")
        else:
            rows.append(row)
    if errors:
        more = f"\n  … and {len(errors) - 20} more" if len(errors) > 20 else ""
        raise SocleError(
            f"{len(errors)} bad row(s); nothing was imported:\n  " + "\n  ".join(errors[:20]) + more,
            hint="fix the rows in the spreadsheet and import again",
        )
    if not rows:
        raise SocleError("no poste in the file", where=str(path))
    return rows


def _is_linuxmuster(first: str) -> bool:
    cells = first.split(";")
    return len(cells) >= 5 and bool(MAC.match(cells[3].strip().lower()))


def _row(values: dict[str, str], lineno: int) -> tuple[ImportRow | None, str | None]:
    host = values.get("hostname", "").strip().lower()
    mac = values.get("mac", "").strip().lower().replace("-", ":")
    salle = values.get("salle", "").strip()
    if not salle:
        return None, "salle is empty"
    if not host or not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", host):
        return None, f"hostname '{values.get('hostname', '')}' is not a valid host name (letters, digits, dashes)"
    if not MAC.match(mac):
        return None, f"MAC address '{values.get('mac', '')}' is malformed (expected 52:54:00:12:34:56)"
    ip = values.get("ip", "").strip() or "dhcp"
    if ip.lower() != "dhcp":
        try:
            ipaddress.IPv4Address(ip)
        except ValueError:
            return None, f"IP address '{ip}' is malformed (or write dhcp)"
    discs = [d.strip() for d in values.get("disciplines", "").replace(",", " ").split() if d.strip()]
    return (
        ImportRow(lineno, salle, host, mac, ip.lower() if ip.lower() == "dhcp" else ip, values.get("asset", ""),
                  values.get("model", ""), values.get("usage", ""), discs, values.get("profile", "")),
        None,
    )  # fmt: skip


def import_csv(csv_path: Path, code: str, *, region: Path | None = None, apply: bool = False) -> str:
    """Merge the CSV's postes into <UAI>.yaml: returns the diff; writes only with apply and a clean check."""
    region = region or DEFAULT_REGION
    problem = uai.problem(code)
    if problem:
        raise SocleError(problem, hint="--uai takes the établissement's UAI")
    target = region / "etablissements" / f"{code}.yaml"
    if not target.exists():
        raise SocleError(
            f"no inventory file for {code}",
            where=rel(target),
            hint="create the établissement first (copy a sample and change uai, name, commune, serveurs)",
        )
    rows = parse_csv(csv_path)
    doc, findings = checks.load_school(target)
    if doc is None or findings:
        raise SocleError(f"{rel(target)} is not valid yet", hint="run 'invoke inventory.check' and fix it first")
    school = doc.data
    salles = {str(s["id"]): s for s in school["salles"]}
    for row in rows:
        salle = salles.get(row.salle)
        if salle is None:
            if not row.profile:
                row.profile = "poste-linux"
            salle = {"id": row.salle, "usage": row.usage or "salle", "disciplines": row.disciplines,
                     "profile": row.profile, "postes": []}  # fmt: skip
            school["salles"].append(salle)
            salles[row.salle] = salle
        existing = {p["hostname"]: p for p in salle["postes"]}
        entry = {"hostname": row.hostname, "mac": row.mac, "ip": row.ip}
        if row.asset:
            entry["asset"] = row.asset
        if row.model:
            entry["model"] = row.model
        if row.hostname in existing:
            existing[row.hostname].update(entry)
        else:
            salle["postes"].append(entry)
    new_text = render(school)
    old_text = target.read_text()
    diff = "".join(
        difflib.unified_diff(
            old_text.splitlines(True), new_text.splitlines(True), rel(target), rel(target) + " (import)"
        )
    )
    if apply and diff:
        with tempfile.TemporaryDirectory() as tmp:
            scratch = Path(tmp)
            (scratch / "etablissements").mkdir()
            for p in school_files(region):
                (scratch / "etablissements" / p.name).write_text(p.read_text())
            (scratch / "etablissements" / target.name).write_text(new_text)
            errs = [f for f in checks.check(scratch) if f.severity == "error"]
        if errs:
            text = "\n  ".join(f.render() for f in errs[:10])
            raise SocleError(f"the import would make the inventory invalid; nothing was written:\n  {text}")
        target.write_text(new_text)
    return diff
