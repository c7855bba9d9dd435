"""What masters and conformity take from the catalogue: the approved software of a school year for
some disciplines, and its Debian packages or Windows install items."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any

from socle.catalogue import checks
from socle.catalogue.model import Catalogue, load_catalogue
from socle.core.errors import SocleError
from socle.core.findings import errors


def select_software(
    cat: Catalogue,
    *,
    year: str,
    disciplines: list[str],
    software: list[str] | None = None,
    levels: list[str] | None = None,
) -> dict[str, set[str]]:
    """Approved software of ``year`` for commun + ``disciplines`` (["*"] = all): card id -> disciplines."""
    wanted = set(cat.disciplines) if "*" in disciplines else {"commun", *disciplines}
    unknown = sorted(wanted - set(cat.disciplines))
    if unknown:
        raise SocleError(
            f"unknown discipline(s): {', '.join(unknown)}",
            hint=f'use: {", ".join(sorted(cat.disciplines))} or "*"',
        )
    chosen: dict[str, set[str]] = defaultdict(set)
    for row in cat.rows():
        if row.discipline not in wanted or year not in [str(y) for y in row.data.get("school_years") or []]:
            continue
        if not row.data.get("approved_by"):
            continue
        if levels and not set(levels) & set(row.data.get("levels") or []):
            continue
        chosen[row.software].add(row.discipline)
    if software:
        missing = sorted(set(software) - set(cat.cards))
        if missing:
            raise SocleError(
                f"unknown software: {', '.join(missing)}", hint="use card ids (software_catalogue/software/)"
            )
        chosen = defaultdict(set, {s: d for s, d in chosen.items() if s in software})
    return dict(chosen)


def gated_catalogue(root: Path | None = None) -> Catalogue:
    """The catalogue a build may read: refused while a check of :data:`checks.BUILD_GATE` fails."""
    cat = load_catalogue(root)
    blocking = errors(checks.findings(cat, dt.date.today(), only=checks.BUILD_GATE))
    if blocking:
        raise SocleError(
            f"the catalogue has {len(blocking)} error(s) that block a build, first: {blocking[0].render()}",
            hint="run 'invoke catalogue.check' and fix the errors (CAT005 and CAT007 cannot be waived)",
        )
    return cat


def linux_packages(
    *,
    year: str,
    disciplines: list[str],
    software: list[str] | None = None,
    levels: list[str] | None = None,
    root: Path | None = None,
) -> list[dict[str, str]]:
    """Debian packages of the software :func:`select_software` picks, sorted, one entry per package."""
    cat = gated_catalogue(root)
    chosen = select_software(cat, year=year, disciplines=disciplines, software=software, levels=levels)
    out: dict[str, dict[str, str]] = {}
    for sid in sorted(chosen):
        lin = ((cat.card(sid) or {}).get("platforms") or {}).get("linux") or {}
        if lin.get("source") != "apt":
            continue
        for pkg in (lin.get("apt") or {}).get("packages") or []:
            out.setdefault(pkg, {"package": pkg, "software": sid})
    return [out[p] for p in sorted(out)]


def windows_packages(
    *, year: str, disciplines: list[str], lock: dict[str, Any] | None = None, root: Path | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """Items for the win_catalogue_software role, and the software that cannot be installed yet.

    A card's HTTPS installer (url + sha256 + detection) maps to win_package; a chocolatey id to the
    internal feed. A winget id is metadata: it installs once the Windows lock (``lock['windows']``,
    filled from the regional mirror) pins the installer's URL and sha256; until then it is listed
    as not installable, never installed from the internet.
    """
    cat = gated_catalogue(root)
    pinned = (lock or {}).get("windows", {})
    items: list[dict[str, Any]] = []
    missing: list[str] = []
    for sid in sorted(select_software(cat, year=year, disciplines=disciplines)):
        win = ((cat.card(sid) or {}).get("platforms") or {}).get("windows")
        if not win or win.get("source") == "none":
            continue
        installer = win.get("installer") or pinned.get(sid)
        if win.get("source") == "chocolatey":
            ch = win["chocolatey"]
            items.append({"software": sid, "kind": "chocolatey", "name": ch["id"], "version": ch["version"],
                          "source": ch["feed"]})  # fmt: skip
        elif installer and installer.get("sha256"):
            item = {"software": sid, "kind": "package", "url": installer["url"], "sha256": installer["sha256"]}
            if installer.get("product_id") or (win.get("detect") or {}).get("product_code"):
                item["product_id"] = installer.get("product_id") or win["detect"]["product_code"]
            if installer.get("silent_args"):
                item["arguments"] = installer["silent_args"]
            items.append(item)
        else:
            missing.append(sid)
    return items, missing
