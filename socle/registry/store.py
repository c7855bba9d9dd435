"""The store of published masters: ``dist/masters/<year>/<profile>/<version>/``, each with its
artefacts, ``manifest.json``, ``SHA256SUMS`` and its signature. Where a master lives, which one is
the newest, what the next patch release is called, and how one is published and checked."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from socle.core.clock import utc_stamp
from socle.core.errors import SocleError
from socle.core.files import write_atomic
from socle.core.paths import dist_dir
from socle.registry.specs import MasterSpec

#: what a serveur caches of a master for its postes: the image, its sums and their signature
SIGNED_FILES = ("rootfs.squashfs", "SHA256SUMS", "SHA256SUMS.asc", "release.json")
#: and, for masters that boot, the slot's kernel and initrd
BOOT_FILES = ("vmlinuz", "initrd.img")


def profile_dir(year: str, profile: str) -> Path:
    """The folder holding every published version of a profile for a school year."""
    return dist_dir() / "masters" / year / profile


def chunk_store(year: str, profile: str) -> Path:
    """The casync chunk store of a profile's masters (``store.castr`` beside its versions), published
    with them: serveurs stage patch releases from it, chunk by chunk."""
    return profile_dir(year, profile) / "store.castr"


def master_dir(year: str, profile: str, version: str) -> Path:
    """Where master ``version`` of ``profile`` is (or will be) published."""
    return profile_dir(year, profile) / version


def _patch_number(version: str) -> int:
    """``2026-2027.3`` -> 3."""
    return int(version.rsplit(".", 1)[1])


def serial_of(version: str) -> int:
    """The number a poste compares to refuse an older master: it grows with the school year, then
    with the patch release (``2026-2027.3`` -> 2026000003; ``2027-2028.0`` -> 2027000000)."""
    year, patch = version.rsplit(".", 1)
    return int(year[:4]) * 1_000_000 + int(patch)


def write_release(staging: Path, *, profile: str, version: str, school_year: str) -> str:
    """``release.json``: what a poste trusts about a master (listed in the signed SHA256SUMS), never the
    controller's word: its profile, version and serial. Returns the artefact's file name."""
    release = {"profile": profile, "version": version, "school_year": school_year, "serial": serial_of(version)}
    (staging / "release.json").write_text(json.dumps(release, sort_keys=True) + "\n")
    return "release.json"


def published(year: str, profile: str) -> list[Path]:
    """Published versions of a profile (a manifest, not a partial build), oldest first."""
    root = profile_dir(year, profile)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if (p / "manifest.json").exists() and not p.name.startswith(".")]
    return sorted(found, key=lambda p: _patch_number(p.name))


def newest(profile: str, year: str) -> tuple[dict[str, Any], Path] | None:
    """The newest published master of ``profile`` for ``year`` (the reference): its manifest and folder."""
    versions = published(year, profile)
    if not versions:
        return None
    return json.loads((versions[-1] / "manifest.json").read_text()), versions[-1]


def newest_manifest(profile: str, year: str) -> dict[str, Any] | None:
    found = newest(profile, year)
    return found[0] if found else None


def next_patch_version(spec: MasterSpec) -> str:
    """The next ``.N`` after the spec's version and every published one."""
    numbers = [_patch_number(spec.version), *(_patch_number(p.name) for p in published(spec.year, spec.profile))]
    return f"{spec.year}.{max(numbers) + 1}"


def version_to_build(spec: MasterSpec, *, patch: bool) -> str:
    """The version a build publishes. Published versions are immutable (postes, serveur caches and the
    signed index know them by their bytes): a build takes the spec's version only while it is not
    published, and otherwise, like a patch release, the next ``.N``."""
    if patch or (master_dir(spec.year, spec.profile, spec.version) / "manifest.json").exists():
        return next_patch_version(spec)
    return spec.version


def built_from(spec: MasterSpec, inputs_sha256: str) -> Path | None:
    """The newest published master of the spec's profile built from exactly these inputs, if any."""
    for folder in reversed(published(spec.year, spec.profile)):
        if json.loads((folder / "manifest.json").read_text()).get("inputs_sha256") == inputs_sha256:
            return folder
    return None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_sums(staging: Path, produced: dict[str, str]) -> dict[str, dict[str, Any]]:
    """sha256 and size of each artefact (name -> file in ``staging``), listed in ``staging/SHA256SUMS``."""
    artefacts = {
        name: {"sha256": sha256_file(staging / f), "bytes": (staging / f).stat().st_size}
        for name, f in sorted(produced.items())
    }
    (staging / "SHA256SUMS").write_text("".join(f"{a['sha256']}  {n}\n" for n, a in artefacts.items()))
    return artefacts


def served_files(folder: Path) -> list[str]:
    """The files of a master the serveur caches: what it serves to its postes, then the manifest its
    nightly check judges them by (pull mode; its artefacts' sha256 match the signed sums)."""
    return [*SIGNED_FILES, *(f for f in BOOT_FILES if (folder / f).exists()), "manifest.json"]


def write_index(root: Path) -> Path:
    """``<profile>/index.json``: the published versions, oldest first, each with the sha256 of its
    SHA256SUMS and the files a serveur fetches. What a playbook run by AWX reads from the Région's
    HTTP publication to pick and stage a master (playbooks/tasks/resolve-salle.yml)."""
    versions = []
    for folder in sorted((p for p in root.iterdir() if (p / "manifest.json").exists() and not p.name.startswith(".")),
                         key=lambda p: _patch_number(p.name)):  # fmt: skip
        versions.append({"version": folder.name, "sums_sha256": sha256_file(folder / "SHA256SUMS"),
                         "files": served_files(folder)})  # fmt: skip
    index = {"schema_version": 1, "profile": root.name, "school_year": root.parent.name, "written": utc_stamp(),
             "versions": versions}  # fmt: skip
    path = root / "index.json"
    write_atomic(path, json.dumps(index, indent=1) + "\n")
    return path


def publish(staging: Path, final: Path, manifest: dict[str, Any]) -> Path:
    """Write the manifest, then rename the staging directory in: a reader sees the whole master or none.
    A published version is never replaced. The profile's index.json is written again."""
    if final.exists():
        raise SocleError(f"{final.name} is published already: a published version is never overwritten",
                         where=str(final), hint="build again: the build takes the next .N version")  # fmt: skip
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    staging.rename(final)
    write_index(final.parent)
    return final


def verify_artefacts(folder: Path) -> list[str]:
    """Check that every artefact listed in the manifest exists with its sha256; returns problems."""
    manifest = json.loads((folder / "manifest.json").read_text())
    problems = []
    for name, art in manifest["artefacts"].items():
        path = folder / name
        if not path.exists():
            problems.append(f"{name}: missing")
        elif sha256_file(path) != art["sha256"]:
            problems.append(f"{name}: sha256 mismatch")
    return problems
