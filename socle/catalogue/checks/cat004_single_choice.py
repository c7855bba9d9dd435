"""CAT004: single choice: one software per (school year, discipline, function, level)."""

from __future__ import annotations

from socle.catalogue.checks.base import Check
from socle.catalogue.model import LEVELS, Row


class SingleChoice(Check):
    """see docs/catalogue.md; also unknown functions, disciplines and levels."""

    id = "CAT004"
    summary = "single choice: one software per (school year, discipline, function, level)"
    severities = ("error",)

    def run(self) -> None:
        slots: dict[tuple[str, str, str, str], Row] = {}
        commun_functions = {r.function for r in self.cat.rows() if r.discipline == "commun"}
        for stem, doc in self.cat.tables.items():
            if stem not in self.cat.disciplines and self.cat.taxonomy:
                self.report(
                    doc,
                    ("discipline",),
                    message=f"discipline '{stem}' is not in taxonomy.yaml",
                    fix=f"use one of: {', '.join(sorted(self.cat.disciplines))}, or add it to the taxonomy",
                )
        for row in self.cat.rows():
            if row.function not in self.cat.functions and self.cat.taxonomy:
                self.report(
                    row.doc,
                    (*row.keypath, "function"),
                    message=f"function '{row.function}' is not in taxonomy.yaml",
                    fix="use an existing function, or propose a new one in taxonomy.yaml (needs regional approval)",
                )
            allowed = set((self.cat.disciplines.get(row.discipline) or {}).get("levels") or LEVELS)
            for level in row.data.get("levels") or []:
                if level not in allowed:
                    self.report(
                        row.doc,
                        (*row.keypath, "levels"),
                        message=f"level '{level}' is not taught in {row.discipline}",
                        fix=f"use: {', '.join(sorted(allowed))}",
                    )
            if row.discipline != "commun" and row.function in commun_functions:
                self.report(
                    row.doc,
                    (*row.keypath, "function"),
                    message=f"function '{row.function}' is already provided by the common base (commun)",
                    fix="use the common base's software, or ask for a written waiver in exceptions.yaml",
                    target=f"{row.discipline}/{row.function}",
                )
            for year in row.data.get("school_years") or []:
                for level in row.data.get("levels") or []:
                    key = (str(year), row.discipline, row.function, str(level))
                    if key in slots and slots[key].software != row.software:
                        first = slots[key]
                        self.report(
                            row.doc,
                            row.keypath,
                            message=f"second software for {row.discipline}/{row.function} ({level}, {year}): "
                            f"'{row.software}' while '{first.software}' is chosen at line "
                            f"{first.doc.line(first.keypath)}",
                            fix="one software per function: replace the existing row (replaces:) at the next rentrée, "
                            "or ask for a waiver",
                            target=f"{row.discipline}/{row.function}",
                        )
                    elif key in slots:
                        self.report(
                            row.doc,
                            row.keypath,
                            message=f"duplicate row for {row.discipline}/{row.function} ({level}, {year})",
                            fix="merge the two rows",
                        )
                    else:
                        slots[key] = row
