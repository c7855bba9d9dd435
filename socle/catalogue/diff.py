"""The teacher's pull-request flow: `catalogue.diff` (impact report) and `catalogue.request` (scaffold)."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from socle import ROOT, catalogue, masters, uai
from socle.errors import SocleError
from socle.findings import errors
from socle.yamlio import dumps


# --- diff -------------------------------------------------------------------------------------
def _catalogue_at(rev: str, repo: Path, dest: Path) -> Path:
    """Extract software_catalogue/ as of git revision ``rev`` into ``dest``."""
    check = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", f"{rev}^{{commit}}"], capture_output=True)
    if check.returncode:
        raise SocleError(f"unknown git revision '{rev}'", hint="give a branch, tag or commit, such as origin/main")
    proc = subprocess.run(["git", "-C", str(repo), "archive", rev, "software_catalogue"], capture_output=True)
    root = dest / "software_catalogue"
    if proc.returncode:  # the revision has no catalogue yet
        (root / "software").mkdir(parents=True)
        (root / "disciplines").mkdir()
        return root
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return root


def _changed_keys(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            out += _changed_keys(old.get(key), new.get(key), f"{prefix}.{key}" if prefix else str(key))
        return out
    return [] if old == new else [prefix or "(value)"]


def _rows(cat: catalogue.Catalogue) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r.discipline, r.function): r.data for r in cat.rows()}


def _disk(cat: catalogue.Catalogue, software: set[str]) -> int:
    total = 0
    for sid in software:
        total += int((((cat.card(sid) or {}).get("platforms") or {}).get("linux") or {}).get("disk_mb") or 0)
    return total


def _cost(cat: catalogue.Catalogue, software: set[str]) -> float:
    return sum(float(((cat.card(s) or {}).get("licence") or {}).get("cost_eur_per_year") or 0) for s in software)


@dataclass
class Room:
    uai: str
    school: str
    room: str
    disciplines: list[str]
    profile: str
    postes: int


def inventory_rooms() -> list[Room]:
    """The rooms of the default inventory, with their disciplines and number of postes."""
    from socle import inventory

    return [Room(**r) for r in inventory.rooms_summary()]


def diff(base: str, *, repo: Path | None = None, year: str | None = None, rooms: list[Room] | None = None) -> str:
    """Deterministic Markdown report of what changes between ``base`` and the working tree."""
    repo = repo or ROOT
    year = year or masters.resolve_year(None)
    with tempfile.TemporaryDirectory() as tmp:
        old = catalogue.load_catalogue(_catalogue_at(base, repo, Path(tmp)))
        new = catalogue.load_catalogue(repo / "software_catalogue")
        return _report(base, old, new, year, inventory_rooms() if rooms is None else rooms)


def _report(base: str, old: catalogue.Catalogue, new: catalogue.Catalogue, year: str, rooms: list[Room]) -> str:
    out = [f"# Catalogue change report (base `{base}`, school year {year})", ""]
    added = sorted(set(new.cards) - set(old.cards))
    removed = sorted(set(old.cards) - set(new.cards))
    changed = {c: _changed_keys(old.card(c), new.card(c)) for c in sorted(set(old.cards) & set(new.cards))}
    changed = {c: keys for c, keys in changed.items() if keys}
    out += ["## Software cards", ""]
    if not (added or removed or changed):
        out.append("No card changed.")
    for c in added:
        card = new.card(c) or {}
        out.append(f"- **added** `{c}` — {card.get('name', '?')} {card.get('version', '')}")
    for c in removed:
        out.append(f"- **removed** `{c}`")
    for c, keys in changed.items():
        out.append(f"- **changed** `{c}`: {', '.join(keys)}")
    old_rows, new_rows = _rows(old), _rows(new)
    out += ["", "## Discipline choices", ""]
    row_lines = []
    for key in sorted(set(old_rows) | set(new_rows)):
        a, b = old_rows.get(key), new_rows.get(key)
        label = f"{key[0]} / {key[1]}"
        if a is None and b is not None:
            row_lines.append(f"- **added** {label} → `{b.get('software')}` ({', '.join(b.get('levels') or [])})")
        elif b is None and a is not None:
            row_lines.append(f"- **removed** {label} (was `{a.get('software')}`)")
        elif a != b:
            keys = _changed_keys(a, b)
            what = f"`{a.get('software')}` → `{b.get('software')}`" if a.get("software") != b.get("software") else ""
            row_lines.append(f"- **changed** {label} {what} ({', '.join(keys)})".replace("  ", " "))
    out += row_lines or ["No choice changed."]
    # masters
    out += [
        "",
        "## Masters",
        "",
        "| master | gains | loses | disk (MB) | licence cost (€/year) |",
        "|---|---|---|---|---|",
    ]
    for profile in masters.available_profiles(year):
        try:
            spec = masters.load_spec(profile, year)
        except SocleError:
            continue
        if spec.data.get("platform") != "linux":
            continue
        sel = spec.data.get("catalogue", {})
        args = {"year": year, "disciplines": sel.get("disciplines", []), "software": sel.get("software", [])}
        try:
            before = set(catalogue.select_software(old, **args))
        except SocleError:
            before = set()
        after = set(catalogue.select_software(new, **args))
        gains, loses = sorted(after - before), sorted(before - after)
        disk = _disk(new, after) - _disk(old, before)
        cost = _cost(new, after) - _cost(old, before)
        out.append(
            f"| {profile} {year} | {', '.join(gains) or '—'} | {', '.join(loses) or '—'} | {disk:+d} | {cost:+.0f} |"
        )
    # établissements and salles
    out += ["", "## Établissements and salles", ""]
    if not rooms:
        out.append("No inventory rooms found: impact per salle not computed.")
    else:
        lines = []
        seats_need: dict[str, int] = {}
        for room in sorted(rooms, key=lambda r: (r.uai, r.room)):
            args = {"year": year, "disciplines": room.disciplines}
            try:
                before = set(catalogue.select_software(old, **args))
            except SocleError:
                before = set()
            try:
                after = set(catalogue.select_software(new, **args))
            except SocleError:
                continue
            for sid in after:
                seats_need[sid] = seats_need.get(sid, 0) + room.postes
            if before != after:
                gains, loses = sorted(after - before), sorted(before - after)
                lines.append(
                    f"| {room.uai} {room.school} | {room.room} | {room.postes} | "
                    f"{', '.join(gains) or '—'} | {', '.join(loses) or '—'} |"
                )
        if lines:
            out += ["| établissement | salle | postes | gains | loses |", "|---|---|---|---|---|", *lines]
        else:
            out.append("No salle gains or loses software.")
        seat_lines = []
        for sid, need in sorted(seats_need.items()):
            seats = ((new.card(sid) or {}).get("licence") or {}).get("seats")
            if seats:
                flag = "OK" if seats >= need else "**not enough seats**"
                seat_lines.append(f"| {sid} | {seats} | {need} | {flag} |")
        if seat_lines:
            out += ["", "### Licence seats", "", "| software | seats | postes concerned | |", "|---|---|---|---|"]
            out += seat_lines
    findings = catalogue.check(new.root)
    errs = errors(findings)
    out += ["", "## Checks", "", f"{len(errs)} error(s), {len(findings) - len(errs)} warning(s)/note(s)."]
    out += [f"- `{f.check}` {f.file}:{f.line} {f.message}" for f in errs[:50]]
    return "\n".join(out) + "\n"


# --- request ----------------------------------------------------------------------------------
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
) -> list[Path]:
    """Scaffold a card (when new) and a table row; validate everything before writing anything."""
    root = root or catalogue.CATALOGUE_DIR
    today = today or dt.date.today()
    values = {k: v for k, v in values.items() if v}
    cat = catalogue.load_catalogue(root)
    needed = dict(FIELDS)
    if values.get("software") not in cat.cards:
        needed.update(CARD_FIELDS)
    for key, prompt in needed.items():
        if key not in values and ask is not None:
            values[key] = ask(key, prompt).strip()
        if key == "software" and values.get("software") in cat.cards:
            needed = {k: v for k, v in needed.items() if k not in CARD_FIELDS}
    missing = [k for k in needed if not values.get(k)]
    if missing:
        opts = " ".join(f"--{k.replace('_', '-')}=…" for k in missing)
        raise SocleError(f"missing: {', '.join(missing)}", hint=f"give them as options: {opts} (or run in a terminal)")
    problem = uai.problem(values["uai"])
    if problem:
        raise SocleError(problem, hint="--uai takes your établissement's UAI")
    disc = values["discipline"]
    if disc not in cat.tables:
        raise SocleError(f"unknown discipline '{disc}'", hint=f"use one of: {', '.join(sorted(cat.tables))}")
    year = values.get("year") or masters.school_year_of(today)
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
        found = [f for f in errors(catalogue.check(scratch, today=today)) if any(f.file.endswith(t) for t in touched)]
    if found:
        text = "\n".join(f.render().replace(str(scratch), str(root)) for f in found[:10])
        raise SocleError(f"the request is not valid; nothing was written:\n{text}")
    for path, content in writes.items():
        path.write_text(content)
    return sorted(writes)


def _debian_version(pkg: str) -> str:
    from socle import debian

    index = debian.load("trixie") or {}
    if pkg not in index:
        raise SocleError(
            f"Debian package '{pkg}' does not exist in trixie", hint="check the name with apt-cache search"
        )
    return catalogue.upstream_version(index[pkg][0])


def terminal_ask(key: str, prompt: str) -> str:
    if not sys.stdin.isatty():
        return ""
    return input(f"{key} ({prompt}): ")
