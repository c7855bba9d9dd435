"""`invoke inventory.import`: postes from a CMIL spreadsheet or a linuxmuster ``devices.csv`` into an
établissement file, checked region-wide in a scratch copy; a dry run with a diff unless applied.

The file is edited, not re-rendered: the CMIL's comments and layout stay (ruamel.yaml round trip), and
the result must read back as the merged data. Duplicate MACs and host names, in the CSV or against the
Région's inventory, are refused with the CSV's line numbers, in the dry run already. linuxmuster roles
(``server`` becomes a serveur) and hardware classes (a new salle's profile) come from a mapping file
(``data/import/linuxmuster.yaml``)."""

from __future__ import annotations

import copy
import csv
import difflib
import io
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from socle.core import uai
from socle.core.errors import SocleError
from socle.core.files import locked, read_input, shorten, write_atomic
from socle.core.paths import ROOT, rel
from socle.core.yamlio import load
from socle.inventory import checks
from socle.inventory.model import (
    _LOADER,
    DEFAULT_REGION,
    MAC,
    RESERVED_HOSTNAMES,
    address_problem,
    fast_load,
    scalar,
    school_files,
)

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


#: linuxmuster roles and hardware classes -> socle (data/import/linuxmuster.yaml)
DEFAULT_MAPPING = ROOT / "data" / "import" / "linuxmuster.yaml"
KINDS = ("poste", "serveur", "ignore")
_PROFILE = re.compile(r"[a-z0-9][a-z0-9-]{0,40}")


@dataclass(frozen=True)
class Mapping:
    roles: dict[str, str]
    default_role: str
    hardware_classes: dict[str, str]
    default_profile: str


def load_mapping(path: Path | None = None) -> Mapping:
    """The linuxmuster mapping file, checked (located errors)."""
    doc = load(path or DEFAULT_MAPPING)
    data = doc.data if isinstance(doc.data, dict) else {}

    def bad(key: tuple[str, ...], what: str) -> SocleError:
        return SocleError(what, where=doc.where(key), hint="see data/import/linuxmuster.yaml")

    roles, classes = data.get("roles"), data.get("hardware_classes", {})
    if not isinstance(roles, dict) or not isinstance(classes, dict):
        raise bad((), "roles and hardware_classes must be mappings")
    for role, kind in roles.items():
        if kind not in KINDS:
            raise bad(("roles", role), f"role {str(role)[:40]}: '{str(kind)[:40]}' is not one of {', '.join(KINDS)}")
    if data.get("default_role", "poste") not in KINDS:
        raise bad(("default_role",), f"default_role must be one of {', '.join(KINDS)}")
    for hw, profile in [*classes.items(), ("default_profile", data.get("default_profile", "poste-linux"))]:
        if not isinstance(profile, str) or not _PROFILE.fullmatch(profile):
            key = ("default_profile",) if hw == "default_profile" else ("hardware_classes", hw)
            raise bad(key, f"'{str(profile)[:40]}' is not a master profile name")
    return Mapping(
        roles={str(k).lower(): v for k, v in roles.items()},
        default_role=data.get("default_role", "poste"),
        hardware_classes={str(k).lower(): v for k, v in classes.items()},
        default_profile=data.get("default_profile", "poste-linux"),
    )


#: what a column header looks like (echoed in errors); anything else is not shown
_HEADER_WORD = re.compile(r"^[a-z][a-z0-9 '.()-]{0,39}$")


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
    #: poste, or serveur (a linuxmuster ``server`` row)
    kind: str = "poste"


