"""Console side of the catalogue tasks."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from socle.catalogue import checks, issue
from socle.catalogue import request as requests
from socle.catalogue.diff import Room
from socle.catalogue.diff import diff as impact
from socle.core.errors import StepFailed
from socle.core.files import output_file, read_input, write_atomic
from socle.core.findings import present
from socle.core.paths import ROOT, rel
from socle.inventory.model import rooms_summary

console = Console(stderr=True)
#: generated from the checks (`invoke catalogue.docs`); a test fails when it is stale
CHECKS_DOC = ROOT / "docs" / "catalogue-checks.md"


def check(*, fmt: str = "text", output: str | None = None, path: str | None = None) -> None:
    findings = checks.check(Path(path) if path else None)
    present(findings, fmt=fmt, output=output, suite="catalogue", checks=checks.CHECKS)


def diff(*, base: str, output: str | None = None) -> None:
    report = impact(base, rooms=[Room(**r) for r in rooms_summary()])
    if output:
        write_atomic(output_file(output), report)
        console.print(f"wrote {output}")
    else:
        print(report, end="")


def request(values: dict[str, str], *, from_issue: str = "") -> None:
    """A request from options (asked in a terminal), or from an issue form's body (CI: never asks)."""
    ask, form = requests.terminal_ask, None
    if from_issue:
        path = Path(from_issue)
        body = read_input(path, max_bytes=issue.MAX_BODY * 4, what="the issue body")
        values = {**issue.fields(body, source=str(path)), **{k: v for k, v in values.items() if v}}
        ask, form = None, {key: label for label, key in issue.FIELDS.items()}
    written = requests.request(values, ask=ask, form=form)
    for path in written:
        console.print(f"[green]wrote[/] {rel(path)}")
    console.print(
        "next: commit on a branch and open a merge request; the checks run and the discipline's reviewers approve"
    )


def docs(*, check_only: bool = False) -> None:
    """Write docs/catalogue-checks.md from the checks; with ``check_only``, fail when it is stale."""
    text = checks.reference()
    if CHECKS_DOC.exists() and CHECKS_DOC.read_text() == text:
        console.print(f"{rel(CHECKS_DOC)} is up to date")
        return
    if check_only:
        raise StepFailed(f"{rel(CHECKS_DOC)} is stale", hint="run 'invoke catalogue.docs' and commit the result")
    CHECKS_DOC.write_text(text)
    console.print(f"[green]wrote[/] {rel(CHECKS_DOC)}")
