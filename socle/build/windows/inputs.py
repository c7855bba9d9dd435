"""The inputs of a Windows build, checked before anything is written: the Région's ISO and the
virtio drivers ISO (pinned by sha256 in the spec's lock with the Windows collections), the build
VM's settings, and the host tools (KVM, QEMU, swtpm, OVMF, xorriso, wimlib)."""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from socle.core.errors import SocleError
from socle.core.paths import rel
from socle.registry import specs, store
from socle.registry.specs import MasterSpec

#: collections whose versions a Windows master pins in its lock
WINDOWS_COLLECTIONS = ("ansible.windows", "community.windows", "chocolatey.chocolatey", "microsoft.ad")


#: host tool -> Debian package
TOOLS = {
    "qemu-system-x86_64": "qemu-system-x86",
    "qemu-img": "qemu-utils",
    "swtpm": "swtpm",
    "xorriso": "xorriso",
    "wimcapture": "wimtools",
    "gpg": "gnupg",
}


OVMF_DIR = Path(os.environ.get("SOCLE_OVMF_DIR", "/usr/share/OVMF"))


@dataclass(frozen=True)
class VmSettings:
    """The build VM, from the spec's ``windows.vm`` (defaults suit a Windows 11 install)."""

    cpus: int = 2
    memory_mb: int = 4096
    disk_gb: int = 64
    cpu: str = "host"
    accel: str = "kvm"
    secure_boot: bool = True
    install_timeout_min: float = 120
    generalize_timeout_min: float = 30
    forwards: tuple[str, ...] = ()
    vnc: int | None = None

    @classmethod
    def from_spec(cls, spec: MasterSpec) -> VmSettings:
        vm = dict((spec.data.get("windows") or {}).get("vm") or {})
        vm["forwards"] = tuple(vm.get("forwards", ()))
        return cls(**vm)


@dataclass(frozen=True)
class Inputs:
    iso: Path
    iso_sha256: str
    virtio_iso: Path
    virtio_sha256: str
    collections: dict[str, str]

    def lock(self, spec: MasterSpec) -> dict[str, Any]:
        return {
            "spec": str(rel(spec.path)),
            "iso": {
                "file": self.iso.name,
                "sha256": self.iso_sha256,
                "edition_index": int((spec.data.get("windows") or {}).get("edition_index", 1)),
            },
            "virtio_iso": {"file": self.virtio_iso.name, "sha256": self.virtio_sha256},
            "collections": self.collections,
        }


def collection_versions() -> dict[str, str]:
    """Installed versions of the Windows collections (they ship in the ``ansible`` package)."""
    import ansible_collections

    found: dict[str, str] = {}
    for base in map(Path, ansible_collections.__path__):
        for name in WINDOWS_COLLECTIONS:
            manifest = base / name.replace(".", "/") / "MANIFEST.json"
            if name not in found and manifest.exists():
                found[name] = json.loads(manifest.read_text())["collection_info"]["version"]
    return dict(sorted(found.items()))


def ovmf(vm: VmSettings) -> tuple[Path, Path]:
    """Firmware code and variables template: Microsoft's Secure Boot keys enrolled, or none."""
    suffix = ".ms.fd" if vm.secure_boot else ".fd"
    return OVMF_DIR / f"OVMF_CODE_4M{suffix}", OVMF_DIR / f"OVMF_VARS_4M{suffix}"


def region_ca_thumbprint(spec: MasterSpec) -> str:
    """The Région's issuing CA thumbprint postes' WinRM certificates must chain to (``SOCLE_REGION_CA_THUMBPRINT``
    or the spec's ``windows.vars.win_firstboot_region_ca_thumbprint``); refused before any VM starts."""
    win_vars = (spec.data.get("windows") or {}).get("vars") or {}
    value = os.environ.get("SOCLE_REGION_CA_THUMBPRINT") or str(
        win_vars.get("win_firstboot_region_ca_thumbprint") or ""
    )
    if not re.fullmatch(r"[0-9A-Fa-f]{40}", value):
        raise SocleError(
            "the Windows build needs the thumbprint of the Région's issuing CA (40 hex digits)"
            + (f", not '{value[:50]}'" if value else ""),
            where=f"{rel(spec.path)} [windows.vars.win_firstboot_region_ca_thumbprint]",
            hint="set it there or in SOCLE_REGION_CA_THUMBPRINT: postes open WinRM only with a certificate "
            "that chains to that CA",
        )
    return value.upper()