def parse_csv(path: Path, mapping: Mapping | None = None) -> list[ImportRow]:
    """CMIL spreadsheet (header row, ; or , separated, French headers) or linuxmuster devices.csv (its
    roles and hardware classes through ``mapping``)."""
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
            # a header word is echoed, never what a file that is no spreadsheet holds (--csv /etc/shadow)
            shown = [h for h in unknown if _HEADER_WORD.match(h)][:8]
            hidden = len(unknown) - len(shown)
            listed = ", ".join(shown + ([f"{hidden} not shown"] if hidden else [])) or "none"
            raise SocleError(
                f"missing column(s): {', '.join(sorted(missing))} (unknown: {listed})",
                where=f"{path}:1",
                hint="columns: salle; nom; adresse MAC; IP; numéro d'inventaire; modèle (see docs/inventories.md)",
            )
    else:
        reader = csv.reader(io.StringIO(text), delimiter=";")
    try:
        for lineno, cells in enumerate(reader, start=2 if header is not None else 1):
            if not cells or not "".join(cells).strip() or cells[0].startswith("#"):
                continue
            kind, profile = "poste", None
            if header is None:  # linuxmuster: room;host;hardware class;mac;ip;…;role (9th);…
                if len(cells) < 5:
                    errors.append(f"{path}:{lineno}: expected at least 5 ';' fields (room;host;group;mac;ip)")
                    continue
                mapping = mapping or load_mapping()
                role = (cells[8] if len(cells) > 8 else "").strip().lower()
                kind = mapping.roles.get(role, "") if role else mapping.default_role
                if not kind:
                    errors.append(f"{path}:{lineno}: linuxmuster role '{shorten(role, 40)}' is not in the mapping "
                                  "file (data/import/linuxmuster.yaml, roles)")  # fmt: skip
                    continue
                if kind == "ignore":
                    continue
                profile = mapping.hardware_classes.get(cells[2].strip().lower(), mapping.default_profile)
                values = {"salle": cells[0], "hostname": cells[1], "mac": cells[3], "ip": cells[4] or "dhcp"}
            else:
                values = {f: c.strip() for f, c in zip(fields, cells, strict=False) if f}
            row, problem = _row(values, lineno)
            if row is not None:
                row.kind = kind
                row.profile = profile if profile is not None else row.profile
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


def import_csv(csv_path: Path, code: str, *, region: Path | None = None, apply: bool = False,
               mapping: Path | None = None) -> str:  # fmt: skip
    """Merge the CSV's postes (and linuxmuster serveurs) into <UAI>.yaml: returns the diff. The whole
    Région is checked with the result in place, in the dry run too; it is written only with apply."""
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
    rows = parse_csv(csv_path, load_mapping(mapping) if mapping else None)
    # one import of this établissement at a time: a second operator waits, then merges into the result
    with locked(target, what=f"the inventory of {code}"):
        clashes = conflicts(csv_path, rows, region, code)
        if clashes:
            more = f"\n  … and {len(clashes) - 20} more" if len(clashes) > 20 else ""
            raise SocleError(
                f"{len(clashes)} duplicate(s); nothing was imported:\n  " + "\n  ".join(clashes[:20]) + more,
                hint="each poste has its own MAC address and host name: fix the spreadsheet",
            )
        old_text = target.read_text()
        new_text = _merged(target, old_text, rows)
        diff = "".join(
            difflib.unified_diff(
                old_text.splitlines(True), new_text.splitlines(True), rel(target), rel(target) + " (import)"
            )
        )
        if diff:
            _region_check(region, target, new_text)
        if apply and diff:
            write_atomic(target, new_text)
    return diff


def conflicts(csv_path: Path, rows: list[ImportRow], region: Path, code: str) -> list[str]:
    """MAC addresses and host names the CSV gives twice, or that another poste of the Région already
    has (a host name of this établissement is an update), each with its CSV line."""
    found: list[str] = []
    first: dict[tuple[str, str], int] = {}
    for row in rows:
        for what, value in (("MAC address", row.mac), ("host name", row.hostname)):
            line = first.setdefault((what, value), row.line)
            if line != row.line:
                found.append(f"{csv_path}:{row.line}: {what} {value} is already on line {line} of the file")
    owners: dict[tuple[str, str], tuple[str, str]] = {}
    for school in fast_load(region):
        machines = [(p, str(s["id"])) for s in school.get("salles") or [] for p in s.get("postes") or []]
        machines += [(v, "serveurs") for v in school.get("serveurs") or []]
        for machine, where in machines:
            owner = (str(school["uai"]), f"{machine['hostname']} ({school['uai']}/{where})")
            owners[("host name", str(machine["hostname"]))] = owner
            if machine.get("mac"):
                owners[("MAC address", str(machine["mac"]).lower())] = owner
    for row in rows:
        for what, value in (("MAC address", row.mac), ("host name", row.hostname)):
            owner = owners.get((what, value))
            if owner is None or (owner[0] == code and owner[1].split(" ")[0] == row.hostname):
                continue  # free, or this very poste (an update)
            found.append(f"{csv_path}:{row.line}: {what} {value} belongs to {owner[1]}")
    return found


def _round_trip() -> YAML:
    rt = YAML()  # round trip: comments, order, quotes and flow style stay as the CMIL wrote them
    rt.preserve_quotes = True
    rt.width = 4096
    rt.indent(mapping=2, sequence=4, offset=2)
    return rt


def _text(value: str) -> Any:
    """A value from the spreadsheet, quoted when a YAML 1.1 reader would not read it back as this text."""
    return DoubleQuotedScalarString(value) if scalar(value).startswith('"') else value


