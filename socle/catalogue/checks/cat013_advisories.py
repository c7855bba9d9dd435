"""CAT013: advisories: French interface, accessibility known, Debian version matches the card."""

from __future__ import annotations

from socle.catalogue.checks.base import Check
from socle.catalogue.model import upstream_version
from socle.core import debian


class Advisories(Check):
    """no French interface (warning), Debian ships a different version than the card says (warning),
    accessibility unknown (note).
    """

    id = "CAT013"
    summary = "advisories: French interface, accessibility known, Debian version matches the card"
    severities = ("warning", "note")

    def run(self) -> None:
        for doc in self.cat.cards.values():
            card = doc.data if isinstance(doc.data, dict) else {}
            if "fr" not in (card.get("ui_languages") or ["fr"]):
                self.report(
                    doc,
                    ("ui_languages",),
                    message="no French user interface",
                    fix="prefer software translated in French (or justify it: language teaching)",
                    severity="warning",
                )
            a11y = card.get("accessibility") or {}
            unknown = [k for k in ("keyboard_navigation", "screen_reader") if a11y.get(k) == "unknown"]
            if unknown and (card.get("lifecycle") or {}).get("status") == "approved":
                self.report(
                    doc,
                    ("accessibility",),
                    message=f"accessibility unknown: {', '.join(unknown)}",
                    fix="test with the keyboard and Orca, then record the result",
                    severity="note",
                )
        self.debian_versions()

    def debian_versions(self) -> None:
        """The card's version against what Debian ships for its first package (CAT011 says when
        the index is missing)."""
        for doc in self.cat.cards.values():
            card = doc.data if isinstance(doc.data, dict) else {}
            apt = ((card.get("platforms") or {}).get("linux") or {}).get("apt")
            packages = (apt.get("packages") or []) if isinstance(apt, dict) else []
            if not packages:
                continue
            release = str(apt.get("suite", "trixie"))
            index = debian.load(release) or {}  # an unknown release has none (CAT001 reports it)
            pkg, card_version = str(packages[0]), str(card.get("version", ""))
            if pkg in index and card_version and upstream_version(index[pkg][0]) != card_version:
                deb_version = index[pkg][0]
                self.report(
                    doc,
                    ("version",),
                    message=f"card version {card_version} but Debian {release} ships {deb_version}",
                    fix=f'set version: "{upstream_version(deb_version)}" (what Linux postes really get)',
                    severity="warning",
                )
