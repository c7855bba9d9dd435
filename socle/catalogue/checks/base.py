"""What a catalogue check is: an id, a summary, its severities and its documentation, declared once
on the class (in the manner of ansible-lint's rules); findings are built with keyword arguments."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, ClassVar

from socle.catalogue.model import Catalogue
from socle.core.findings import Finding
from socle.core.i18n import translate
from socle.core.yamlio import Document, KeyPath, format_keypath

#: checks no waiver can silence: an installer fetched over HTTP, a download without its sha256 (CAT005),
#: personal data sent where the RGPD forbids it (CAT007)
NOT_WAIVABLE = frozenset({"CAT005", "CAT007"})
#: the longest a waiver may run from today: one school year
MAX_WAIVER_DAYS = 366


def waiver_problem(waiver: dict[str, Any], today: dt.date) -> str | None:
    """Why a waiver cannot be used (None when it can): not waivable, expired, too long, not a date."""
    check, expires = str(waiver.get("check")), str(waiver.get("expires", ""))
    if check in NOT_WAIVABLE:
        return f"{check} cannot be waived (security and RGPD rules have no exceptions)"
    try:
        end = dt.date.fromisoformat(expires)
    except ValueError:
        return f"expires '{expires[:20]}' is not a date (YYYY-MM-DD)"
    if end < today:
        return f"expired on {expires}"
    if (end - today).days > MAX_WAIVER_DAYS:
        return f"expires on {expires}, more than one school year from today"
    return None


@dataclass
class Context:
    """One run of the checks over a catalogue: the findings so far and the waivers they used."""

    cat: Catalogue
    today: dt.date
    findings: list[Finding] = field(default_factory=list)
    used_waivers: set[int] = field(default_factory=set)
    #: the waivers of exceptions.yaml, read once per run (every waivable error looks them up)
    waivers: list[dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        data = self.cat.exceptions.data if self.cat.exceptions else None
        exceptions = (data.get("exceptions") or []) if isinstance(data, dict) else []
        self.waivers = [w for w in exceptions if isinstance(w, dict)]

    def waived(self, check: str, target: str) -> bool:
        """A written, unexpired waiver exists for ``check`` on ``target`` (and is now used)."""
        for i, w in enumerate(self.waivers):
            if w.get("check") == check and w.get("target") == target and waiver_problem(w, self.today) is None:
                self.used_waivers.add(i)
                return True
        return False


class Check:
    """A catalogue check. The class docstring is its documentation (docs/catalogue-checks.md)."""

    id: ClassVar[str]
    summary: ClassVar[str]
    #: the severities its findings may have
    severities: ClassVar[tuple[str, ...]] = ("error",)

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.cat = ctx.cat
        self.today = ctx.today

    def run(self) -> None:
        raise NotImplementedError

    def report(
        self, doc: Document, keypath: KeyPath, *, message: str, fix: str, severity: str = "error", target: str = ""
    ) -> None:
        """A finding at ``keypath`` of ``doc``; an error on a ``target`` a waiver covers is not reported."""
        if severity == "error" and target and self.ctx.waived(self.id, target):
            return
        self.report_at(str(doc.path), doc.line(keypath) or 1, message=message, fix=fix, severity=severity,
                       keypath=format_keypath(keypath) if keypath else "")  # fmt: skip

    def report_at(
        self, file: str, line: int, *, message: str, fix: str, severity: str = "error", keypath: str = ""
    ) -> None:
        """A finding at a file and line (where there is no document to locate it in)."""
        if severity not in self.severities:
            raise ValueError(f"{self.id} declares {self.severities}, not {severity}")
        # in the reader's language (SOCLE_LANG, the locale): teachers read these in their merge request
        self.ctx.findings.append(Finding(file, line, self.id, severity, keypath, translate(message), translate(fix)))
