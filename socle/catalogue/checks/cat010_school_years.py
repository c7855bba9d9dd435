"""CAT010: school-year window: well-formed, contiguous, current."""

from __future__ import annotations

from socle.catalogue.checks.base import Check
from socle.catalogue.model import school_year_match
from socle.core.clock import school_year_of


class SchoolYears(Check):
    """`2026-2027` form, consecutive years, at most two years ahead; rows covering only past years are
    warnings.
    """

    id = "CAT010"
    summary = "school-year window: well-formed, contiguous, current"
    severities = ("error", "warning")

    def run(self) -> None:
        current = school_year_of(self.today)
        for row in self.cat.rows():
            years = [str(y) for y in row.data.get("school_years") or []]
            starts = []
            for j, year in enumerate(years):
                m = school_year_match(year)
                if not m:
                    self.report(
                        row.doc,
                        (*row.keypath, "school_years", j),
                        message=f"'{year}' is not a school year",
                        fix="write it as 2026-2027 (second year = first + 1)",
                    )
                    continue
                starts.append(int(m.group(1)))
            if starts and sorted(starts) != list(range(min(starts), max(starts) + 1)):
                self.report(
                    row.doc,
                    (*row.keypath, "school_years"),
                    message=f"school years are not contiguous: {', '.join(years)}",
                    fix="list consecutive school years",
                )
            if starts and max(starts) > int(current[:4]) + 2:
                self.report(
                    row.doc,
                    (*row.keypath, "school_years"),
                    message=f"school year {max(starts)}-{max(starts) + 1} is too far ahead",
                    fix="choices are made at most two school years ahead",
                )
            if starts and max(starts) < int(current[:4]):
                self.report(
                    row.doc,
                    (*row.keypath, "school_years"),
                    message=f"row only covers past school years (current: {current})",
                    fix="remove the row, or extend it to the current year",
                    severity="warning",
                )
