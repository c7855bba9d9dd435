"""`invoke catalogue.request`: a teacher's request scaffolded (a new card when needed, a table
row), validated in a scratch copy before anything is written."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from socle.catalogue import checks
from socle.catalogue.model import load_catalogue, school_year_match, upstream_version
from socle.core import debian, uai
from socle.core.clock import school_year_of
from socle.core.errors import SocleError
from socle.core.files import locked, shorten, write_atomic
from socle.core.findings import errors
from socle.core.paths import CATALOGUE_DIR
from socle.core.yamlio import dumps

FIELDS: dict[str, str] = {
    "software": "card id (lower case, dashes), e.g. geogebra",
    "discipline": "discipline id, e.g. mathematiques",
    "function": "function id from taxonomy.yaml, e.g. geometrie-dynamique",
    "requester": "your name",
    "uai": "UAI of your établissement (7 digits + letter)",
    "rationale": "why this software (programme, use in class)",
}
CARD_FIELDS: dict[str, str] = {
    "name": "software name",
    "publisher": "publisher",
    "homepage": "https:// homepage",
    "summary": "one sentence in French",
    "debian_package": "Debian package name (trixie)",
    "licence": "SPDX licence id, e.g. GPL-3.0-or-later",
}


def request(
    values: dict[str, str],
    *,
    root: Path | None = None,
    ask: Callable[[str, str], str] | None = None,
    today: dt.date | None = None,
    form: dict[str, str] | None = None,
) -> list[Path]:
    """Scaffold a card (when new) and a table row; validate everything before writing anything.
    ``form`` names the values as the issue form does (key -> label), for a request written there."""
    root = root or CATALOGUE_DIR
    # one request at a time on this catalogue: a second teacher's request waits, then adds its own row
    with locked(root, what="the software catalogue"):
        return _request(values, root=root, ask=ask, today=today or dt.date.today(), form=form)


def _request(values: dict[str, str], *, root: Path, ask: Callable[[str, str], str] | None,
             today: dt.date, form: dict[str, str] | None) -> list[Path]:  # fmt: skip
    values = {k: v for k, v in values.items() if v}
    cat = load_catalogue(root)
    needed = dict(FIELDS)
    if values.get("software") not in cat.cards:
        needed.update(CARD_FIELDS)
    for key, prompt in needed.items():
        if key not in values and ask is not None:
            values[key] = ask(key, prompt).strip()
        if key == "software" and values.get("software") in cat.cards:
            needed = {k: v for k, v in needed.items() if k not in CARD_FIELDS}
    missing = [k for k in needed if not values.get(k)]
    if missing and form:
        labels = ", ".join(f"« {form.get(k, k)} »" for k in missing)
        hint = "fill in these fields of the issue (a software without a card needs them all)"
        raise SocleError(f"missing in the form: {labels}", hint=hint)
    if missing:
        opts = " ".join(f"--{k.replace('_', '-')}=…" for k in missing)
        raise SocleError(f"missing: {', '.join(missing)}", hint=f"give them as options: {opts} (or run in a terminal)")
    _check_names(values)
    problem = uai.problem(values["uai"])
    if problem:
        raise SocleError(problem, hint="--uai takes your établissement's UAI")
    disc = values["discipline"]
    if disc not in cat.tables:
        raise SocleError(f"unknown discipline '{disc}'", hint=f"use one of: {', '.join(sorted(cat.tables))}")
    year = values.get("year") or school_year_of(today)
    start = int(year[:4])
    levels = [lv for lv in values.get("levels", "").split(",") if lv] or list(
        (cat.disciplines.get(disc) or {}).get("levels") or ["lycee-gt"]
    )
    row = {
        "function": values["function"],
        "software": values["software"],
        "levels": levels,
        "school_years": [f"{start + 1}-{start + 2}"] if not values.get("year") else [year],
        "rationale_fr": values["rationale"],
        "requested_by": {"name": values["requester"], "role": "enseignant", "uai": values["uai"], "date": str(today)},
        "approved_by": [],
    }
    writes: dict[Path, str] = {}
    sid = values["software"]
    if sid not in cat.cards:
        pkg = values["debian_package"]
        card = {
            "schema_version": 1,
            "id": sid,
            "name": values["name"],
            "publisher": values["publisher"],
            "homepage": values["homepage"],
            "summary_fr": values["summary"],
            "kind": "desktop",
            "ui_languages": ["fr"],
            "version": values.get("version") or _debian_version(pkg),
            "update_policy": "frozen-for-year",
            "platforms": {"linux": {"source": "apt", "apt": {"packages": [pkg], "suite": "trixie"}, "disk_mb": 0}},
            "requires": [],
            "conflicts_with": [],
            "licence": {
                "spdx": values["licence"],
                "category": "open-source",
                "model": "free",
                "cost_eur_per_year": 0,
                "redistributable": True,
            },
            "data_protection": {
                "processes_personal_data": False,
                "account_required": "none",
                "data_location": "none",
                "telemetry": "none",
            },
            "accessibility": {"keyboard_navigation": "unknown", "screen_reader": "unknown"},
            "offline_capable": True,
            "lifecycle": {"status": "proposed"},
        }
        writes[root / "software" / f"{sid}.yaml"] = (
            "# yaml-language-server: $schema=../../socle/schemas/software-card.schema.json\n"
            "# Draft from `invoke catalogue.request`: regional IT completes licence, RGPD and accessibility.\n"
            + dumps(card)
        )
    table = root / "disciplines" / f"{disc}.yaml"
    text = table.read_text()
    if not text.endswith("\n"):
        text += "\n"
    block = dumps([row])
    writes[table] = text + "".join(f"  {ln}\n" if ln else "\n" for ln in block.splitlines())
    # validate in a scratch copy; write nothing unless the result is clean
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp) / "software_catalogue"
        shutil.copytree(root, scratch)
        for path, content in writes.items():
            (scratch / path.relative_to(root)).write_text(content)
        touched = {str(p.relative_to(root)) for p in writes}
        found = [f for f in errors(checks.check(scratch, today=today)) if any(f.file.endswith(t) for t in touched)]
    if found:
        text = "\n".join(f.render().replace(str(scratch), str(root)) for f in found[:10])
        raise SocleError(f"the request is not valid; nothing was written:\n{text}")
    for path, content in writes.items():  # the card first: a table row never names a missing card
        write_atomic(path, content)
    return sorted(writes)


#: the values that become file names or identifiers
_NAMES = {
    "software": (re.compile(r"[a-z0-9][a-z0-9-]{0,62}"), "lower case letters, digits and dashes, e.g. geogebra"),
    "discipline": (re.compile(r"[a-z0-9][a-z0-9-]{0,62}"), "a discipline id, e.g. mathematiques"),
    "function": (re.compile(r"[a-z0-9][a-z0-9-]{0,62}"), "a function id from taxonomy.yaml"),
    "debian_package": (re.compile(r"[a-z0-9][a-z0-9+.-]{0,99}"), "a Debian package name"),
    "levels": (re.compile(r"[a-z0-9,-]{1,200}"), "level ids separated by commas, e.g. lycee-gt,lycee-pro"),
}


def _check_names(values: dict[str, str]) -> None:
    """Identifiers and file names are refused unless well formed; free text is bounded."""
    for key, (pattern, form) in _NAMES.items():
        if key in values and not pattern.fullmatch(values[key]):
            raise SocleError(f"--{key.replace('_', '-')} '{shorten(values[key], 40)}' is not valid", hint=f"use {form}")
    if "year" in values and not school_year_match(values["year"]):
        raise SocleError(f"--year '{shorten(values['year'], 20)}' is not a school year", hint="write it as 2027-2028")
    for key, value in values.items():
        if len(value) > 2000 or any(ord(c) < 32 and c not in "\n\t" for c in value):
            raise SocleError(f"--{key} is too long or holds control characters", hint="write plain text (at most 2000)")


def _debian_version(pkg: str) -> str:
    index = debian.load("trixie") or {}
    if pkg not in index:
        raise SocleError(
            f"Debian package '{pkg}' does not exist in trixie", hint="check the name with apt-cache search"
        )
    return upstream_version(index[pkg][0])


def terminal_ask(key: str, prompt: str) -> str:
    if not sys.stdin.isatty():
        return ""
    return input(f"{key} ({prompt}): ")
