"""CAT009: graph: requires / conflicts / replaces point to real cards, no cycles, no conflicts in a master."""

from __future__ import annotations

from collections import defaultdict

from socle.catalogue.checks.base import Check


class Graph(Check):
    """`requires`, `conflicts_with`, `replaces` and replacements name real cards; no `requires` cycle;
    rows name real cards, not deprecated or withdrawn ones; two conflicting cards are never chosen
    for the same year.
    """

    id = "CAT009"
    summary = "graph: requires / conflicts / replaces point to real cards, no cycles, no conflicts in a master"
    severities = ("error",)

    def run(self) -> None:
        ids = set(self.cat.cards)
        for stem, doc in self.cat.cards.items():
            card = doc.data if isinstance(doc.data, dict) else {}
            for key in ("requires", "conflicts_with"):
                for j, ref in enumerate(card.get(key) or []):
                    if ref not in ids:
                        self.report(
                            doc,
                            (key, j),
                            message=f"{key} '{ref}' is not a card",
                            fix=f"use an existing card id or add software/{ref}.yaml",
                            target=stem,
                        )
            repl = ((card.get("lifecycle") or {}).get("dereferencing") or {}).get("replacement")
            if repl and repl not in ids:
                self.report(
                    doc,
                    ("lifecycle", "dereferencing", "replacement"),
                    message=f"replacement '{repl}' is not a card",
                    fix="name an existing card",
                    target=stem,
                )
        # cycles in requires
        graph = {
            s: [r for r in (d.data or {}).get("requires") or [] if r in ids]
            for s, d in self.cat.cards.items()
            if isinstance(d.data, dict)
        }
        # iterative depth-first search: a 10,000-card requires chain is a cycle check, not a RecursionError
        state: dict[str, int] = {}
        for start in sorted(graph):
            if state.get(start):
                continue
            state[start] = 1
            trail, stack = [start], [iter(graph[start])]
            while stack:
                nxt = next(stack[-1], None)
                if nxt is None:
                    state[trail.pop()] = 2
                    stack.pop()
                elif state.get(nxt) == 1:
                    node = trail[-1]
                    cycle = [*trail[trail.index(nxt) :], nxt]
                    self.report(self.cat.cards[node], ("requires",), message=f"requires cycle: {' -> '.join(cycle)}",
                                fix="remove one of the requires links", target=node)  # fmt: skip
                elif not state.get(nxt):
                    state[nxt] = 1
                    trail.append(nxt)
                    stack.append(iter(graph.get(nxt, [])))
        # rows
        selected_by_year: dict[str, set[str]] = defaultdict(set)
        for row in self.cat.rows():
            card = self.cat.card(row.software)
            if row.software and card is None:
                self.report(
                    row.doc,
                    (*row.keypath, "software"),
                    message=f"software '{row.software}' has no card",
                    fix=f"add software_catalogue/software/{row.software}.yaml (invoke catalogue.request helps)",
                )
                continue
            status = ((card or {}).get("lifecycle") or {}).get("status")
            if status in {"deprecated", "withdrawn"} or (status == "proposed" and row.data.get("approved_by")):
                self.report(
                    row.doc,
                    (*row.keypath, "software"),
                    message=f"software '{row.software}' is {status}: it cannot be chosen",
                    fix="choose an approved card, or get the card approved first",
                )
            replaces = row.data.get("replaces")
            if replaces and replaces not in self.cat.cards:
                self.report(
                    row.doc,
                    (*row.keypath, "replaces"),
                    message=f"replaces '{replaces}', which is not a card",
                    fix="name the card of the software being replaced",
                )
            for alt in row.data.get("alternatives_considered") or []:
                _ = alt  # alternatives may name software without a card: that is their point
            for year in row.data.get("school_years") or []:
                selected_by_year[str(year)].add(row.software)
        for year, selected in sorted(selected_by_year.items()):
            for sid in sorted(selected):
                for other in (self.cat.card(sid) or {}).get("conflicts_with") or []:
                    if other in selected and sid < other:
                        self.report(
                            self.cat.cards[sid],
                            ("conflicts_with",),
                            message=f"'{sid}' conflicts with '{other}', and both are chosen for {year} (same master)",
                            fix="remove one of the rows, or resolve the conflict in the cards",
                            target=sid,
                        )
