"""CAT003: identity: id equals file name, one card per upstream."""

from __future__ import annotations

from collections import defaultdict

from socle.catalogue.checks.base import Check


class Identity(Check):
    """`id` equals the file name; no two cards claim the same Debian package, winget id or Wikidata
    item; the same homepage is a warning.
    """

    id = "CAT003"
    summary = "identity: id equals file name, one card per upstream"
    severities = ("error", "warning")

    def run(self) -> None:
        for path, folder, what in self.cat.unexpected:
            self.report_at(path, 1, message=f"unexpected file in {folder}/", fix=f"{what}; remove others")
        claims: dict[tuple[str, str], list[str]] = defaultdict(list)
        for stem, doc in self.cat.cards.items():
            card = doc.data if isinstance(doc.data, dict) else {}
            if card.get("id") != stem:
                self.report(
                    doc,
                    ("id",),
                    message=f"id '{card.get('id')}' differs from the file name '{stem}'",
                    fix=f"rename the file to {card.get('id')}.yaml or set id: {stem} (ids never change once merged)",
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
                    self.report(
                        self.cat.cards[stem],
                        ("platforms",),
                        message=f"{what} '{value}' is already claimed by card '{owners[0]}'",
                        fix="one card per upstream software: extend the existing card instead",
                        target=stem,
                    )
            elif len(owners) > 1:
                for stem in owners[1:]:
                    self.report(
                        self.cat.cards[stem],
                        ("homepage",),
                        message=f"same homepage as card '{owners[0]}': possibly the same software",
                        fix="merge the cards if they describe one upstream",
                        severity="warning",
                    )
        for stem, doc in self.cat.tables.items():
            if isinstance(doc.data, dict) and doc.data.get("discipline") != stem:
                self.report(
                    doc,
                    ("discipline",),
                    message=f"discipline '{doc.data.get('discipline')}' differs from the file name '{stem}'",
                    fix=f"set discipline: {stem}",
                )
