"""CAT007: RGPD gate: personal data, accounts, non-EU hosting need a DPD review."""

from __future__ import annotations

from socle.catalogue.checks.base import Check


class Rgpd(Check):
    """personal data, an account, hosting outside the EU or mandatory telemetry need `dpd_review` (the
    DPD's opinion); pupil accounts with non-EU hosting are refused.
    """

    id = "CAT007"
    summary = "RGPD gate: personal data, accounts, non-EU hosting need a DPD review"
    severities = ("error", "warning")

    def run(self) -> None:
        for stem, doc in self.cat.cards.items():
            dp = (doc.data or {}).get("data_protection") if isinstance(doc.data, dict) else None
            if not isinstance(dp, dict):
                continue
            reasons = []
            if dp.get("processes_personal_data"):
                reasons.append("processes personal data")
            if dp.get("account_required") not in (None, "none"):
                reasons.append(f"requires a {dp.get('account_required')} account")
            if dp.get("data_location") == "non-eu":
                reasons.append("stores data outside the EU")
            if dp.get("telemetry") == "mandatory":
                reasons.append("has mandatory telemetry")
            if reasons and not dp.get("dpd_review"):
                self.report(
                    doc,
                    ("data_protection", "dpd_review"),
                    message=f"needs a DPD review because it {' and '.join(reasons)}",
                    fix="ask the académie's DPD and write the reference of the opinion in data_protection.dpd_review",
                    target=stem,
                )
            if dp.get("account_required") == "pupil" and dp.get("data_location") == "non-eu":
                self.report(
                    doc,
                    ("data_protection",),
                    message="pupil accounts with data hosted outside the EU are not allowed",
                    fix="choose an EU-hosted alternative, or obtain a written waiver",
                    target=stem,
                )
            if dp.get("processes_personal_data") and not dp.get("privacy_url"):
                self.report(
                    doc,
                    ("data_protection",),
                    message="no privacy_url for software processing personal data",
                    fix="add the publisher's privacy policy URL",
                    severity="warning",
                    target=stem,
                )
