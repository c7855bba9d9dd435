"""JUnit XML, the one writer: CI systems (GitLab, GitHub, Jenkins) read check and run results in it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr


@dataclass(frozen=True)
class Case:
    """One test case: passed, failed (``failure`` is its message, ``text`` its body) or skipped."""

    classname: str
    name: str
    failure: str | None = None
    text: str = ""
    skipped: str | None = None
    #: shown with the case without failing it (warnings, notes)
    output: str = ""


def suite(name: str, cases: Iterable[Case]) -> str:
    """A ``<testsuite>`` document of ``cases``; failures are counted from them."""
    lines = []
    failures = 0
    for case in cases:
        body = ""
        if case.failure is not None:
            failures += 1
            body += f"<failure message={quoteattr(case.failure)}>{escape(case.text)}</failure>"
        elif case.skipped is not None:
            body += f"<skipped message={quoteattr(case.skipped)}/>"
        if case.output:
            body += f"<system-out>{escape(case.output)}</system-out>"
        lines.append(f"  <testcase classname={quoteattr(case.classname)} name={quoteattr(case.name)}>{body}</testcase>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<testsuite name={quoteattr(name)} tests="{len(lines)}" failures="{failures}">\n'
        + "".join(line + "\n" for line in lines)
        + "</testsuite>\n"
    )
