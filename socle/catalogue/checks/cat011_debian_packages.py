"""CAT011: Debian packages exist in the target release."""

from __future__ import annotations

from collections import defaultdict

from socle.catalogue.checks.base import Check
from socle.core import debian
from socle.core.yamlio import Document


class DebianPackages(Check):
    """every package exists in the target release's index (fetched by `./socle.sh setup`, cached in
    `.cache/debian-index/`; without it the check is skipped with a warning).
    """

    id = "CAT011"
    summary = "Debian packages exist in the target release"
    severities = ("error", "warning")

    def run(self) -> None:
        by_release: dict[str, list[tuple[str, Document, int, str]]] = defaultdict(list)
        for stem, doc in self.cat.cards.items():
            apt = (
                (((doc.data or {}).get("platforms") or {}).get("linux") or {}).get("apt")
                if isinstance(doc.data, dict)
                else None
            )
            if isinstance(apt, dict) and str(apt.get("suite", "trixie")) in debian.RELEASES:  # else CAT001 says it
                for j, pkg in enumerate(apt.get("packages") or []):
                    by_release[str(apt.get("suite", "trixie"))].append((stem, doc, j, str(pkg)))
        for release, items in sorted(by_release.items()):
            index = debian.load(release)
            if index is None:
                self.report_at(
                    "software_catalogue",
                    1,
                    message=f"Debian {release} package index not available: package names not checked",
                    fix="run './socle.sh setup' (or any check with network to the Debian mirror) once",
                    severity="warning",
                )
                continue
            for stem, doc, j, pkg in items:
                kp = ("platforms", "linux", "apt", "packages", j)
                if pkg not in index:
                    self.report(
                        doc,
                        kp,
                        message=f"Debian package '{pkg}' does not exist in {release}",
                        fix=f"check the name on packages.debian.org ({release}); see 'apt-cache search'",
                        target=stem,
                    )
