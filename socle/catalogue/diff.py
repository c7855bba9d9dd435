"""`invoke catalogue.diff`: the impact report of a catalogue change, posted on the merge request
(cards, choices, masters, salles, disk, cost, seats)."""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from socle.catalogue import checks
from socle.catalogue.model import Catalogue, load_catalogue
from socle.catalogue.selection import select_software
from socle.core.errors import SocleError
from socle.core.findings import errors
from socle.core.i18n import translate
from socle.core.paths import ROOT
from socle.registry import specs


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


def _rows(cat: Catalogue) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r.discipline, r.function): r.data for r in cat.rows()}


def _disk(cat: Catalogue, software: set[str]) -> int:
    total = 0
    for sid in software:
        total += int((((cat.card(sid) or {}).get("platforms") or {}).get("linux") or {}).get("disk_mb") or 0)
    return total


def _cost(cat: Catalogue, software: set[str]) -> float:
    return sum(float(((cat.card(s) or {}).get("licence") or {}).get("cost_eur_per_year") or 0) for s in software)


@dataclass
class Room:
    uai: str
    school: str
    room: str
    disciplines: list[str]
    profile: str
    postes: int


def diff(base: str, *, rooms: list[Room], repo: Path | None = None, year: str | None = None) -> str:
    """Deterministic Markdown report of what changes between ``base`` and the working tree, for ``rooms``."""
    repo = repo or ROOT
    year = year or specs.resolve_year(None)
    with tempfile.TemporaryDirectory() as tmp:
        old = load_catalogue(_catalogue_at(base, repo, Path(tmp)))
        new = load_catalogue(repo / "software_catalogue")
        return _report(base, old, new, year, rooms)


def _report(base: str, old: Catalogue, new: Catalogue, year: str, rooms: list[Room]) -> str:
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
    for profile in specs.available_profiles(year):
        try:
            spec = specs.load_spec(profile, year)
        except SocleError:
            continue
        if spec.data.get("platform") != "linux":
            continue
        sel = spec.data.get("catalogue", {})
        args = {"year": year, "disciplines": sel.get("disciplines", []), "software": sel.get("software", [])}
        try:
            before = set(select_software(old, **args))
        except SocleError:
            before = set()
        after = set(select_software(new, **args))
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
                before = set(select_software(old, **args))
            except SocleError:
                before = set()
            try:
                after = set(select_software(new, **args))
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
                flag = "OK" if seats >= need else f"**{translate('not enough seats')}**"
                seat_lines.append(f"| {sid} | {seats} | {need} | {flag} |")
        if seat_lines:
            out += ["", "### Licence seats", "", "| software | seats | postes concerned | |", "|---|---|---|---|"]
            out += seat_lines
    findings = checks.check(new.root)
    errs = errors(findings)
    out += ["", "## Checks", "", f"{len(errs)} error(s), {len(findings) - len(errs)} warning(s)/note(s)."]
    out += [f"- `{f.check}` {f.file}:{f.line} {f.message}" for f in errs[:50]]
    return "\n".join(translate(line) for line in out) + "\n"  # in the reader's language (socle/locale/fr.yaml)
