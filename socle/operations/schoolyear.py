"""`invoke year.new`: next school year's specs and rollout, made from this year's, and what each
discipline table needs for it (their owners decide: nothing is written in the catalogue)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from socle.catalogue.model import load_catalogue
from socle.core.errors import SocleError
from socle.core.paths import rel
from socle.operations import maintenance
from socle.registry import rollout, specs


@dataclass
class NewYear:
    year: str
    source: str
    folder: Path
    files: list[str]
    #: discipline -> software chosen for the source year and not (yet) for the new one
    to_decide: dict[str, list[str]] = field(default_factory=dict)
    #: discipline -> software already chosen for the new year
    carried: dict[str, list[str]] = field(default_factory=dict)
    calendar: bool = False


def _shift_date(match: re.Match[str]) -> str:
    day = dt.date.fromisoformat(match.group(1))
    try:
        return f'"{day.replace(year=day.year + 1)}"'
    except ValueError:  # 29 February
        return f'"{day.replace(year=day.year + 1, day=28)}"'


def retarget(text: str, source: str, year: str, *, is_rollout: bool) -> str:
    """A spec or rollout of ``source`` rewritten for ``year``: the school year everywhere it is named
    (comments too), the version back to ``<year>.0``, the rollout's days one year later."""
    out = text.replace(source, year)
    out = re.sub(rf'(?m)^version: "?{re.escape(year)}\.\d+"?\s*$', f'version: "{year}.0"', out)
    if is_rollout:
        out = re.sub(r'"(\d{4}-\d{2}-\d{2})"', _shift_date, out)
    return out


def create(year: str, source: str = "") -> NewYear:
    """Create ``masters/<year>/`` from ``source`` (default: the year before), checked as a whole before
    it appears (nothing is left on error); say what the discipline tables need."""
    problem = maintenance.year_problem(year)
    if problem:
        raise SocleError(problem, hint="invoke year.new 2027-2028")
    first = int(year[:4])
    source = source or f"{first - 1}-{first}"
    target = specs.MASTERS_DIR / year
    if target.exists():
        raise SocleError(f"{rel(target)} exists already", where=str(rel(target)),
                         hint="edit its files, or remove the folder to create it again")  # fmt: skip
    if source not in specs.available_years():
        known = ", ".join(specs.available_years()) or "none"
        raise SocleError(f"no masters for {source} to start {year} from",
                         hint=f"available: {known}; --source names another")  # fmt: skip
    staging = specs.MASTERS_DIR / f".{year}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        files = []
        for path in sorted((specs.MASTERS_DIR / source).iterdir()):
            if path.suffix not in {".yaml", ".yml"} or path.is_symlink():
                continue  # locks stay behind: a new year resolves its packages again (--update-lock)
            is_rollout = path.name == rollout.FILE
            (staging / path.name).write_text(retarget(path.read_text(), source, year, is_rollout=is_rollout))
            files.append(path.name)
        for name in files:  # the whole result is checked where it will live, before it appears
            if name != rollout.FILE:
                specs.checked_spec(staging / name, Path(name).stem, year)
        rollout.load_rollout(year, staging)
    except SocleError as exc:  # named in the source year's file: same lines, that is what to fix
        shutil.rmtree(staging, ignore_errors=True)
        source_dir = str(rel(specs.MASTERS_DIR / source))
        exc.message = exc.message.replace(str(staging), source_dir).replace(str(rel(staging)), source_dir)
        exc.where = exc.where and exc.where.replace(str(staging), source_dir).replace(str(rel(staging)), source_dir)
        raise
    staging.rename(target)
    result = NewYear(year, source, target, files, calendar=bool(maintenance.load_calendar(year)))
    for row in load_catalogue().rows():
        years = [str(y) for y in row.data.get("school_years") or []]
        if year in years:
            result.carried.setdefault(row.discipline, []).append(row.software)
        elif source in years:
            result.to_decide.setdefault(row.discipline, []).append(row.software)
    return result
