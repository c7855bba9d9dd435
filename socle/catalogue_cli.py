"""Console side of the catalogue tasks: findings summary, report files, exit codes."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from socle import catalogue, catalogue_pr, rel
from socle.errors import SocleError, StepFailed
from socle.findings import errors, write

console = Console(stderr=True)


def check(*, fmt: str = "text", output: str | None = None, path: str | None = None) -> None:
    if fmt not in {"text", "json", "junit"}:
        raise SocleError(f"unknown format '{fmt}'", hint="use --format text, json or junit")
    findings = catalogue.check(Path(path) if path else None)
    text = write(findings, fmt, Path(output) if output else None, "catalogue", catalogue.CHECKS)
    if fmt != "text" and not output:
        print(text, end="")
    else:
        for f in findings:
            style = {"error": "red", "warning": "yellow"}.get(f.severity, "dim")
            console.print(f.render(), style=style, markup=False, highlight=False, soft_wrap=True)
    errs = errors(findings)
    summary = f"catalogue: {len(errs)} error(s), {len(findings) - len(errs)} warning(s)/note(s)"
    if errs:
        raise StepFailed(summary, hint="each finding says where and how to fix it; docs/catalogue-checks.md explains")
    console.print(f"[green]{summary}[/]")


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
