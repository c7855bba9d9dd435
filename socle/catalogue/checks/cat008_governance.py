"""CAT008: governance: referent, requester with a valid UAI, approvals by the table's reviewers."""

from __future__ import annotations

from socle.catalogue.checks.base import Check
from socle.core import uai


class Governance(Check):
    """approved cards have a referent; deprecated/withdrawn cards say why and what replaces them;
    requesters give a valid UAI (the message gives the expected check letter); approvals come from
    the table's reviewers; unapproved rows are reported as warnings.
    """

    id = "CAT008"
    summary = "governance: referent, requester with a valid UAI, approvals by the table's reviewers"
    severities = ("error", "warning")

    def run(self) -> None:
        for stem, doc in self.cat.cards.items():
            life = (doc.data or {}).get("lifecycle") if isinstance(doc.data, dict) else None
            if isinstance(life, dict) and life.get("status") in {"approved", "pilot"} and not life.get("referent"):
                self.report(
                    doc,
                    ("lifecycle",),
                    message=f"{life.get('status')} software without a referent",
                    fix="name a referent (person and role) who answers for this software",
                    target=stem,
                )
            if (
                isinstance(life, dict)
                and life.get("status") in {"deprecated", "withdrawn"}
                and not life.get("dereferencing")
            ):
                self.report(
                    doc,
                    ("lifecycle",),
                    message=f"{life.get('status')} software without dereferencing",
                    fix="add lifecycle.dereferencing {reason, date, replacement}",
                    target=stem,
                )
        for stem, doc in self.cat.tables.items():
            reviewers = set((doc.data or {}).get("reviewers") or []) if isinstance(doc.data, dict) else set()
            for row in [r for r in self.cat.rows() if r.discipline == stem]:
                req = row.data.get("requested_by") or {}
                if isinstance(req, dict) and "uai" in req:
                    problem = uai.problem(req.get("uai"))
                    if problem:
                        self.report(
                            doc,
                            (*row.keypath, "requested_by", "uai"),
                            message=problem,
                            fix="give the UAI of the requester's établissement (on its ENT or the annuaire)",
                        )
                for j, appr in enumerate(row.data.get("approved_by") or []):
                    if isinstance(appr, dict) and appr.get("reviewer") not in reviewers:
                        self.report(
                            doc,
                            (*row.keypath, "approved_by", j, "reviewer"),
                            message=f"approval by '{appr.get('reviewer')}', who is not a reviewer of {stem}",
                            fix="approvals come from the merge request review record by: "
                            + ", ".join(sorted(reviewers)),
                        )
                if not row.data.get("approved_by"):
                    self.report(
                        doc,
                        (*row.keypath, "approved_by"),
                        message="row not approved yet: masters will not include it",
                        fix="a reviewer of the discipline approves the merge request; the record is written at merge",
                        severity="warning",
                    )
