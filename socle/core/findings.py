"""Findings of the data checks (catalogue, inventory, specs): located, with a stable id and a fix."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console

from socle.core import junit
from socle.core.errors import SocleError, StepFailed
from socle.core.files import output_file, write_atomic

SEVERITIES = ("error", "warning", "note")


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    line: int
    check: str  # stable id, such as CAT004
    severity: str  # error | warning | note
    keypath: str
    message: str
    fix: str = ""

    def render(self) -> str:
        where = f"{self.file}:{self.line}" + (f" [{self.keypath}]" if self.keypath else "")
        text = f"{where}: {self.severity} {self.check}: {self.message}"
        return text + (f"\n    fix: {self.fix}" if self.fix else "")


def errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "error"]


def to_json(findings: list[Finding]) -> str:
    return json.dumps([asdict(f) for f in sorted(findings)], indent=2, ensure_ascii=False) + "\n"


def to_junit(findings: list[Finding], suite: str, checks: dict[str, str]) -> str:
    """One test case per check id: failed when it has error findings, with every finding listed."""
    by_check: dict[str, list[Finding]] = {cid: [] for cid in checks}
    for f in findings:
        by_check.setdefault(f.check, []).append(f)
    cases = []
    for cid, items in sorted(by_check.items()):
        errs = [f for f in items if f.severity == "error"]
        others = [f for f in items if f.severity != "error"]
        cases.append(
            junit.Case(
                suite,
                f"{cid} {checks.get(cid, '')}".strip(),
                failure=f"{len(errs)} error(s)" if errs else None,
                text="\n".join(f.render() for f in errs),
                output="\n".join(f.render() for f in others),
            )
        )
    return junit.suite(suite, cases)


def write(findings: list[Finding], fmt: str, output: Path | None, suite: str, checks: dict[str, str]) -> str:
    if fmt == "json":
        text = to_json(findings)
    elif fmt == "junit":
        text = to_junit(findings, suite, checks)
    else:
        text = "\n".join(f.render() for f in sorted(findings)) + ("\n" if findings else "")
    if output:
        write_atomic(output_file(output), text)
    return text


def present(findings: list[Finding], *, fmt: str, output: str | None, suite: str, checks: dict[str, str]) -> None:
    """Show findings to a person (text) or a machine (json/junit); fail when there are errors."""
    if fmt not in {"text", "json", "junit"}:
        raise SocleError(f"unknown format '{fmt}'", hint="use --format text, json or junit")
    console = Console(stderr=True)
    text = write(findings, fmt, Path(output) if output else None, suite, checks)
    if fmt != "text" and not output:
        print(text, end="")
    else:
        for f in findings:
            style = {"error": "red", "warning": "yellow"}.get(f.severity, "dim")
            console.print(f.render(), style=style, markup=False, highlight=False, soft_wrap=True)
    errs = errors(findings)
    summary = f"{suite}: {len(errs)} error(s), {len(findings) - len(errs)} warning(s)/note(s)"
    if errs:
        raise StepFailed(summary, hint="each finding says where and how to fix it")
    console.print(summary, style="green", markup=False)
