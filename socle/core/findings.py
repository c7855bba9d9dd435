"""Findings of the data checks (catalogue, inventory, specs): located, with a stable id and a fix."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console

from socle.core import i18n, junit
from socle.core.errors import SocleError, StepFailed
from socle.core.files import output_file, write_atomic

SEVERITIES = ("error", "warning", "note")
SEVERITIES_FR = {"error": "erreur", "warning": "avertissement", "note": "remarque"}


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
        if i18n.language() == "fr":
            text = f"{where} : {SEVERITIES_FR[self.severity]} {self.check} : {self.message}"
            return text + (f"\n    solution : {self.fix}" if self.fix else "")
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


#: GitLab Code Quality severities
_CODEQUALITY = {"error": "major", "warning": "minor", "note": "info"}


def to_codequality(findings: list[Finding]) -> str:
    """GitLab Code Quality report: the merge request shows each finding on its line."""
    issues = []
    for f in sorted(findings):
        fingerprint = hashlib.sha256(f"{f.file}\0{f.check}\0{f.keypath}\0{f.message}".encode()).hexdigest()[:32]
        issues.append({
            "description": f"{f.check}: {f.message}" + (f" — {f.fix}" if f.fix else ""),
            "check_name": f.check, "fingerprint": fingerprint, "severity": _CODEQUALITY.get(f.severity, "info"),
            "location": {"path": f.file, "lines": {"begin": max(f.line, 1)}},
        })  # fmt: skip
    return json.dumps(issues, indent=2, ensure_ascii=False) + "\n"


def _workflow_escape(text: str, *, prop: bool = False) -> str:
    """GitHub workflow-command escaping: a finding's text (from a teacher's file) can never end the
    command and start another one."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def to_github(findings: list[Finding]) -> str:
    """GitHub annotations (workflow commands): each finding shown on its line of the pull request."""
    kinds = {"error": "error", "warning": "warning"}
    lines = []
    for f in sorted(findings):
        where, title = _workflow_escape(f.file, prop=True), _workflow_escape(f.check, prop=True)
        props = f"file={where},line={max(f.line, 1)},title={title}"
        body = f.message + (f"\nfix: {f.fix}" if f.fix else "")
        lines.append(f"::{kinds.get(f.severity, 'notice')} {props}::{_workflow_escape(body)}")
    return "".join(f"{line}\n" for line in lines)


FORMATS = {"json": to_json, "codequality": to_codequality, "github": to_github}


def write(findings: list[Finding], fmt: str, output: Path | None, suite: str, checks: dict[str, str]) -> str:
    if fmt in FORMATS:
        text = FORMATS[fmt](findings)
    elif fmt == "junit":
        text = to_junit(findings, suite, checks)
    else:
        text = "\n".join(f.render() for f in sorted(findings)) + ("\n" if findings else "")
    if output:
        write_atomic(output_file(output), text)
    return text


def present(findings: list[Finding], *, fmt: str, output: str | None, suite: str, checks: dict[str, str]) -> None:
    """Show findings to a person (text) or a machine (json/junit); fail when there are errors."""
    if fmt not in {"text", "junit", *FORMATS}:
        raise SocleError(f"unknown format '{fmt[:20]}'", hint="use --format text, json, junit, codequality or github")
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
