"""CAT006: licence and cost coherence."""

from __future__ import annotations

import re

from socle.catalogue.checks.base import Check
from socle.catalogue.model import last_year_end

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


class Licence(Check):
    """SPDX ids (or `LicenseRef-…` with a URL); freeware and proprietary need the URL of the terms;
    paid proprietary needs `contract_ref`; per-seat and concurrent need `seats`; `free` means no
    cost; a licence may not expire before the end of the last school year that uses it.
    """

    id = "CAT006"
    summary = "licence and cost coherence"
    severities = ("error", "warning")

    def run(self) -> None:
        last_end = last_year_end(self.cat)
        for stem, doc in self.cat.cards.items():
            lic = (doc.data or {}).get("licence") if isinstance(doc.data, dict) else None
            if not isinstance(lic, dict):
                continue
            spdx, cat_, model = str(lic.get("spdx", "")), lic.get("category"), lic.get("model")
            ids = [t for t in re.split(r"\s+(?:OR|AND|WITH)\s+|[()]", spdx) if t.strip()]
            unknown = [t for t in ids if t not in OPEN_SPDX and not t.startswith("LicenseRef-")]
            if unknown:
                self.report(
                    doc,
                    ("licence", "spdx"),
                    message=f"unknown SPDX licence id(s): {', '.join(unknown)}",
                    fix="use an SPDX identifier (https://spdx.org/licenses/) or LicenseRef-<name> with a licence url",
                    target=stem,
                )
            if (
                cat_ == "open-source"
                and any(t.startswith("LicenseRef-") for t in ids)
                and not lic.get("url")
                and "public-domain" not in spdx
            ):
                self.report(
                    doc,
                    ("licence",),
                    message="a LicenseRef licence needs its url",
                    fix="add licence.url with the licence text",
                    target=stem,
                )
            if cat_ in {"freeware", "proprietary"} and not lic.get("url"):
                self.report(
                    doc,
                    ("licence",),
                    message=f"{cat_} software needs licence.url (the terms accepted)",
                    fix="add the URL of the licence terms",
                    target=stem,
                )
            if cat_ == "proprietary" and model != "free" and not lic.get("contract_ref"):
                self.report(
                    doc,
                    ("licence",),
                    message="paid proprietary licence without contract_ref",
                    fix="add the marché / bon de commande reference in licence.contract_ref",
                    target=stem,
                )
            if model in {"per-seat", "concurrent"} and not lic.get("seats"):
                self.report(
                    doc,
                    ("licence",),
                    message=f"licence model '{model}' needs seats",
                    fix="add licence.seats (number of licences bought)",
                    target=stem,
                )
            cost = lic.get("cost_eur_per_year", 0) or 0
            if model == "free" and cost:
                self.report(
                    doc,
                    ("licence", "cost_eur_per_year"),
                    message=f"model 'free' but cost_eur_per_year is {cost}",
                    fix="set the licence model, or the cost to 0",
                    target=stem,
                )
            if model != "free" and not cost:
                self.report(
                    doc,
                    ("licence", "cost_eur_per_year"),
                    message=f"model '{model}' with no yearly cost",
                    fix="record the yearly cost for the whole Région",
                    severity="warning",
                    target=stem,
                )
            if cat_ == "open-source" and not lic.get("redistributable", True):
                self.report(
                    doc,
                    ("licence", "redistributable"),
                    message="open-source software marked not redistributable",
                    fix="check the licence",
                    severity="warning",
                    target=stem,
                )
            expires = lic.get("expires")
            if expires and stem in last_end and str(expires) < str(last_end[stem]):
                self.report(
                    doc,
                    ("licence", "expires"),
                    message=f"licence expires on {expires}, before the end of the last school year using it "
                    f"({last_end[stem]})",
                    fix="renew the licence or shorten school_years in the tables",
                    target=stem,
                )
