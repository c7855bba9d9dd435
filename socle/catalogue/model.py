"""The software catalogue: software cards (technical truth) and discipline tables (pedagogical choice).

Layout (software_catalogue/):
    taxonomy.yaml               disciplines and functions (controlled vocabulary)
    software/<id>.yaml          one card per software, owned by regional IT
    disciplines/<id>.yaml       one choice table per discipline (commun = every poste)
    exceptions.yaml             written, expiring waivers of a check for one target

:func:`check` runs every check (ids CAT001… below, documented in docs/catalogue-checks.md) and
returns located findings; :func:`linux_packages` is what master builds consume.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from socle import CATALOGUE_DIR, debian, rel, uai
from socle.errors import SocleError
from socle.findings import Finding, errors
from socle.masters import school_year_of
from socle.schema import validate
from socle.yamlio import Document, KeyPath, format_keypath, load

CHECKS: dict[str, str] = {
    "CAT001": "schema: required keys, types, enums, no unknown keys",
    "CAT002": "YAML hygiene: valid UTF-8 YAML, no duplicate keys, no tabs, no YAML 1.1 traps",
    "CAT003": "identity: id equals file name, one card per upstream",
    "CAT004": "single choice: one software per (school year, discipline, function, level)",
    "CAT005": "pinning and integrity: exact versions, HTTPS, well-formed sha256",
    "CAT006": "licence and cost coherence",
    "CAT007": "RGPD gate: personal data, accounts, non-EU hosting need a DPD review",
    "CAT008": "governance: referent, requester with a valid UAI, approvals by the table's reviewers",
    "CAT009": "graph: requires / conflicts / replaces point to real cards, no cycles, no conflicts in a master",
    "CAT010": "school-year window: well-formed, contiguous, current",
    "CAT011": "Debian packages exist in the target release",
    "CAT012": "waivers: none expired, none unused",
    "CAT013": "advisories: French interface, accessibility known, Debian version matches the card",
}

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
INEXACT_VERSION = re.compile(r"(^latest$|^stable$|[*xX]$|^[<>=~^]|\|\||,| - )")
LEVELS = ("college", "lycee-gt", "lycee-pro", "post-bac")
#: SPDX licence ids accepted without a licence URL (OSI/FSF approved, the ones the catalogue meets).
OPEN_SPDX = {
    "MIT",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "Apache-2.0",
    "MPL-2.0",
    "ISC",
    "Zlib",
    "blessing",
    "PSF-2.0",
    "GPL-2.0-only",
    "GPL-2.0-or-later",
    "GPL-3.0-only",
    "GPL-3.0-or-later",
    "LGPL-2.0-or-later",
    "LGPL-2.1-only",
    "LGPL-2.1-or-later",
    "LGPL-3.0-only",
    "LGPL-3.0-or-later",
    "AGPL-3.0-only",
    "AGPL-3.0-or-later",
    "EUPL-1.2",
    "CECILL-2.1",
    "CECILL-B",
    "CECILL-C",
    "Artistic-2.0",
    "EPL-2.0",
    "CC0-1.0",
    "Unlicense",
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
class Catalogue:
    root: Path
    taxonomy: Document | None = None
    cards: dict[str, Document] = field(default_factory=dict)
    tables: dict[str, Document] = field(default_factory=dict)
    exceptions: Document | None = None
    findings: list[Finding] = field(default_factory=list)

    # convenience views
    @property
    def disciplines(self) -> dict[str, Any]:
        return (self.taxonomy.data or {}).get("disciplines", {}) if self.taxonomy else {}

    @property
    def functions(self) -> dict[str, Any]:
        return (self.taxonomy.data or {}).get("functions", {}) if self.taxonomy else {}

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


def _load_into(cat: Catalogue, path: Path, schema: str) -> Document | None:
    try:
        doc = load(path)
    except SocleError as exc:
        line = 1
        where = exc.where or ""
        m = re.search(r":(\d+)", where)
        if m:
            line = int(m.group(1))
        cat.findings.append(Finding(rel(path), line, "CAT002", "error", "", exc.message, exc.hint or ""))
        return None
    doc.path = Path(rel(path))
    for kp, raw in sorted(doc.coerced.items(), key=lambda kv: doc.line(kv[0]) or 0):
        cat.findings.append(
            Finding(
                str(doc.path),
                doc.line(kp) or 1,
                "CAT002",
                "error",
                format_keypath(kp),
                f"'{raw}' is read by YAML 1.1 as {type(_get(doc.data, kp)).__name__} {_get(doc.data, kp)!r}",
                f'quote it: "{raw}"',
            )
        )
    schema_findings = validate(doc, schema, "CAT001")
    # a coerced scalar is already reported by CAT002 with the better message
    coerced_paths = {format_keypath(kp) for kp in doc.coerced}
    cat.findings.extend(f for f in schema_findings if f.keypath not in coerced_paths)
    return doc


def _get(data: Any, kp: KeyPath) -> Any:
    for part in kp:
        data = data[part]
    return data


def load_catalogue(root: Path | None = None) -> Catalogue:
    """Load every file; structural problems become findings (never exceptions)."""
    root = root or CATALOGUE_DIR
    if not root.is_dir():
        raise SocleError("catalogue directory not found", where=str(root), hint="run from the project checkout")
    cat = Catalogue(root)
    tax = root / "taxonomy.yaml"
    if tax.exists():
        cat.taxonomy = _load_into(cat, tax, "catalogue-taxonomy")
    else:
        cat.findings.append(
            Finding(
                rel(tax),
                1,
                "CAT001",
                "error",
                "",
                "taxonomy.yaml is missing",
                "restore it: it defines the disciplines and functions",
            )
        )
    for folder, schema, into, what in (
        ("software", "software-card", cat.cards, "cards are YAML files named <id>.yaml"),
        ("disciplines", "discipline-table", cat.tables, "tables are YAML files named <discipline>.yaml"),
    ):
        for path in sorted((root / folder).glob("*")):
            if path.suffix not in {".yaml", ".yml"}:
                cat.findings.append(
                    Finding(
                        rel(path), 1, "CAT003", "error", "", f"unexpected file in {folder}/", f"{what}; remove others"
                    )
                )
                continue
            doc = _load_into(cat, path, schema)
            if doc is not None:
                into[path.stem] = doc
    exc = root / "exceptions.yaml"
    if exc.exists():
        cat.exceptions = _load_into(cat, exc, "catalogue-exceptions")
    return cat


# --- checks -----------------------------------------------------------------------------------
class _Checker:
    def __init__(self, cat: Catalogue, today: dt.date) -> None:
        self.cat = cat
        self.today = today
        self.out: list[Finding] = []
        self.used_waivers: set[int] = set()
        self.waivers = []
        if cat.exceptions and isinstance(cat.exceptions.data, dict):
            self.waivers = [w for w in cat.exceptions.data.get("exceptions") or [] if isinstance(w, dict)]

    def waived(self, check: str, target: str) -> bool:
        for i, w in enumerate(self.waivers):
            if w.get("check") == check and w.get("target") == target and str(w.get("expires", "")) >= str(self.today):
                self.used_waivers.add(i)
                return True
        return False

    def add(self, doc: Document, kp: KeyPath, check: str, sev: str, msg: str, fix: str, target: str = "") -> None:
        if sev == "error" and target and self.waived(check, target):
            return
        self.out.append(
            Finding(str(doc.path), doc.line(kp) or 1, check, sev, format_keypath(kp) if kp else "", msg, fix)
        )

    # CAT003
    def identity(self) -> None:
        claims: dict[tuple[str, str], list[str]] = defaultdict(list)
        for stem, doc in self.cat.cards.items():
            card = doc.data if isinstance(doc.data, dict) else {}
            if card.get("id") != stem:
                self.add(
                    doc,
                    ("id",),
                    "CAT003",
                    "error",
                    f"id '{card.get('id')}' differs from the file name '{stem}'",
                    f"rename the file to {card.get('id')}.yaml or set id: {stem} (ids never change once merged)",
                )
            plat = card.get("platforms") or {}
            for pkg in ((plat.get("linux") or {}).get("apt") or {}).get("packages") or []:
                claims[("Debian package", pkg)].append(stem)
            wid = ((plat.get("windows") or {}).get("winget") or {}).get("id")
            if wid:
                claims[("winget id", wid.lower())].append(stem)
            wd = (card.get("external_ids") or {}).get("wikidata")
            if wd:
                claims[("Wikidata item", wd)].append(stem)
            home = str(card.get("homepage", "")).rstrip("/").lower()
            if home:
                claims[("homepage", home)].append(stem)
        for (what, value), owners in sorted(claims.items()):
            if len(owners) > 1 and what != "homepage":
                for stem in owners[1:]:
                    self.add(
                        self.cat.cards[stem],
                        ("platforms",),
                        "CAT003",
                        "error",
                        f"{what} '{value}' is already claimed by card '{owners[0]}'",
                        "one card per upstream software: extend the existing card instead",
                        stem,
                    )
            elif len(owners) > 1:
                for stem in owners[1:]:
                    self.add(
                        self.cat.cards[stem],
                        ("homepage",),
                        "CAT003",
                        "warning",
                        f"same homepage as card '{owners[0]}': possibly the same software",
                        "merge the cards if they describe one upstream",
                    )
        for stem, doc in self.cat.tables.items():
            if isinstance(doc.data, dict) and doc.data.get("discipline") != stem:
                self.add(
                    doc,
                    ("discipline",),
                    "CAT003",
                    "error",
                    f"discipline '{doc.data.get('discipline')}' differs from the file name '{stem}'",
                    f"set discipline: {stem}",
                )

    # CAT004 (+ vocabulary)
    def single_choice(self) -> None:
        slots: dict[tuple[str, str, str, str], Row] = {}
        commun_functions = {r.function for r in self.cat.rows() if r.discipline == "commun"}
        for stem, doc in self.cat.tables.items():
            if stem not in self.cat.disciplines and self.cat.taxonomy:
                self.add(
                    doc,
                    ("discipline",),
                    "CAT004",
                    "error",
                    f"discipline '{stem}' is not in taxonomy.yaml",
                    f"use one of: {', '.join(sorted(self.cat.disciplines))}, or add it to the taxonomy",
                )
        for row in self.cat.rows():
            if row.function not in self.cat.functions and self.cat.taxonomy:
                self.add(
                    row.doc,
                    (*row.keypath, "function"),
                    "CAT004",
                    "error",
                    f"function '{row.function}' is not in taxonomy.yaml",
                    "use an existing function, or propose a new one in taxonomy.yaml (needs regional approval)",
                )
            allowed = set((self.cat.disciplines.get(row.discipline) or {}).get("levels") or LEVELS)
            for level in row.data.get("levels") or []:
                if level not in allowed:
                    self.add(
                        row.doc,
                        (*row.keypath, "levels"),
                        "CAT004",
                        "error",
                        f"level '{level}' is not taught in {row.discipline}",
                        f"use: {', '.join(sorted(allowed))}",
                    )
            if row.discipline != "commun" and row.function in commun_functions:
                self.add(
                    row.doc,
                    (*row.keypath, "function"),
                    "CAT004",
                    "error",
                    f"function '{row.function}' is already provided by the common base (commun)",
                    "use the common base's software, or ask for a written waiver in exceptions.yaml",
                    f"{row.discipline}/{row.function}",
                )
            for year in row.data.get("school_years") or []:
                for level in row.data.get("levels") or []:
                    key = (str(year), row.discipline, row.function, str(level))
                    if key in slots and slots[key].software != row.software:
                        first = slots[key]
                        self.add(
                            row.doc,
                            row.keypath,
                            "CAT004",
                            "error",
                            f"second software for {row.discipline}/{row.function} ({level}, {year}): "
                            f"'{row.software}' while '{first.software}' is chosen at line "
                            f"{first.doc.line(first.keypath)}",
                            "one software per function: replace the existing row (replaces:) at the next rentrée, "
                            "or ask for a waiver",
                            f"{row.discipline}/{row.function}",
                        )
                    elif key in slots:
                        self.add(
                            row.doc,
                            row.keypath,
                            "CAT004",
                            "error",
                            f"duplicate row for {row.discipline}/{row.function} ({level}, {year})",
                            "merge the two rows",
                        )
                    else:
                        slots[key] = row

    # CAT005
    def pinning(self) -> None:
        for stem, doc in self.cat.cards.items():
            card = doc.data if isinstance(doc.data, dict) else {}
            version = card.get("version")
            if isinstance(version, str) and INEXACT_VERSION.search(version):
                self.add(
                    doc,
                    ("version",),
                    "CAT005",
                    "error",
                    f"version '{version}' is not exact",
                    "write the exact upstream version installed by the masters, such as 25.2.3",
                    stem,
                )
            win = (card.get("platforms") or {}).get("windows") or {}
            lin = (card.get("platforms") or {}).get("linux") or {}
            for kp, block in (
                (("platforms", "windows", "installer"), win.get("installer")),
                (("platforms", "linux", "deb_url"), lin.get("deb_url")),
            ):
                if not isinstance(block, dict):
                    continue
                url, sha = str(block.get("url", "")), str(block.get("sha256", ""))
                if not url.startswith("https://"):
                    self.add(
                        doc,
                        (*kp, "url"),
                        "CAT005",
                        "error",
                        f"installer URL '{url}' is not HTTPS",
                        "use the publisher's HTTPS download URL",
                        stem,
                    )
                if not re.fullmatch(r"[0-9a-f]{64}", sha):
                    hint = "it looks like MD5/SHA-1" if re.fullmatch(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{40}", sha) else ""
                    self.add(
                        doc,
                        (*kp, "sha256"),
                        "CAT005",
                        "error",
                        f"sha256 '{sha}' is not 64 lower-case hex digits {hint}".strip(),
                        "compute it with: sha256sum <installer>",
                        stem,
                    )
                elif sha == EMPTY_SHA256:
                    self.add(
                        doc,
                        (*kp, "sha256"),
                        "CAT005",
                        "error",
                        "sha256 is the hash of an empty file",
                        "the download failed when the hash was computed: download again and recompute",
                        stem,
                    )
            ch = win.get("chocolatey") or {}
            if ch and not str(ch.get("feed", "")).startswith("https://"):
                self.add(
                    doc,
                    ("platforms", "windows", "chocolatey", "feed"),
                    "CAT005",
                    "error",
                    "chocolatey packages come only from the Région's internal HTTPS feed",
                    "set feed to the internal feed URL (never the community repository)",
                    stem,
                )
            if "community.chocolatey.org" in str(ch.get("feed", "")):
                self.add(
                    doc,
                    ("platforms", "windows", "chocolatey", "feed"),
                    "CAT005",
                    "error",
                    "the Chocolatey community repository is not an approved source",
                    "mirror the package into the internal feed",
                    stem,
                )
            web = (card.get("platforms") or {}).get("web") or {}
            if web and not str(web.get("url", "")).startswith("https://"):
                self.add(
                    doc,
                    ("platforms", "web", "url"),
                    "CAT005",
                    "error",
                    "web resource URL is not HTTPS",
                    "use the https:// address",
                    stem,
                )

    # CAT006
    def licence(self, last_year_end: dict[str, dt.date]) -> None:
        for stem, doc in self.cat.cards.items():
            lic = (doc.data or {}).get("licence") if isinstance(doc.data, dict) else None
            if not isinstance(lic, dict):
                continue
            spdx, cat_, model = str(lic.get("spdx", "")), lic.get("category"), lic.get("model")
            ids = [t for t in re.split(r"\s+(?:OR|AND|WITH)\s+|[()]", spdx) if t.strip()]
            unknown = [t for t in ids if t not in OPEN_SPDX and not t.startswith("LicenseRef-")]
            if unknown:
                self.add(
                    doc,
                    ("licence", "spdx"),
                    "CAT006",
                    "error",
                    f"unknown SPDX licence id(s): {', '.join(unknown)}",
                    "use an SPDX identifier (https://spdx.org/licenses/) or LicenseRef-<name> with a licence url",
                    stem,
                )
            if (
                cat_ == "open-source"
                and any(t.startswith("LicenseRef-") for t in ids)
                and not lic.get("url")
                and "public-domain" not in spdx
            ):
                self.add(
                    doc,
                    ("licence",),
                    "CAT006",
                    "error",
                    "a LicenseRef licence needs its url",
                    "add licence.url with the licence text",
                    stem,
                )
            if cat_ in {"freeware", "proprietary"} and not lic.get("url"):
                self.add(
                    doc,
                    ("licence",),
                    "CAT006",
                    "error",
                    f"{cat_} software needs licence.url (the terms accepted)",
                    "add the URL of the licence terms",
                    stem,
                )
            if cat_ == "proprietary" and model != "free" and not lic.get("contract_ref"):
                self.add(
                    doc,
                    ("licence",),
                    "CAT006",
                    "error",
                    "paid proprietary licence without contract_ref",
                    "add the marché / bon de commande reference in licence.contract_ref",
                    stem,
                )
            if model in {"per-seat", "concurrent"} and not lic.get("seats"):
                self.add(
                    doc,
                    ("licence",),
                    "CAT006",
                    "error",
                    f"licence model '{model}' needs seats",
                    "add licence.seats (number of licences bought)",
                    stem,
                )
            cost = lic.get("cost_eur_per_year", 0) or 0
            if model == "free" and cost:
                self.add(
                    doc,
                    ("licence", "cost_eur_per_year"),
                    "CAT006",
                    "error",
                    f"model 'free' but cost_eur_per_year is {cost}",
                    "set the licence model, or the cost to 0",
                    stem,
                )
            if model != "free" and not cost:
                self.add(
                    doc,
                    ("licence", "cost_eur_per_year"),
                    "CAT006",
                    "warning",
                    f"model '{model}' with no yearly cost",
                    "record the yearly cost for the whole Région",
                    stem,
                )
            if cat_ == "open-source" and not lic.get("redistributable", True):
                self.add(
                    doc,
                    ("licence", "redistributable"),
                    "CAT006",
                    "warning",
                    "open-source software marked not redistributable",
                    "check the licence",
                    stem,
                )
            expires = lic.get("expires")
            if expires and stem in last_year_end and str(expires) < str(last_year_end[stem]):
                self.add(
                    doc,
                    ("licence", "expires"),
                    "CAT006",
                    "error",
                    f"licence expires on {expires}, before the end of the last school year using it "
                    f"({last_year_end[stem]})",
                    "renew the licence or shorten school_years in the tables",
                    stem,
                )

    # CAT007
    def rgpd(self) -> None:
        for stem, doc in self.cat.cards.items():
            dp = (doc.data or {}).get("data_protection") if isinstance(doc.data, dict) else None
            if not isinstance(dp, dict):
                continue
            reasons = []
            if dp.get("processes_personal_data"):
                reasons.append("processes personal data")
            if dp.get("account_required") not in (None, "none"):
                reasons.append(f"requires a {dp.get('account_required')} account")
            if dp.get("data_location") == "non-eu":
                reasons.append("stores data outside the EU")
            if dp.get("telemetry") == "mandatory":
                reasons.append("has mandatory telemetry")
            if reasons and not dp.get("dpd_review"):
                self.add(
                    doc,
                    ("data_protection", "dpd_review"),
                    "CAT007",
                    "error",
                    f"needs a DPD review because it {' and '.join(reasons)}",
                    "ask the académie's DPD and write the reference of the opinion in data_protection.dpd_review",
                    stem,
                )
            if dp.get("account_required") == "pupil" and dp.get("data_location") == "non-eu":
                self.add(
                    doc,
                    ("data_protection",),
                    "CAT007",
                    "error",
                    "pupil accounts with data hosted outside the EU are not allowed",
                    "choose an EU-hosted alternative, or obtain a written waiver",
                    stem,
                )
            if dp.get("processes_personal_data") and not dp.get("privacy_url"):
                self.add(
                    doc,
                    ("data_protection",),
                    "CAT007",
                    "warning",
                    "no privacy_url for software processing personal data",
                    "add the publisher's privacy policy URL",
                    stem,
                )

    # CAT008
    def governance(self) -> None:
        for stem, doc in self.cat.cards.items():
            life = (doc.data or {}).get("lifecycle") if isinstance(doc.data, dict) else None
            if isinstance(life, dict) and life.get("status") in {"approved", "pilot"} and not life.get("referent"):
                self.add(
                    doc,
                    ("lifecycle",),
                    "CAT008",
                    "error",
                    f"{life.get('status')} software without a referent",
                    "name a referent (person and role) who answers for this software",
                    stem,
                )
            if (
                isinstance(life, dict)
                and life.get("status") in {"deprecated", "withdrawn"}
                and not life.get("dereferencing")
            ):
                self.add(
                    doc,
                    ("lifecycle",),
                    "CAT008",
                    "error",
                    f"{life.get('status')} software without dereferencing",
                    "add lifecycle.dereferencing {reason, date, replacement}",
                    stem,
                )
        for stem, doc in self.cat.tables.items():
            reviewers = set((doc.data or {}).get("reviewers") or []) if isinstance(doc.data, dict) else set()
            for row in [r for r in self.cat.rows() if r.discipline == stem]:
                req = row.data.get("requested_by") or {}
                if isinstance(req, dict) and "uai" in req:
                    problem = uai.problem(req.get("uai"))
                    if problem:
                        self.add(
                            doc,
                            (*row.keypath, "requested_by", "uai"),
                            "CAT008",
                            "error",
                            problem,
                            "give the UAI of the requester's établissement (on its ENT or the annuaire)",
                        )
                for j, appr in enumerate(row.data.get("approved_by") or []):
                    if isinstance(appr, dict) and appr.get("reviewer") not in reviewers:
                        self.add(
                            doc,
                            (*row.keypath, "approved_by", j, "reviewer"),
                            "CAT008",
                            "error",
                            f"approval by '{appr.get('reviewer')}', who is not a reviewer of {stem}",
                            f"approvals come from the merge request review record by: {', '.join(sorted(reviewers))}",
                        )
                if not row.data.get("approved_by"):
                    self.add(
                        doc,
                        (*row.keypath, "approved_by"),
                        "CAT008",
                        "warning",
                        "row not approved yet: masters will not include it",
                        "a reviewer of the discipline approves the merge request; the record is written at merge",
                    )

    # CAT009
    def graph(self) -> None:
        ids = set(self.cat.cards)
        for stem, doc in self.cat.cards.items():
            card = doc.data if isinstance(doc.data, dict) else {}
            for key in ("requires", "conflicts_with"):
                for j, ref in enumerate(card.get(key) or []):
                    if ref not in ids:
                        self.add(
                            doc,
                            (key, j),
                            "CAT009",
                            "error",
                            f"{key} '{ref}' is not a card",
                            f"use an existing card id or add software/{ref}.yaml",
                            stem,
                        )
            repl = ((card.get("lifecycle") or {}).get("dereferencing") or {}).get("replacement")
            if repl and repl not in ids:
                self.add(
                    doc,
                    ("lifecycle", "dereferencing", "replacement"),
                    "CAT009",
                    "error",
                    f"replacement '{repl}' is not a card",
                    "name an existing card",
                    stem,
                )
        # cycles in requires
        graph = {
            s: [r for r in (d.data or {}).get("requires") or [] if r in ids]
            for s, d in self.cat.cards.items()
            if isinstance(d.data, dict)
        }
        state: dict[str, int] = {}

        def visit(node: str, trail: list[str]) -> None:
            state[node] = 1
            for nxt in graph.get(node, []):
                if state.get(nxt) == 1:
                    cycle = [*trail[trail.index(nxt) :], nxt] if nxt in trail else [node, nxt]
                    self.add(
                        self.cat.cards[node],
                        ("requires",),
                        "CAT009",
                        "error",
                        f"requires cycle: {' -> '.join(cycle)}",
                        "remove one of the requires links",
                        node,
                    )
                elif not state.get(nxt):
                    visit(nxt, [*trail, nxt])
            state[node] = 2

        for node in sorted(graph):
            if not state.get(node):
                visit(node, [node])
        # rows
        selected_by_year: dict[str, set[str]] = defaultdict(set)
        for row in self.cat.rows():
            card = self.cat.card(row.software)
            if row.software and card is None:
                self.add(
                    row.doc,
                    (*row.keypath, "software"),
                    "CAT009",
                    "error",
                    f"software '{row.software}' has no card",
                    f"add software_catalogue/software/{row.software}.yaml (invoke catalogue.request helps)",
                )
                continue
            status = ((card or {}).get("lifecycle") or {}).get("status")
            if status in {"deprecated", "withdrawn"} or (status == "proposed" and row.data.get("approved_by")):
                self.add(
                    row.doc,
                    (*row.keypath, "software"),
                    "CAT009",
                    "error",
                    f"software '{row.software}' is {status}: it cannot be chosen",
                    "choose an approved card, or get the card approved first",
                )
            replaces = row.data.get("replaces")
            if replaces and replaces not in self.cat.cards:
                self.add(
                    row.doc,
                    (*row.keypath, "replaces"),
                    "CAT009",
                    "error",
                    f"replaces '{replaces}', which is not a card",
                    "name the card of the software being replaced",
                )
            for alt in row.data.get("alternatives_considered") or []:
                _ = alt  # alternatives may name software without a card: that is their point
            for year in row.data.get("school_years") or []:
                selected_by_year[str(year)].add(row.software)
        for year, selected in sorted(selected_by_year.items()):
            for sid in sorted(selected):
                for other in (self.cat.card(sid) or {}).get("conflicts_with") or []:
                    if other in selected and sid < other:
                        self.add(
                            self.cat.cards[sid],
                            ("conflicts_with",),
                            "CAT009",
                            "error",
                            f"'{sid}' conflicts with '{other}', and both are chosen for {year} (same master)",
                            "remove one of the rows, or resolve the conflict in the cards",
                            sid,
                        )

    # CAT010
    def school_years(self) -> dict[str, dt.date]:
        current = school_year_of(self.today)
        last_end: dict[str, dt.date] = {}
        for row in self.cat.rows():
            years = [str(y) for y in row.data.get("school_years") or []]
            starts = []
            for j, year in enumerate(years):
                m = re.fullmatch(r"(\d{4})-(\d{4})", year)
                if not m or int(m.group(2)) != int(m.group(1)) + 1:
                    self.add(
                        row.doc,
                        (*row.keypath, "school_years", j),
                        "CAT010",
                        "error",
                        f"'{year}' is not a school year",
                        "write it as 2026-2027 (second year = first + 1)",
                    )
                    continue
                starts.append(int(m.group(1)))
            if starts and sorted(starts) != list(range(min(starts), max(starts) + 1)):
                self.add(
                    row.doc,
                    (*row.keypath, "school_years"),
                    "CAT010",
                    "error",
                    f"school years are not contiguous: {', '.join(years)}",
                    "list consecutive school years",
                )
            if starts and max(starts) > int(current[:4]) + 2:
                self.add(
                    row.doc,
                    (*row.keypath, "school_years"),
                    "CAT010",
                    "error",
                    f"school year {max(starts)}-{max(starts) + 1} is too far ahead",
                    "choices are made at most two school years ahead",
                )
            if starts and max(starts) < int(current[:4]):
                self.add(
                    row.doc,
                    (*row.keypath, "school_years"),
                    "CAT010",
                    "warning",
                    f"row only covers past school years (current: {current})",
                    "remove the row, or extend it to the current year",
                )
            if starts:
                end = dt.date(max(starts) + 1, 8, 31)
                last_end[row.software] = max(last_end.get(row.software, end), end)
        return last_end

    # CAT011 + CAT013 Debian part
    def debian_packages(self) -> None:
        by_release: dict[str, list[tuple[str, Document, int, str]]] = defaultdict(list)
        for stem, doc in self.cat.cards.items():
            apt = (
                (((doc.data or {}).get("platforms") or {}).get("linux") or {}).get("apt")
                if isinstance(doc.data, dict)
                else None
            )
            if isinstance(apt, dict):
                for j, pkg in enumerate(apt.get("packages") or []):
                    by_release[str(apt.get("suite", "trixie"))].append((stem, doc, j, str(pkg)))
        for release, items in sorted(by_release.items()):
            index = debian.load(release)
            if index is None:
                self.out.append(
                    Finding(
                        "software_catalogue",
                        1,
                        "CAT011",
                        "warning",
                        "",
                        f"Debian {release} package index not available: package names not checked",
                        "run 'invoke setup' (or any check with network to the Debian mirror) once",
                    )
                )
                continue
            for stem, doc, j, pkg in items:
                kp = ("platforms", "linux", "apt", "packages", j)
                if pkg not in index:
                    self.add(
                        doc,
                        kp,
                        "CAT011",
                        "error",
                        f"Debian package '{pkg}' does not exist in {release}",
                        f"check the name on packages.debian.org ({release}); see 'apt-cache search'",
                        stem,
                    )
                elif j == 0:
                    deb_version = index[pkg][0]
                    card_version = str((doc.data or {}).get("version", ""))
                    if card_version and upstream_version(deb_version) != card_version:
                        self.add(
                            doc,
                            ("version",),
                            "CAT013",
                            "warning",
                            f"card version {card_version} but Debian {release} ships {deb_version}",
                            f'set version: "{upstream_version(deb_version)}" (what Linux postes really get)',
                        )

    # CAT012
    def waiver_hygiene(self) -> None:
        doc = self.cat.exceptions
        if not doc:
            return
        for i, w in enumerate(self.waivers):
            if str(w.get("expires", "")) < str(self.today):
                self.add(
                    doc,
                    ("exceptions", i, "expires"),
                    "CAT012",
                    "error",
                    f"waiver for {w.get('check')} on '{w.get('target')}' expired on {w.get('expires')}",
                    "remove it (and fix the cause) or renew it with a new approval",
                )
            elif i not in self.used_waivers:
                self.add(
                    doc,
                    ("exceptions", i),
                    "CAT012",
                    "error",
                    f"waiver for {w.get('check')} on '{w.get('target')}' is not needed any more",
                    "remove the unused waiver",
                )

    # CAT013
    def advisories(self) -> None:
        for doc in self.cat.cards.values():
            card = doc.data if isinstance(doc.data, dict) else {}
            if "fr" not in (card.get("ui_languages") or ["fr"]):
                self.add(
                    doc,
                    ("ui_languages",),
                    "CAT013",
                    "warning",
                    "no French user interface",
                    "prefer software translated in French (or justify it: language teaching)",
                )
            a11y = card.get("accessibility") or {}
            unknown = [k for k in ("keyboard_navigation", "screen_reader") if a11y.get(k) == "unknown"]
            if unknown and (card.get("lifecycle") or {}).get("status") == "approved":
                self.add(
                    doc,
                    ("accessibility",),
                    "CAT013",
                    "note",
                    f"accessibility unknown: {', '.join(unknown)}",
                    "test with the keyboard and Orca, then record the result",
                )

    def run(self) -> list[Finding]:
        self.identity()
        self.single_choice()
        self.pinning()
        last_end = self.school_years()
        self.licence(last_end)
        self.rgpd()
        self.governance()
        self.graph()
        self.debian_packages()
        self.advisories()
        self.waiver_hygiene()
        return self.out


def upstream_version(version: str) -> str:
    v = re.sub(r"^\d+:", "", version)
    if "-" in v:
        v = v.rsplit("-", 1)[0]
    return re.split(r"[+~](?:dfsg|ds|really|git|lgpl)", v)[0]


def check(root: Path | None = None, today: dt.date | None = None) -> list[Finding]:
    """Every check over the catalogue at ``root``; findings sorted by file and line."""
    cat = load_catalogue(root)
    findings = list(cat.findings)
    findings += _Checker(cat, today or dt.date.today()).run()
    return sorted(set(findings), key=lambda f: (f.file, f.line, f.check, f.message))


# --- selection for masters ----------------------------------------------------------------------
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


def linux_packages(
    *,
    year: str,
    disciplines: list[str],
    software: list[str] | None = None,
    levels: list[str] | None = None,
    root: Path | None = None,
) -> list[dict[str, str]]:
    """Debian packages of the software :func:`select_software` picks, sorted, one entry per package."""
    cat = load_catalogue(root)
    blocking = errors([f for f in cat.findings if f.check in {"CAT001", "CAT002"}])
    if blocking:
        raise SocleError(
            f"the catalogue has {len(blocking)} structural error(s), first: {blocking[0].render()}",
            hint="run 'invoke catalogue.check' and fix the errors",
        )
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
    cat = load_catalogue(root)
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
