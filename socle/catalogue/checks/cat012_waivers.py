"""CAT012: waivers: none expired, none unused."""

from __future__ import annotations

from socle.catalogue.checks.base import Check


class Waivers(Check):
    """an expired waiver or one that no finding needs any more is an error."""

    id = "CAT012"
    summary = "waivers: none expired, none unused"
    severities = ("error",)

    def run(self) -> None:
        doc = self.cat.exceptions
        if not doc:
            return
        for i, w in enumerate(self.ctx.waivers):
            if str(w.get("expires", "")) < str(self.today):
                self.report(
                    doc,
                    ("exceptions", i, "expires"),
                    message=f"waiver for {w.get('check')} on '{w.get('target')}' expired on {w.get('expires')}",
                    fix="remove it (and fix the cause) or renew it with a new approval",
                )
            elif i not in self.ctx.used_waivers:
                self.report(
                    doc,
                    ("exceptions", i),
                    message=f"waiver for {w.get('check')} on '{w.get('target')}' is not needed any more",
                    fix="remove the unused waiver",
                )