def check_inputs(spec: MasterSpec, *, update_lock: bool = False) -> Inputs:
    """Every input of the build, checked before anything is written; fails at once with what is needed."""
    win = spec.data.get("windows") or {}
    where = f"{rel(spec.path)} [windows.iso]"
    iso = Path(os.environ.get("SOCLE_WINDOWS_ISO", win.get("iso", "")))
    if not str(iso) or not iso.is_file():
        raise SocleError(
            f"the Windows build needs the Région's licensed installation ISO, not found at '{iso}'",
            where=where,
            hint="copy the ISO to that path (or set SOCLE_WINDOWS_ISO); nothing is downloaded from Microsoft",
        )
    vm = VmSettings.from_spec(spec)
    if vm.accel == "kvm" and not os.access("/dev/kvm", os.R_OK | os.W_OK):
        raise SocleError(
            "the Windows build needs KVM (/dev/kvm) to install Windows in a VM",
            hint="run it on a build host with hardware virtualisation enabled",
        )
    missing = sorted({pkg for tool, pkg in TOOLS.items() if not shutil.which(tool)})
    missing += [f"ovmf ({p})" for p in ovmf(vm) if not p.exists()]
    if missing:
        raise SocleError(f"the Windows build needs: {', '.join(missing)}", hint="run './socle.sh setup'")
    virtio = Path(os.environ.get("SOCLE_VIRTIO_ISO", win.get("virtio_iso", "")))
    if not str(virtio) or not virtio.is_file():
        raise SocleError(
            f"the virtio drivers ISO (disk and network drivers for Windows Setup) is not at '{virtio}'",
            where=f"{rel(spec.path)} [windows.virtio_iso]",
            hint="Fedora's virtio-win ISO, from the Région's software mirror (or set SOCLE_VIRTIO_ISO)",
        )
    found = Inputs(iso, store.sha256_file(iso), virtio, store.sha256_file(virtio), collection_versions())
    if win.get("iso_sha256") and win["iso_sha256"] != found.iso_sha256:
        raise SocleError(
            f"the ISO's sha256 is {found.iso_sha256}, the spec expects {win['iso_sha256']}",
            where=f"{rel(spec.path)} [windows.iso_sha256]",
            hint="this is not the Région's media: copy the right ISO, or correct the spec after checking",
        )
    lock = read_lock(spec)
    if lock and not update_lock:
        locked, now = _pins(lock), _pins(found.lock(spec))
        labels = {"iso": "Windows ISO", "edition_index": "edition index", "virtio_iso": "virtio drivers ISO",
                  "collections": "collections"}  # fmt: skip
        for key, label in labels.items():
            if locked[key] != now[key]:
                raise SocleError(
                    f"the {label} differs from the lock: locked {locked[key]}, found {now[key]}",
                    where=f"{rel(spec.lock_path)} [{key}]",
                    hint="a release builds from its locked inputs; to move to new media or collections, "
                    "re-run with --update-lock (a new lock, reviewed like any change)",
                )
    return found


def _pins(lock: dict[str, Any]) -> dict[str, Any]:
    """What a Windows lock pins, as compared between the lock and the inputs found."""
    return {
        "iso": lock["iso"]["sha256"],
        "edition_index": lock["iso"].get("edition_index"),
        "virtio_iso": lock["virtio_iso"]["sha256"],
        "collections": lock.get("collections", {}),
    }


def read_lock(spec: MasterSpec) -> dict[str, Any] | None:
    """The Windows lock (the JSON read like a Linux one), checked to pin both ISOs by sha256."""
    data = specs.read_lock(spec)
    try:
        if data is not None and not (data["iso"]["sha256"] and data["virtio_iso"]["sha256"]):
            raise ValueError("an input without sha256")
    except (ValueError, KeyError, TypeError) as exc:
        raise SocleError(
            f"unreadable lock ({exc})", where=str(rel(spec.lock_path)), hint="restore it from git or use --update-lock"
        ) from None
    return data
