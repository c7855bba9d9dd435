"""The Debian package index of a release, fetched once and cached for offline checks."""

from __future__ import annotations

import lzma
import os
import urllib.error
import urllib.request
from functools import cache
from pathlib import Path

from socle.core.errors import SocleError
from socle.core.paths import cache_dir

COMPONENTS = ("main", "contrib", "non-free", "non-free-firmware")
#: the releases socle knows (the card schema's ``apt.suite``): a name from a merge request never
#: becomes part of a URL or a file name
RELEASES = ("bookworm", "trixie")
#: their numbers (what purls and CycloneDX name: ``distro=debian-13``)
RELEASE_NUMBERS = {"bookworm": "12", "trixie": "13"}
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SECURITY_MIRROR = "http://deb.debian.org/debian-security"


def index_path(release: str) -> Path:
    return cache_dir() / "debian-index" / f"{release}-amd64.txt"


def fetch(release: str, mirror: str = DEFAULT_MIRROR) -> Path:
    """Download Packages.xz of every component and keep ``name version installed-size-KiB`` lines."""
    if release not in RELEASES:
        raise SocleError(f"unknown Debian release '{str(release)[:30]}'", hint=f"use one of: {', '.join(RELEASES)}")
    target = index_path(release)
    target.parent.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    for comp in COMPONENTS:
        url = f"{mirror}/dists/{release}/{comp}/binary-amd64/Packages.xz"
        try:
            with urllib.request.urlopen(url, timeout=60) as resp:
                data = lzma.decompress(resp.read()).decode("utf-8", "replace")
        except (urllib.error.URLError, OSError, lzma.LZMAError) as exc:
            raise SocleError(
                f"cannot fetch the Debian package index {url}: {exc}",
                hint="check the network to the Debian mirror, then run './socle.sh setup' again",
            ) from None
        name = version = size = ""
        for line in [*data.splitlines(), ""]:
            if line.startswith("Package: "):
                name = line[9:]
            elif line.startswith("Version: "):
                version = line[9:]
            elif line.startswith("Installed-Size: "):
                size = line[16:]
            elif not line and name:
                lines.append(f"{name} {version} {size or 0}")
                name = version = size = ""
    tmp = target.with_suffix(".part")
    tmp.write_text("\n".join(sorted(lines)) + "\n")
    tmp.replace(target)
    load.cache_clear()
    return target


@cache
def load(release: str) -> dict[str, tuple[str, int]] | None:
    """name -> (version, installed size KiB) for ``release``, or None when never fetched (or unknown)."""
    if release not in RELEASES:
        return None
    path = index_path(release)
    if not path.exists():
        if os.environ.get("SOCLE_OFFLINE"):
            return None
        try:
            fetch(release)
        except SocleError:
            return None
    out: dict[str, tuple[str, int]] = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2:
            out.setdefault(parts[0], (parts[1], int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 0))
    return out
