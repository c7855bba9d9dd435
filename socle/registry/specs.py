"""Master specs: one YAML file per profile and school year, validated, with the profile's platform."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from socle.core.clock import school_year_of
from socle.core.errors import SocleError
from socle.core.files import regular_file_in
from socle.core.findings import errors
from socle.core.paths import ROOT, rel
from socle.core.schema import validate
from socle.core.yamlio import load

#: the specs, one folder per school year (SOCLE_MASTERS_DIR)
MASTERS_DIR = Path(os.environ.get("SOCLE_MASTERS_DIR", ROOT / "masters"))
DEFAULT_PROFILE = "poste-linux"
PLATFORMS = ("linux", "windows")


#: The management account of a Linux master whose spec does not name one (inventory ``ansible_user``).
DEFAULT_MANAGEMENT_ACCOUNT = "ansible"


@dataclass
class MasterSpec:
    path: Path
    data: dict[str, Any]

    @property
    def profile(self) -> str:
        return str(self.data["profile"])

    @property
    def year(self) -> str:
        return str(self.data["school_year"])

    @property
    def version(self) -> str:
        return str(self.data["version"])

    @property
    def platform(self) -> str:
        return str(self.data["platform"])

    @property
    def management_account(self) -> str:
        """The account the Région's controllers connect as (management role, inventory ``ansible_user``)."""
        return str(self.data.get("management", {}).get("account", DEFAULT_MANAGEMENT_ACCOUNT))

    @property
    def lock_path(self) -> Path:
        return self.path.with_suffix(".lock")

    @property
    def packages(self) -> list[str]:
        return sorted({p for group in self.data.get("packages", {}).values() for p in group})

    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def available_years() -> list[str]:
    return sorted(p.name for p in MASTERS_DIR.glob("[0-9][0-9][0-9][0-9]-[0-9][0-9][0-9][0-9]") if p.is_dir())


def available_profiles(year: str) -> list[str]:
    return sorted(p.stem for p in (MASTERS_DIR / year).glob("*.yaml") if p.stem != "rollout")


def resolve_year(year: str | None, today: dt.date | None = None) -> str:
    """``year`` when it has specs; without one, the current school year, else the latest earlier one."""
    years = available_years()
    if year:
        if year not in years:
            raise SocleError(
                f"no masters for school year '{year}'",
                hint=f"available: {', '.join(years) or 'none'}; invoke year.new {year} makes it from the year before",
            )
        return year
    current = school_year_of(today or dt.date.today())
    if current in years:
        return current
    earlier = [y for y in years if y <= current]
    if not earlier:
        raise SocleError(f"no masters for {current} or earlier", hint=f"available: {', '.join(years) or 'none'}")
    return earlier[-1]


def platform_of(profile: str, year: str | None = None) -> str:
    """The platform (``linux`` or ``windows``) of a profile: its spec's ``platform``, for ``year`` or
    else the newest school year that has the profile. A profile without a spec is taken as Linux."""
    for candidate in [year] if year else reversed(available_years()):
        path = MASTERS_DIR / str(candidate) / f"{profile}.yaml"
        if path.is_file():
            return _spec_platform(path, path.stat().st_mtime_ns)
    return "linux"


@cache
def _spec_platform(path: Path, mtime_ns: int) -> str:
    """A spec file's ``platform``, read once per version of the file (operations ask it for every salle)."""
    data = load(path).data
    value = data.get("platform") if isinstance(data, dict) else None
    return str(value) if value in PLATFORMS else "linux"


def is_windows(profile: str, year: str | None = None) -> bool:
    """Whether the postes of ``profile`` run Windows (decided by :func:`platform_of`, nowhere else)."""
    return platform_of(profile, year) == "windows"


def load_spec(profile: str, year: str | None = None) -> MasterSpec:
    year = resolve_year(year)
    path = MASTERS_DIR / year / f"{profile}.yaml"
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,40}", profile) or not path.exists():
        raise SocleError(
            f"unknown profile '{profile[:40]}' for {year}",
            hint=f"choose one of: {', '.join(available_profiles(year))}",
        )
    return MasterSpec(path, checked_spec(regular_file_in(path, MASTERS_DIR), profile, year))


def checked_spec(path: Path, profile: str, year: str) -> dict[str, Any]:
    """The data of the spec file ``path`` for ``profile`` and ``year``, validated (schema, names, version,
    roles); a located SocleError otherwise."""
    doc = load(path)
    problems = errors(validate(doc, "master-spec", "MST001"))
    data = doc.data if isinstance(doc.data, dict) else {}
    if not problems and data.get("profile") != profile:
        problems = [f"profile is '{data.get('profile')}' but the file is {path.name}"]
    if not problems and data.get("school_year") != year:
        problems = [f"school_year is '{data.get('school_year')}' but the folder is {year}"]
    if not problems and not str(data.get("version", "")).startswith(f"{year}."):
        problems = [f"version '{data.get('version')}' does not start with '{year}.'"]
    if problems:
        first = problems[0]
        text = first if isinstance(first, str) else first.render()
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise SocleError(f"invalid master spec{more}: {text}", where=str(rel(path)))
    for role in data.get("roles", []):
        if not (ROOT / "roles" / role["name"]).is_dir():
            raise SocleError(
                f"role '{role['name']}' does not exist",
                where=f"{rel(path)} [roles]",
                hint=f"available roles: {', '.join(sorted(p.name for p in (ROOT / 'roles').iterdir()))}",
            )
    return data


def read_lock(spec: MasterSpec) -> dict[str, Any] | None:
    """The spec's lock (JSON beside it), None when there is none yet."""
    if not spec.lock_path.exists():
        return None
    try:
        return json.loads(spec.lock_path.read_text())
    except json.JSONDecodeError as exc:
        raise SocleError(
            f"lock file is not valid JSON: {exc.msg} (line {exc.lineno})",
            where=str(rel(spec.lock_path)),
            hint="restore it from git, or rebuild it with --update-lock",
        ) from None
