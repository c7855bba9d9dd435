"""Every catalogue check, one per file (``catNNN_<name>.py``), in the order they run.

:func:`check` runs them over a catalogue folder, :func:`findings` over a catalogue already loaded;
:data:`CHECKS` (id -> summary) and :func:`reference` (the text of docs/catalogue-checks.md) are read
from the checks themselves.
"""

from __future__ import annotations

import datetime as dt
import inspect
from pathlib import Path

from socle.catalogue.checks.base import Check, Context
from socle.catalogue.checks.cat001_schema import Schema
from socle.catalogue.checks.cat002_yaml import YamlHygiene
from socle.catalogue.checks.cat003_identity import Identity
from socle.catalogue.checks.cat004_single_choice import SingleChoice
from socle.catalogue.checks.cat005_pinning import Pinning
from socle.catalogue.checks.cat006_licence import Licence
from socle.catalogue.checks.cat007_rgpd import Rgpd
from socle.catalogue.checks.cat008_governance import Governance
from socle.catalogue.checks.cat009_graph import Graph
from socle.catalogue.checks.cat010_school_years import SchoolYears
from socle.catalogue.checks.cat011_debian_packages import DebianPackages
from socle.catalogue.checks.cat012_waivers import Waivers
from socle.catalogue.checks.cat013_advisories import Advisories
from socle.catalogue.model import Catalogue, load_catalogue
from socle.core.findings import Finding
from socle.core.paths import rel

#: in the order they run; CAT012 comes last: it reports the waivers no other check used
ALL: tuple[type[Check], ...] = (
    Schema, YamlHygiene, Identity, SingleChoice, Pinning, SchoolYears, Licence, Rgpd, Governance, Graph,
    DebianPackages, Advisories, Waivers,
)  # fmt: skip
CHECKS: dict[str, str] = {c.id: c.summary for c in sorted(ALL, key=lambda c: c.id)}
#: what must hold before anything else can be read from a catalogue
STRUCTURAL = (Schema, YamlHygiene)
#: what must hold before any master (Linux or Windows) is built from it: readable, installers over
#: HTTPS with their sha256 pinned, the RGPD respected, a requires graph without cycles
BUILD_GATE = (*STRUCTURAL, Pinning, Rgpd, Graph)


def findings(cat: Catalogue, today: dt.date, only: tuple[type[Check], ...] = ALL) -> list[Finding]:
    """Findings of the ``only`` checks over ``cat``, sorted by file and line."""
    ctx = Context(cat, today)
    for check_class in only:
        try:
            check_class(ctx).run()
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            # a check reads a schema-valid shape; when CAT001/CAT002 already say what is wrong, they suffice
            if not any(f.check in {"CAT001", "CAT002"} and f.severity == "error" for f in ctx.findings):
                ctx.findings.append(Finding(rel(cat.root), 1, check_class.id, "error", "",
                                            f"cannot run on this catalogue ({type(exc).__name__})",
                                            "fix the structure of the files (see socle/schemas/)"))  # fmt: skip
    return sorted(set(ctx.findings), key=lambda f: (f.file, f.line, f.check, f.message))


def check(root: Path | None = None, today: dt.date | None = None) -> list[Finding]:
    """Every check over the catalogue at ``root``."""
    return findings(load_catalogue(root), today or dt.date.today())


WAIVERS = """\
## Waivers

```yaml
# software_catalogue/exceptions.yaml
schema_version: 1
exceptions:
  - check: CAT004
    target: svt/navigateur-web        # discipline/function, or a card id
    reason: Profil de navigateur dédié aux ExAO, en attente d'intégration au socle commun
    approved_by: DANE Grand Est (comité du 2026-10-12)
    expires: "2027-08-31"
```
"""


def reference() -> str:
    """docs/catalogue-checks.md, generated from the checks (``invoke catalogue.docs`` writes it)."""
    ordered = sorted(ALL, key=lambda c: c.id)
    lines = [
        "# Catalogue checks",
        "",
        "<!-- generated from socle/catalogue/checks/ by `invoke catalogue.docs`: edit the checks, not this file -->",
        "",
        "`invoke catalogue.check` runs them all. Each finding names the file, the line, the key path, the check id, "
        "its severity and the fix. Errors fail the merge request; warnings and notes are shown in the report.",
        "",
        "| id | check | severities | code |",
        "|---|---|---|---|",
    ]
    for c in ordered:
        module = inspect.getmodule(c).__name__.rsplit(".", 1)[1]  # type: ignore[union-attr]
        code = f"[{module}.py](../socle/catalogue/checks/{module}.py)"
        lines.append(f"| {c.id} | {c.summary} | {' / '.join(c.severities)} | {code} |")
    lines += ["", "## Details", ""]
    for c in ordered:
        text = " ".join(inspect.getdoc(c).split())  # type: ignore[union-attr]
        lines.append(f"- **{c.id} {c.summary.split(':')[0]}** — {text}")
    return "\n".join(lines) + "\n\n" + WAIVERS
