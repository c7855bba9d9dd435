"""Console side of the catalogue tasks."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from socle import catalogue, catalogue_pr, rel
from socle.findings import present

console = Console(stderr=True)


def check(*, fmt: str = "text", output: str | None = None, path: str | None = None) -> None:
    findings = catalogue.check(Path(path) if path else None)
    present(findings, fmt=fmt, output=output, suite="catalogue", checks=catalogue.CHECKS)


def diff(*, base: str, output: str | None = None) -> None:
    report = catalogue_pr.diff(base)
    if output:
        Path(output).write_text(report)
        console.print(f"wrote {output}")
    else:
        print(report, end="")


def request(values: dict[str, str]) -> None:
    written = catalogue_pr.request(values, ask=catalogue_pr.terminal_ask)
    for path in written:
        console.print(f"[green]wrote[/] {rel(path)}")
    console.print(
        "next: commit on a branch and open a merge request; the checks run and the discipline's reviewers approve"
    )
