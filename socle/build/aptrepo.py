"""The Région's frozen apt repository: every lock's .deb files, kept and signed, so that a master can be
rebuilt a year later, when the Debian mirror has moved on (docs/masters.md, "Rebuildable a year later").

One reprepro repository (``SOCLE_APT_REPO``, default ``dist/apt``: published with the masters) holds one
distribution per lock, named after the profile, the school year and the lock's package set
(``ci-2026-2027-3f2a9c1b0d4e``); the pool is shared, so a package kept by ten locks is stored once. The
Release files are signed with the masters' key (:mod:`socle.core.signing`), whose public key sits beside
them (``socle-archive-keyring.gpg``).

A build whose lock is frozen installs from that distribution only: mmdebstrap reads it on the build host,
and the build container sees it read-only at :data:`CONTAINER_PATH`; the master then gets the spec's own
sources back before it is generalised. A build that writes a lock (or finds its lock not yet frozen)
freezes it once its package set matched: each .deb is taken from the build caches or fetched, and must
have the sha256 the lock recorded from Debian's signed index.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from socle.core import signing
from socle.core.errors import SocleError, StepFailed
from socle.core.files import write_atomic
from socle.core.paths import cache_dir, dist_dir
from socle.core.proc import run
from socle.registry import store

KEYRING = "socle-archive-keyring.gpg"
#: where the build container sees the repository (a folder every Debian root filesystem has, empty)
CONTAINER_PATH = "/mnt"


def repo_dir() -> Path:
    """The frozen repository (``SOCLE_APT_REPO``, default ``<dist>/apt``)."""
    return Path(os.environ.get("SOCLE_APT_REPO") or dist_dir() / "apt")


def codename(profile: str, year: str, lock: dict[str, Any]) -> str:
    """The distribution of one lock: its profile, year and package set (name, version, architecture)."""
    pinned = sorted((n, p["version"], p["arch"]) for n, p in lock.get("packages", {}).items())
    digest = hashlib.sha256(json.dumps(pinned).encode()).hexdigest()[:12]
    return f"{profile}-{year}-{digest}"


def frozen(name: str) -> bool:
    """True when the distribution ``name`` is published, signed, in the repository."""
    dists = repo_dir() / "dists" / name
    return (dists / "InRelease").is_file() and (repo_dir() / KEYRING).is_file()


def check_readable() -> None:
    """apt verifies signatures as its unprivileged user (``_apt``): the repository and every folder
    above it must be readable by all, or a frozen build fails with "NO_PUBKEY"."""
    closed = [p for p in [repo_dir(), *repo_dir().parents] if p.exists() and p.stat().st_mode & 0o005 != 0o005]
    if closed:
        raise SocleError(f"the frozen apt repository is not readable by apt's sandbox user: {closed[0]} "
                         f"is mode {closed[0].stat().st_mode & 0o777:o}",
                         hint=f"chmod o+rx {closed[0]} (or move SOCLE_APT_REPO to a folder all can read)")  # fmt: skip


def sources_line(name: str, path: str | Path) -> str:
    """The one apt source of a frozen build, with the repository at ``path``."""
    return f"deb [signed-by={path}/{KEYRING}] file:{path} {name} main"


def deb_name(name: str, pkg: dict[str, str]) -> str:
    """The file name apt gives a package's .deb (the epoch's colon encoded)."""
    return f"{name}_{pkg['version'].replace(':', '%3a')}_{pkg['arch']}.deb"


def gather(lock: dict[str, Any], container: str, archives: list[Path]) -> Path:
    """Every .deb of ``lock``, with the sha256 the lock recorded, in a new folder of the repository (for
    :func:`keep`, which removes it); while the build's tree still has apt's cache.

    Each file is linked (else copied) from the first place that has it: mmdebstrap's cache, the
    repository's pool (a rebuild's packages were mostly kept with the previous lock), ``archives`` (the
    build tree's apt cache, on the host); what none has is downloaded in the build container
    (``apt-get download``, from the build's own sources).
    """
    packages: dict[str, dict[str, str]] = lock["packages"]
    unsigned = sorted(n for n, p in packages.items() if not p.get("sha256"))
    if unsigned:
        raise SocleError(
            f"the lock has no sha256 for {len(unsigned)} package(s): {', '.join(unsigned[:8])}",
            hint="they were not installed from the signed Debian archive; rebuild with --update-lock",
        )
    repo = repo_dir()
    repo.mkdir(parents=True, exist_ok=True)
    incoming = Path(tempfile.mkdtemp(prefix=".incoming-", dir=repo))
    try:
        pool = {deb.name: deb for deb in (repo / "pool").rglob("*.deb")}
        places: list[Callable[[str], Path | None]] = [
            lambda file: cache_dir() / "apt-archives" / file,
            lambda file: pool.get(_pool_name(file)),
            *(lambda file, folder=folder: folder / file for folder in archives),
        ]
        missing = _link_known(packages, places, incoming)
        if missing:
            _from_container(container, {n: packages[n] for n in missing}, incoming)
        bad = [n for n in missing if _sha256(incoming / deb_name(n, packages[n])) != packages[n]["sha256"]]
        if bad:
            raise StepFailed(
                f"{len(bad)} .deb file(s) do not match the lock's sha256: {', '.join(sorted(bad)[:8])}",
                hint="the mirror served other files than its index announced; try again later",
            )
    except BaseException:
        shutil.rmtree(incoming, ignore_errors=True)
        raise
    return incoming


def keep(name: str, lock: dict[str, Any], incoming: Path, *, description: str) -> int:
    """Put the files :func:`gather` verified into distribution ``name`` and sign its index (reprepro); the
    folder is removed. Nothing is published until every file is in."""
    packages: dict[str, dict[str, str]] = lock["packages"]
    repo = repo_dir()
    try:
        home, key = signing.signer()
        _configure(repo, name, description, key)
        debs = sorted(str(incoming / deb_name(n, p)) for n, p in packages.items())
        env = {"GNUPGHOME": str(home)}
        for start in range(0, len(debs), 200):
            run(["reprepro", "--basedir", repo, "--export=never", "includedeb", name, *debs[start : start + 200]],
                what=f"keep the lock's packages in {name}", env=env)  # fmt: skip
        run(["reprepro", "--basedir", repo, "export", name], what=f"sign the index of {name}", env=env)
        keyring = subprocess.run(["gpg", "--batch", "--homedir", str(home), "--export", key], capture_output=True)
        if keyring.returncode or not keyring.stdout:
            raise StepFailed("cannot export the repository's public key", hint="check the signing key")
        write_atomic(repo / KEYRING, keyring.stdout, mode=0o644)
    finally:
        shutil.rmtree(incoming, ignore_errors=True)
    return len(debs)


def _sha256(path: Path) -> str | None:
    """The file's sha256, None when it is not there."""
    return store.sha256_file(path) if path.is_file() else None


def _pool_name(file: str) -> str:
    """The name reprepro gives a .deb in its pool: apt's, without the epoch."""
    name, version, arch = file.split("_")
    return f"{name}_{version.split('%3a', 1)[-1]}_{arch}"


def _link_known(packages: dict[str, dict[str, str]], places: list[Callable[[str], Path | None]],
                incoming: Path) -> list[str]:  # fmt: skip
    """Link (else copy) into ``incoming`` each package's .deb from the first of ``places`` (apt's file
    name → where it may be) holding it with the lock's sha256; the names found nowhere."""
    missing = []
    for name, pkg in sorted(packages.items()):
        file = deb_name(name, pkg)
        found = next((path for place in places if (path := place(file)) and _sha256(path) == pkg["sha256"]), None)
        if found is None:
            missing.append(name)
            continue
        try:
            os.link(found, incoming / file)
        except OSError:  # another file system
            shutil.copy2(found, incoming / file)
    return missing


#: in the build container: download each requested package=version (its apt cache is one of
#: :func:`gather`'s places already, seen from the host)
_FETCH = r"""set -eu
rm -rf /tmp/socle-freeze && mkdir -p /tmp/socle-freeze && cd /tmp/socle-freeze
want=$(cat)
apt-get update -qq
printf '%s\n' "$want" | xargs apt-get download -qq
"""


def _from_container(container: str, packages: dict[str, dict[str, str]], incoming: Path) -> None:
    wanted = "".join(f"{n}={p['version']}\n" for n, p in sorted(packages.items()))
    run(["podman", "exec", "-i", container, "sh", "-c", _FETCH], what="fetch the lock's packages", input=wanted,
        hint="the build container could not reach them: check the Debian mirror")  # fmt: skip
    run(["podman", "cp", f"{container}:/tmp/socle-freeze/.", str(incoming)], what="copy the lock's packages out")
    run(["podman", "exec", container, "rm", "-rf", "/tmp/socle-freeze"], what="remove the fetched packages")


def _configure(repo: Path, name: str, description: str, key: str) -> None:
    """Add distribution ``name`` to reprepro's configuration (once), signed with the masters' key."""
    conf = repo / "conf" / "distributions"
    text = conf.read_text() if conf.exists() else ""
    if f"Codename: {name}\n" in text:
        return
    stanza = f"Codename: {name}\nArchitectures: amd64\nComponents: main\nDescription: {description}\nSignWith: {key}\n"
    write_atomic(conf, (text.rstrip("\n") + "\n\n" if text.strip() else "") + stanza)
    options = repo / "conf" / "options"
    if not options.exists():
        write_atomic(options, "# socle: the frozen repository (socle/build/aptrepo.py)\n")
