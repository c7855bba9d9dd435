"""`invoke inventory.import`: postes from a CMIL spreadsheet or a linuxmuster ``devices.csv`` into an
établissement file, checked region-wide in a scratch copy; a dry run with a diff unless applied."""

from __future__ import annotations

import csv
import difflib
import io
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from socle.core import uai
from socle.core.errors import SocleError
from socle.core.files import locked, read_input, shorten, write_atomic
from socle.core.paths import rel
from socle.inventory import checks
from socle.inventory.model import DEFAULT_REGION, MAC, RESERVED_HOSTNAMES, address_problem, render, school_files

#: a CMIL spreadsheet of a whole lycée is a few hundred KB
MAX_CSV_BYTES = 8 * 1024 * 1024
#: no cell of a spreadsheet is longer than this (a room's usage, a model name)
MAX_CELL = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

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
    text = read_input(path, max_bytes=MAX_CSV_BYTES, what="CMIL spreadsheet (CSV)", encoding="utf-8-sig")
    lines = text.splitlines()
    first = next((ln for ln in lines if ln.strip() and not ln.startswith("#")), "")
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    rows: list[ImportRow] = []
    errors: list[str] = []
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    fields: list[str | None] = []
    try:
        header = [_norm(h) for h in next(reader, [])] if not _is_linuxmuster(first) else None
    except csv.Error as exc:
        raise SocleError(f"unreadable CSV header: {exc}", where=f"{path}:1", hint="export it as CSV UTF-8") from None
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
    try:
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
            elif row is not None:
                rows.append(row)
    except csv.Error as exc:  # a field over the csv module's limit, a NUL byte
        raise SocleError(
            f"unreadable CSV near line {reader.line_num}: {exc}",
            where=f"{path}:{reader.line_num}",
            hint="export the spreadsheet again as CSV UTF-8 (one poste per line)",
        ) from None
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
    for key, value in values.items():
        if len(value) > MAX_CELL or _CONTROL.search(value):
            what = "is too long" if len(value) > MAX_CELL else "holds a line break or a control character"
            return None, f"the {key} cell {what}: '{shorten(value, 40)}'"
    host = values.get("hostname", "").strip().lower()
    mac = values.get("mac", "").strip().lower().replace("-", ":")
    salle = values.get("salle", "").strip()
    if not salle:
        return None, "salle is empty"
    if not host or not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", host):
        return None, f"hostname '{values.get('hostname', '')}' is not a valid host name (letters, digits, dashes)"
    if host in RESERVED_HOSTNAMES:
        return None, f"hostname '{host}' is reserved (it names a group); give the poste its real name"
    if not MAC.match(mac):
        return None, f"MAC address '{values.get('mac', '')}' is malformed (expected 52:54:00:12:34:56)"
    ip = values.get("ip", "").strip() or "dhcp"
    problem = address_problem(mac=mac, ip=ip.lower() if ip.lower() == "dhcp" else ip)
    if problem:
        return None, problem + (" (or write dhcp)" if problem.startswith("IP") else "")
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
    # one import of this établissement at a time: a second operator waits, then merges into the result
    with locked(target, what=f"the inventory of {code}"):
        old_text = target.read_text()
        new_text = _merged(target, rows)
        diff = "".join(
            difflib.unified_diff(
                old_text.splitlines(True), new_text.splitlines(True), rel(target), rel(target) + " (import)"
            )
        )
        if apply and diff:
            write_atomic(target, new_text, validate=lambda tmp: _region_check(region, target, tmp))
    return diff


def _merged(target: Path, rows: list[ImportRow]) -> str:
    """The établissement file with the rows merged in (existing postes updated by host name)."""
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
    return render(school)


def _region_check(region: Path, target: Path, candidate: Path) -> None:
    """The whole Région's inventory with ``candidate`` in place of ``target`` has no error."""
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        (scratch / "etablissements").mkdir()
        for p in school_files(region):
            (scratch / "etablissements" / p.name).write_bytes(p.read_bytes())
        (scratch / "etablissements" / target.name).write_bytes(candidate.read_bytes())
        errs = [f for f in checks.check(scratch) if f.severity == "error"]
    if errs:
        text = "\n  ".join(f.render() for f in errs[:10])
        raise SocleError(f"the import would make the inventory invalid; nothing was written:\n  {text}")
