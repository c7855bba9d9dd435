"""Console side of `invoke year.new`: create next year's masters folder, then say what is left to decide."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from socle.core.paths import rel
from socle.operations import schoolyear


def new(*, year: str, source: str = "") -> None:
    made = schoolyear.create(year, source)
    console = Console(stderr=True)
    console.print(f"[green]created[/] {escape(str(rel(made.folder)))} from {made.source}: {', '.join(made.files)} "
                  f"(versions {made.year}.0; locks are resolved again by the first build)")  # fmt: skip
    table = Table(title=f"discipline tables: choices for {made.source} not yet renewed for {made.year}")
    for col in ("discipline", "to decide (owners: the table's reviewers)", "already chosen for " + made.year):
        table.add_column(col, overflow="fold")
    for discipline in sorted(set(made.to_decide) | set(made.carried)):
        table.add_row(escape(discipline), escape(", ".join(made.to_decide.get(discipline, [])) or "—"),
                      escape(", ".join(made.carried.get(discipline, [])) or "—"))  # fmt: skip
    console.print(table)
    console.print(f"each table's reviewers add {made.year} to `school_years` of the choices they keep, by merge "
                  "request; a choice not renewed leaves the masters of that year", markup=False)  # fmt: skip
    if not made.calendar:
        console.print(f"no holiday calendar for {made.year} yet: invoke calendar.import --csv <the ministry's export>",
                      markup=False)  # fmt: skip
    build = f"invoke build-master --profile <profile> --year {made.year} --update-lock"
    console.print(f"next: check the rollout days in {rel(made.folder)}/rollout.yml, then {build}", markup=False)
