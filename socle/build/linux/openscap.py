"""OpenSCAP on a master's root filesystem, with SCAP Security Guide content that knows its release.

The content is Debian's ``ssg-debian`` package pinned in ``data/openscap.yaml`` (version and sha256),
fetched once into the cache. The scan's result in the manifest: the score, and every failed rule with
its ANSSI BP-028 recommendations and the hardening tasks tagged with them, so that a failed rule leads
to the task that should have applied it (``--tags R63``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from socle.core import debian
from socle.core.paths import ROOT, cache_dir
from socle.registry import store

PIN = ROOT / "data" / "openscap.yaml"
HARDENING_TASKS = ROOT / "roles" / "hardening" / "tasks"
XCCDF = "{http://checklists.nist.gov/xccdf/1.2}"
#: the reference ANSSI's BP-028 recommendations carry in SSG's data streams
ANSSI_DOCUMENT = "cyber.gouv.fr/sites/default/files/document/linux_configuration"
ANSSI_ID = re.compile(r"R[0-9]{1,3}")
CONTENT_DIR = Path("usr/share/xml/scap/ssg/content")


@dataclass(frozen=True)
class Pin:
    package: str
    version: str
    url: str
    sha256: str
    profile: str


def pin() -> Pin:
    data = yaml.safe_load(PIN.read_text())
    return Pin(**{k: str(data[k]) for k in ("package", "version", "url", "sha256", "profile")})


def content(release: str, p: Pin | None = None) -> Path | str:
    """The data stream for ``release`` from the pinned package (fetched and unpacked once), or why not."""
    p = p or pin()
    number = debian.RELEASE_NUMBERS.get(release)
    if number is None:
        return f"socle knows no Debian number for {release!r}"
    folder = cache_dir() / "ssg" / p.sha256[:16]
    if not folder.is_dir():
        reason = _unpack(p, folder)
        if reason:
            return reason
    stream = folder / CONTENT_DIR / f"ssg-debian{number}-ds.xml"
    if not stream.is_file():
        have = sorted(x.name for x in (folder / CONTENT_DIR).glob("ssg-debian*-ds.xml"))
        return f"{p.package} {p.version} has no Debian {number} data stream (has: {', '.join(have) or 'none'})"
    return stream


def _unpack(p: Pin, folder: Path) -> str:
    """Download the pinned .deb, check its sha256, unpack it into ``folder`` (whole or not at all)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".part-") as tmp:
        deb = Path(tmp) / "content.deb"
        try:
            with urllib.request.urlopen(p.url, timeout=120) as resp, deb.open("wb") as out:
                shutil.copyfileobj(resp, out)
        except (urllib.error.URLError, OSError) as exc:
            return f"cannot fetch {p.package} {p.version} from {p.url}: {exc} (data/openscap.yaml)"
        digest = store.sha256_file(deb)
        if digest != p.sha256:
            return f"{p.url} has sha256 {digest}, not the pinned {p.sha256} (data/openscap.yaml): refused"
        tree = Path(tmp) / "tree"
        proc = subprocess.run(["dpkg-deb", "-x", str(deb), str(tree)], capture_output=True, text=True, check=False)
        if proc.returncode:
            return f"dpkg-deb cannot unpack {p.package} {p.version}: {proc.stderr.strip()[:200]}"
        tree.rename(folder)
    return ""


def scan(mount: str, release: str, results: Path) -> dict[str, Any]:
    """``oscap-chroot`` with the pinned content's profile on the tree at ``mount``."""
    p = pin()
    stream = content(release, p)
    if isinstance(stream, str):
        return {"skipped": stream}
    if not shutil.which("oscap-chroot"):
        return {"skipped": "oscap-chroot not installed (./socle.sh setup installs openscap-utils)"}
    results.parent.mkdir(parents=True, exist_ok=True)
    profile = f"xccdf_org.ssgproject.content_profile_{p.profile}"
    cmd = ["oscap-chroot", mount, "xccdf", "eval", "--profile", profile, "--results", str(results), str(stream)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 2) or not results.is_file():  # 2: some rule failed
        return {"skipped": f"oscap-chroot failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}"}
    counts, failed = outcomes(results)
    judged = counts.get("pass", 0) + counts.get("fail", 0)
    return {
        "profile": p.profile,
        "content": f"{p.package} {p.version} {stream.name}",
        "results": counts,
        "pass": counts.get("pass", 0),
        "fail": counts.get("fail", 0),
        "score": round(100 * counts.get("pass", 0) / judged, 1) if judged else None,
        "failed": [explain(rule, stream) for rule in failed],
    }


def outcomes(results: Path) -> tuple[dict[str, int], list[str]]:
    """Each outcome's count (pass, fail, notapplicable…) and the failed rules of an XCCDF results file."""
    counts: dict[str, int] = {}
    failed = []
    for _, elem in ET.iterparse(results):
        if elem.tag == f"{XCCDF}rule-result":
            outcome = elem.findtext(f"{XCCDF}result", "unknown")
            counts[outcome] = counts.get(outcome, 0) + 1
            if outcome in ("fail", "error"):
                failed.append(elem.get("idref", "?"))
            elem.clear()
    return counts, failed


def explain(rule: str, stream: Path) -> dict[str, Any]:
    """A failed rule: its title, its BP-028 recommendations, and the hardening tasks tagged with them."""
    title, anssi = _rules(stream).get(rule, ("", ()))
    tasks = sorted({name for rid in anssi for name in hardening_tasks().get(rid, ())})
    return {
        "rule": rule.removeprefix("xccdf_org.ssgproject.content_rule_"),
        "title": title,
        "anssi": list(anssi),
        "tasks": tasks or [f"no task of roles/hardening is tagged {' or '.join(anssi) or '(no BP-028 id)'}"],
    }


@cache
def _rules(stream: Path) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Every rule of a data stream: its title and its ANSSI BP-028 ids."""
    rules = {}
    for _, elem in ET.iterparse(stream):
        if elem.tag == f"{XCCDF}Rule":
            ids = tuple(
                ref.text for ref in elem.iter(f"{XCCDF}reference")
                if ANSSI_DOCUMENT in ref.get("href", "") and ref.text and ANSSI_ID.fullmatch(ref.text)
            )  # fmt: skip
            rules[elem.get("id", "")] = (elem.findtext(f"{XCCDF}title", ""), ids)
            elem.clear()
    return rules


@cache
def hardening_tasks() -> dict[str, list[str]]:
    """BP-028 id -> names of the hardening role's tasks tagged with it."""
    out: dict[str, list[str]] = {}
    for path in sorted(HARDENING_TASKS.glob("*.yml")):
        for task in yaml.safe_load(path.read_text()) or []:
            for tag in task.get("tags") or []:
                if isinstance(tag, str) and ANSSI_ID.fullmatch(tag):
                    out.setdefault(tag, []).append(f"roles/hardening/tasks/{path.name}: {task.get('name', '?')}")
    return out
