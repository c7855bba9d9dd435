"""The software catalogue: software cards (technical truth) and discipline tables (pedagogical choice).

Layout (software_catalogue/):
    taxonomy.yaml               disciplines and functions (controlled vocabulary)
    software/<id>.yaml          one card per software, owned by regional IT
    disciplines/<id>.yaml       one choice table per discipline (commun = every poste)
    exceptions.yaml             written, expiring waivers of a check for one target

:func:`load_catalogue` reads every file and never raises on bad content: what could not be read
is kept for the checks (``socle.catalogue.checks``) to report.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from socle.core.errors import SocleError
from socle.core.files import regular_file_in
from socle.core.paths import CATALOGUE_DIR, rel
from socle.core.yamlio import Document, KeyPath, load

LEVELS = ("college", "lycee-gt", "lycee-pro", "post-bac")
#: folder -> (JSON Schema of its files, what belongs there)
FOLDERS = {
    "software": ("software-card", "cards are YAML files named <id>.yaml"),
    "disciplines": ("discipline-table", "tables are YAML files named <discipline>.yaml"),
}


@dataclass
class Row:
    discipline: str
    index: int
    data: dict[str, Any]
    doc: Document

    @property
    def keypath(self) -> KeyPath:
        return ("choices", self.index)

    @property
    def function(self) -> str:
        return str(self.data.get("function", ""))

    @property
    def software(self) -> str:
        return str(self.data.get("software", ""))


@dataclass
class SourceFile:
    """One file of the catalogue as read: its document, or the error that stopped its reading."""

    path: str
    schema: str
    doc: Document | None = None
    error: SocleError | None = None


@dataclass
class Catalogue:
    root: Path
    taxonomy: Document | None = None
    cards: dict[str, Document] = field(default_factory=dict)
    tables: dict[str, Document] = field(default_factory=dict)
    exceptions: Document | None = None
    #: every YAML file read, in order
    files: list[SourceFile] = field(default_factory=list)
    #: files that do not belong where they are: (path, folder, what belongs there)
    unexpected: list[tuple[str, str, str]] = field(default_factory=list)

    # convenience views
    @property
    def disciplines(self) -> dict[str, Any]:
        return (self.taxonomy.data or {}).get("disciplines", {}) if self.taxonomy else {}

    @property
    def functions(self) -> dict[str, Any]:
        return (self.taxonomy.data or {}).get("functions", {}) if self.taxonomy else {}

    @property
    def taxonomy_path(self) -> Path:
        return self.root / "taxonomy.yaml"

    def rows(self) -> list[Row]:
        out = []
        for name, doc in sorted(self.tables.items()):
            for i, row in enumerate((doc.data or {}).get("choices") or []):
                if isinstance(row, dict):
                    out.append(Row(name, i, row, doc))
        return out

    def card(self, cid: str) -> dict[str, Any] | None:
        doc = self.cards.get(cid)
        return doc.data if doc and isinstance(doc.data, dict) else None


def _read(cat: Catalogue, path: Path, schema: str) -> Document | None:
    source = SourceFile(rel(path), schema)
    cat.files.append(source)
    try:
        source.doc = load(regular_file_in(path, cat.root))
    except SocleError as exc:
        source.error = exc
        return None
    source.doc.path = Path(rel(path))
    return source.doc


def load_catalogue(root: Path | None = None) -> Catalogue:
    """Load every file; unreadable files and misplaced ones are kept for the checks (never raised)."""
    root = root or CATALOGUE_DIR
    if not root.is_dir():
        raise SocleError("catalogue directory not found", where=str(root), hint="run from the project checkout")
    cat = Catalogue(root)
    if cat.taxonomy_path.exists():
        cat.taxonomy = _read(cat, cat.taxonomy_path, "catalogue-taxonomy")
    for (folder, (schema, what)), into in zip(FOLDERS.items(), (cat.cards, cat.tables), strict=True):
        for path in sorted((root / folder).glob("*")):
            if path.suffix not in {".yaml", ".yml"}:
                cat.unexpected.append((rel(path), folder, what))
                continue
            doc = _read(cat, path, schema)
            if doc is not None:
                into[path.stem] = doc
    exc = root / "exceptions.yaml"
    if exc.exists():
        cat.exceptions = _read(cat, exc, "catalogue-exceptions")
    return cat


def last_year_end(cat: Catalogue) -> dict[str, dt.date]:
    """Card id -> 31 August of the last school year a well-formed row chooses it for."""
    last_end: dict[str, dt.date] = {}
    for row in cat.rows():
        starts = [int(m.group(1)) for m in map(school_year_match, row.data.get("school_years") or []) if m]
        if starts:
            end = dt.date(max(starts) + 1, 8, 31)
            last_end[row.software] = max(last_end.get(row.software, end), end)
    return last_end


def school_year_match(year: object) -> re.Match[str] | None:
    """A well-formed school year (``2026-2027``: the second year is the first + 1), as a match."""
    m = re.fullmatch(r"(\d{4})-(\d{4})", str(year))
    return m if m and int(m.group(2)) == int(m.group(1)) + 1 else None


def upstream_version(version: str) -> str:
    """The upstream part of a Debian version (no epoch, no revision, no repack suffix)."""
    v = re.sub(r"^\d+:", "", version)
    if "-" in v:
        v = v.rsplit("-", 1)[0]
    return re.split(r"[+~](?:dfsg|ds|really|git|lgpl)", v)[0]
