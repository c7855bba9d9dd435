"""Capture: the Windows partition of the powered-off build disk becomes ``install.wim`` (wimlib),
read through qemu-img (no qemu-nbd, no kernel module, no mount)."""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from socle.core.errors import StepFailed
from socle.core.proc import run

#: GPT partition type of a Windows data (NTFS) partition
GPT_BASIC_DATA = uuid.UUID("ebd0a0a2-b9e5-4433-87c0-68b6b72699c7")


@dataclass(frozen=True)
class Partition:
    number: int
    type_guid: uuid.UUID
    first_lba: int
    last_lba: int
    name: str

    @property
    def offset(self) -> int:
        return self.first_lba * 512

    @property
    def size(self) -> int:
        return (self.last_lba - self.first_lba + 1) * 512


def gpt_partitions(head: bytes) -> list[Partition]:
    """Partitions of a GPT disk from its first sectors (protective MBR, header, entries; 512-byte sectors)."""
    header = head[512:1024]
    if header[:8] != b"EFI PART":
        raise StepFailed("the build disk has no GPT partition table", hint="Windows Setup did not partition the disk")
    entries_lba, count, size = struct.unpack_from("<QII", header, 72)
    parts = []
    for i in range(count):
        raw = head[entries_lba * 512 + i * size : entries_lba * 512 + (i + 1) * size]
        if len(raw) < 128:
            break
        type_guid = uuid.UUID(bytes_le=raw[:16])
        if type_guid.int == 0:
            continue
        first, last = struct.unpack_from("<QQ", raw, 32)
        name = raw[56:128].decode("utf-16-le").rstrip("\0")
        parts.append(Partition(i + 1, type_guid, first, last, name))
    return parts


def windows_partition(disk: Path, workdir: Path) -> Partition:
    """The largest basic-data partition of the disk: C: (the recovery partition has another type)."""
    head = workdir / "gpt-head.raw"
    run(["qemu-img", "dd", "-f", "qcow2", "-O", "raw", "bs=512", "count=34", f"if={disk}", f"of={head}"],
        what="read the partition table")  # fmt: skip
    data = [p for p in gpt_partitions(head.read_bytes()) if p.type_guid == GPT_BASIC_DATA]
    if not data:
        raise StepFailed("no Windows (basic data) partition on the build disk", hint="the install did not complete")
    return max(data, key=lambda p: p.size)


def capture(disk: Path, workdir: Path, wim: Path, *, name: str, description: str) -> dict[str, Any]:
    """The Windows partition of ``disk`` (qcow2) -> ``wim`` (wimlib, LZX); returns what was captured."""
    part = windows_partition(disk, workdir)
    volume = workdir / "windows-volume.raw"
    opts = f"driver=raw,offset={part.offset},size={part.size},file.driver=qcow2,file.file.filename={disk}"
    run(["qemu-img", "convert", "-O", "raw", "--image-opts", opts, volume], what="extract the Windows partition")
    try:
        run(["wimcapture", volume, wim, name, description, "--compress=LZX", "--check"],
            what="wimcapture", hint="wimlib reads the NTFS volume through libntfs-3g")  # fmt: skip
    finally:
        volume.unlink(missing_ok=True)
    info = run(["wiminfo", wim, "1"], what="wiminfo").stdout
    fields = dict(ln.split(":", 1) for ln in info.splitlines() if ":" in ln)
    return {
        "partition": {"number": part.number, "bytes": part.size},
        "files": int(fields.get("File Count", "0").strip()),
        "bytes": int(fields.get("Total Bytes", "0").strip()),
    }
