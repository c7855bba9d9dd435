"""The Windows build pipeline with real tools, short of Windows itself (no Windows media here).

- capture: a GPT disk (qcow2) laid out as Windows Setup does, its data partition a real NTFS
  volume, goes through ``socle.build.windows.capture`` (qemu-img, wimlib) and comes back file for file;
- the build VM: QEMU with UEFI firmware and a TPM 2.0 (swtpm) boots from the answer ISO on the
  restricted network; without Windows, WinRM never answers: the wait ends with a clear message,
  the VM is stopped, nothing is published and no build secret is left behind.
This host's nested KVM cannot run UEFI firmware ('KVM internal error'), so these tests use QEMU's
software emulation (``accel: tcg``), which the spec allows for exactly this purpose.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from socle.build.windows import capture as wcapture
from socle.build.windows import inputs, media, vm
from socle.core.errors import StepFailed
from socle.registry import specs
from tests.conftest import run_invoke

TOOLS = ("qemu-img", "qemu-system-x86_64", "swtpm", "xorriso", "wimcapture", "mkntfs", "sfdisk")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(any(not shutil.which(t) for t in TOOLS), reason=f"needs {', '.join(TOOLS)} (./socle.sh setup)"),
]


def _ntfs_disk(tmp_path: Path, tree: Path) -> Path:
    """A qcow2 disk: EFI, MSR, the NTFS data partition holding ``tree``, recovery."""
    part = tmp_path / "c.ntfs"
    part.write_bytes(b"")
    subprocess.run(["truncate", "-s", "96M", str(part)], check=True)
    subprocess.run(["mkntfs", "-F", "-Q", "-q", "-L", "Windows", str(part)], check=True, capture_output=True)
    subprocess.run(["wimcapture", str(tree), str(tmp_path / "t.wim")], check=True, capture_output=True)
    subprocess.run(["wimapply", str(tmp_path / "t.wim"), str(part)], check=True, capture_output=True)
    raw = tmp_path / "disk.raw"
    raw.write_bytes(b"")
    subprocess.run(["truncate", "-s", "200M", str(raw)], check=True)
    layout = ("label: gpt\n"
              "start=2048, size=40960, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n"
              "size=32768, type=E3C9E316-0B5C-4D6D-B46B-CC2A07F5E2B5\n"
              "size=196608, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\n"
              "type=DE94BBA4-06D1-4D40-A16A-BFD50179D6AC\n")  # fmt: skip
    subprocess.run(["sfdisk", "-q", str(raw)], input=layout, text=True, check=True, capture_output=True)
    subprocess.run(["dd", f"if={part}", f"of={raw}", "bs=512", f"seek={2048 + 40960 + 32768}", "conv=notrunc,sparse",
                    "status=none"], check=True)  # fmt: skip
    disk = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(disk)], check=True)
    return disk


def test_capture_round_trips_the_windows_volume(tmp_path):
    tree = tmp_path / "tree"
    (tree / "Windows" / "System32").mkdir(parents=True)
    (tree / "Windows" / "System32" / "drivers.txt").write_text("viostor\n")
    (tree / "Program Files" / "GeoGebra").mkdir(parents=True)
    (tree / "Program Files" / "GeoGebra" / "app.bin").write_bytes(bytes(range(256)) * 400)
    work = tmp_path / "work"
    work.mkdir()
    wim = tmp_path / "install.wim"
    info = wcapture.capture(_ntfs_disk(tmp_path, tree), work, wim, name="socle test", description="capture test")
    assert info["files"] == 2 and info["bytes"] == 8 + 102400 and info["partition"]["number"] == 3
    assert not (work / "windows-volume.raw").exists()  # the raw volume is not kept
    out = tmp_path / "applied"
    subprocess.run(["wimapply", str(wim), "1", str(out)], check=True, capture_output=True)
    assert (out / "Program Files" / "GeoGebra" / "app.bin").read_bytes() == bytes(range(256)) * 400
    assert (out / "Windows" / "System32" / "drivers.txt").read_text() == "viostor\n"


def test_a_disk_windows_did_not_install_on_is_a_clear_failure(tmp_path):
    disk = tmp_path / "empty.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "1G"], check=True)
    with pytest.raises(StepFailed, match="no GPT partition table"):
        wcapture.capture(disk, tmp_path, tmp_path / "x.wim", name="x", description="x")
    assert not (tmp_path / "x.wim").exists()


def test_build_vm_boots_and_the_wait_for_winrm_ends_clearly(tmp_path):
    spec = specs.load_spec("poste-windows", "2026-2027")
    ca, pfx, password = media.build_pki(tmp_path)
    answers = media.answer_media(spec, tmp_path, build_password="x", pfx=pfx, pfx_password=password)
    settings = inputs.VmSettings(accel="tcg", secure_boot=False, memory_mb=1024, disk_gb=1)
    build = vm.start_vm(settings, tmp_path, isos=[answers])
    try:
        with pytest.raises(StepFailed, match="did not open WinRM over HTTPS within") as exc:
            vm.wait_for_winrm(build, ca, timeout_s=8, poll_s=2)
        assert build.alive()  # the VM was running the whole time: firmware up, no Windows to answer
        assert "qemu.log" in exc.value.hint
    finally:
        build.stop()
    assert not build.alive()
    subprocess.run(["sleep", "1"])
    swtpm = subprocess.run(["pgrep", "-f", f"swtpm socket.*{tmp_path}"], capture_output=True).returncode
    assert swtpm == 1  # swtpm ends with its VM (--terminate)


def test_build_master_without_windows_in_the_iso_fails_clearly_and_publishes_nothing(tmp_path):
    spec = yaml.safe_load((specs.MASTERS_DIR / "2026-2027" / "poste-windows.yaml").read_text())
    iso = tmp_path / "not-windows.iso"
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-V", "NOT_WINDOWS", "-o", str(iso), str(tmp_path)],
                   check=True)  # fmt: skip
    spec["windows"].update(iso=str(iso), virtio_iso=str(iso),
                           vm={"accel": "tcg", "secure_boot": False, "memory_mb": 2048, "disk_gb": 40,
                               "install_timeout_min": 0.2})  # fmt: skip
    year = tmp_path / "masters" / "2026-2027"
    year.mkdir(parents=True)
    (year / "poste-windows.yaml").write_text(yaml.safe_dump(spec))
    cache, dist = tmp_path / "cache", tmp_path / "dist"
    proc = run_invoke("build-master", "--profile", "poste-windows",
                      env={"SOCLE_MASTERS_DIR": str(tmp_path / "masters"), "SOCLE_DIST": str(dist),
                           "SOCLE_REGION_CA_THUMBPRINT": "AB" * 20,
                           "SOCLE_CACHE": str(cache)})  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "Windows did not open WinRM over HTTPS within 0.2 min" in proc.stderr and "Traceback" not in proc.stderr
    assert "✓ answer media" in proc.stderr and "nothing was published" in proc.stderr
    assert not any(p.is_file() for p in dist.rglob("*")) if dist.exists() else True
    work = cache / "windows-build" / "poste-windows"
    assert (work / "qemu.log").exists()  # kept for diagnosis
    assert not (work / "answers.iso").exists() and not (work / "build-account.yml").exists()  # the password is gone
    assert not (year / "poste-windows.lock").exists()  # a failed build pins nothing