def _flow(entry: dict[str, str]) -> CommentedMap:
    out = CommentedMap((k, _text(v)) for k, v in entry.items())
    out.fa.set_flow_style()  # one poste per line, as the file has them
    return out


def _append(seq: Any, item: Any, *, edited: bool) -> None:
    """Append ``item``; in the round-trip document, the comment lines that followed the last item (the
    CMIL's note above the next key) move below the new one, so they stay above what they describe."""
    last = seq[-1] if edited and len(seq) and isinstance(seq[-1], CommentedMap) and seq[-1] else None
    seq.append(item)
    if last is None:
        return
    key = list(last.keys())[-1]
    tail = last.ca.items.get(key)
    token = tail[2] if tail and len(tail) > 2 else None
    if token is not None and str(token.value).startswith("\n"):  # whole lines, not an end-of-line comment
        del last.ca.items[key]
        seq.ca.items[len(seq) - 1] = [token, None]


def _merged(target: Path, text: str, rows: list[ImportRow]) -> str:
    """The établissement file with the rows merged in (existing postes and serveurs updated by host
    name), edited in place; checked to read back as the merged data."""
    doc, findings = checks.load_school(target)
    if doc is None or findings:
        raise SocleError(f"{rel(target)} is not valid yet", hint="run 'invoke inventory.check' and fix it first")
    expected = copy.deepcopy(doc.data)
    rt = _round_trip()
    edited = rt.load(text)
    for school in (expected, edited):
        _merge(school, rows, edited=school is edited)
    out = io.StringIO()
    rt.dump(edited, out)
    new_text = out.getvalue()
    if yaml.load(new_text, Loader=_LOADER) != expected:
        raise SocleError("the établissement file would not read back as the import means (a serializer bug)",
                         where=rel(target), hint="report it; nothing was written")  # fmt: skip
    return new_text


def _merge(school: Any, rows: list[ImportRow], *, edited: bool) -> None:
    """Merge ``rows`` into ``school``: plain data, or the round-trip document (``edited``)."""

    def entry(values: dict[str, str]) -> Any:
        return _flow(values) if edited else values

    if school.get("salles") is None:
        school["salles"] = CommentedSeq() if edited else []
    salles = {str(s["id"]): s for s in school["salles"]}
    for row in rows:
        fields = {"hostname": row.hostname, "mac": row.mac, "ip": row.ip}
        fields.update({k: v for k, v in (("asset", row.asset), ("model", row.model)) if v})
        if row.kind == "serveur":
            serveurs = {v["hostname"]: v for v in school.setdefault("serveurs", [])}
            if row.hostname in serveurs:
                serveurs[row.hostname].update({k: _text(v) if edited else v for k, v in fields.items()})
            else:
                _append(
                    school["serveurs"], entry({"hostname": row.hostname, "role": "serveur", **fields}), edited=edited
                )
            continue
        salle = salles.get(row.salle)
        if salle is None:
            salle = {"id": row.salle, "usage": row.usage or "salle", "disciplines": row.disciplines,
                     "profile": row.profile or "poste-linux", "postes": []}  # fmt: skip
            if edited:
                salle = CommentedMap((k, _text(v) if isinstance(v, str) else v) for k, v in salle.items())
                salle["disciplines"] = CommentedSeq(_text(d) for d in row.disciplines)
                salle["disciplines"].fa.set_flow_style()
                salle["postes"] = CommentedSeq()
            _append(school["salles"], salle, edited=edited)
            salles[row.salle] = salle
        existing = {p["hostname"]: p for p in salle["postes"]}
        if row.hostname in existing:
            existing[row.hostname].update({k: _text(v) if edited else v for k, v in fields.items()})
        else:
            _append(salle["postes"], entry(fields), edited=edited)


def _region_check(region: Path, target: Path, new_text: str) -> None:
    """The whole Région's inventory with ``new_text`` in place of ``target`` has no error; errors name
    the établissement file, not the scratch copy."""
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        (scratch / "etablissements").mkdir()
        for p in school_files(region):
            (scratch / "etablissements" / p.name).write_bytes(p.read_bytes())
        (scratch / "etablissements" / target.name).write_text(new_text)
        errs = [f for f in checks.check(scratch) if f.severity == "error"]
        text = "\n  ".join(f.render().replace(str(scratch / "etablissements"), str(rel(target.parent)))
                           for f in errs[:10])  # fmt: skip
    if errs:
        raise SocleError(f"the import would make the inventory invalid; nothing was written:\n  {text}")
