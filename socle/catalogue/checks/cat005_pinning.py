"""CAT005: pinning and integrity: exact versions, HTTPS, well-formed sha256."""

from __future__ import annotations

import re

from socle.catalogue.checks.base import Check

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

INEXACT_VERSION = re.compile(r"(^latest$|^stable$|[*xX]$|^[<>=~^]|\|\||,| - )")


class Pinning(Check):
    """no `latest`, `*` or ranges; installer and web URLs are HTTPS; sha256 is 64 lower-case hex, not
    an MD5/SHA-1, not the hash of an empty file; chocolatey only from the internal HTTPS feed.
    """

    id = "CAT005"
    summary = "pinning and integrity: exact versions, HTTPS, well-formed sha256"
    severities = ("error",)

    def run(self) -> None:
        for stem, doc in self.cat.cards.items():
            card = doc.data if isinstance(doc.data, dict) else {}
            version = card.get("version")
            if isinstance(version, str) and INEXACT_VERSION.search(version):
                self.report(
                    doc,
                    ("version",),
                    message=f"version '{version}' is not exact",
                    fix="write the exact upstream version installed by the masters, such as 25.2.3",
                    target=stem,
                )
            win = (card.get("platforms") or {}).get("windows") or {}
            lin = (card.get("platforms") or {}).get("linux") or {}
            for kp, block in (
                (("platforms", "windows", "installer"), win.get("installer")),
                (("platforms", "linux", "deb_url"), lin.get("deb_url")),
            ):
                if not isinstance(block, dict):
                    continue
                url, sha = str(block.get("url", "")), str(block.get("sha256", ""))
                if not url.startswith("https://"):
                    self.report(
                        doc,
                        (*kp, "url"),
                        message=f"installer URL '{url}' is not HTTPS",
                        fix="use the publisher's HTTPS download URL",
                        target=stem,
                    )
                if not re.fullmatch(r"[0-9a-f]{64}", sha):
                    hint = "it looks like MD5/SHA-1" if re.fullmatch(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{40}", sha) else ""
                    self.report(
                        doc,
                        (*kp, "sha256"),
                        message=f"sha256 '{sha}' is not 64 lower-case hex digits {hint}".strip(),
                        fix="compute it with: sha256sum <installer>",
                        target=stem,
                    )
                elif sha == EMPTY_SHA256:
                    self.report(
                        doc,
                        (*kp, "sha256"),
                        message="sha256 is the hash of an empty file",
                        fix="the download failed when the hash was computed: download again and recompute",
                        target=stem,
                    )
            ch = win.get("chocolatey") or {}
            if ch and not str(ch.get("feed", "")).startswith("https://"):
                self.report(
                    doc,
                    ("platforms", "windows", "chocolatey", "feed"),
                    message="chocolatey packages come only from the Région's internal HTTPS feed",
                    fix="set feed to the internal feed URL (never the community repository)",
                    target=stem,
                )
            if "community.chocolatey.org" in str(ch.get("feed", "")):
                self.report(
                    doc,
                    ("platforms", "windows", "chocolatey", "feed"),
                    message="the Chocolatey community repository is not an approved source",
                    fix="mirror the package into the internal feed",
                    target=stem,
                )
            web = (card.get("platforms") or {}).get("web") or {}
            if web and not str(web.get("url", "")).startswith("https://"):
                self.report(
                    doc,
                    ("platforms", "web", "url"),
                    message="web resource URL is not HTTPS",
                    fix="use the https:// address",
                    target=stem,
                )
