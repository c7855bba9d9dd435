"""CAT012: waivers: none expired, none longer than a school year, none of CAT005/CAT007, none unused."""

from __future__ import annotations

from socle.catalogue.checks.base import Check, waiver_problem


class Waivers(Check):
    """a waiver that expired, runs more than one school year from today, covers CAT005 or CAT007 (which
    cannot be waived), or that no finding needs any more is an error."""

    id = "CAT012"
    summary = "waivers: none expired, none longer than a school year, none of CAT005/CAT007, none unused"
    severities = ("error",)

    def run(self) -> None:
        doc = self.cat.exceptions
        if not doc:
            return
        for i, w in enumerate(self.ctx.waivers):
            problem = waiver_problem(w, self.today)
            if problem:
                self.report(
                    doc,
                    ("exceptions", i, "check" if "cannot be waived" in problem else "expires"),
                    message=f"waiver for {w.get('check')} on '{str(w.get('target'))[:80]}': {problem}",
                    fix="remove it (and fix the cause), or renew it for at most one school year with a new approval",
                )
            elif i not in self.ctx.used_waivers:
                self.report(
                    doc,
                    ("exceptions", i),
                    message=f"waiver for {w.get('check')} on '{w.get('target')}' is not needed any more",
                    fix="remove the unused waiver",
                )
