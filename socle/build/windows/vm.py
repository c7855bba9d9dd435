"""The Windows build VM: QEMU/KVM, UEFI + TPM 2.0 (swtpm), virtio disk and NIC on a *restricted*
user-mode network (the guest reaches only the forwards the spec lists; the controller only its
WinRM port on 127.0.0.1), and its provisioning by Ansible over PSRP/HTTPS."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from socle.build.windows.inputs import VmSettings, ovmf
from socle.build.windows.media import BUILD_ACCOUNT
from socle.core import playbook
from socle.core.errors import StepFailed
from socle.core.paths import ROOT
from socle.core.proc import run


@dataclass
class BuildVm:
    """QEMU + swtpm processes of one build; ``stop()`` is safe to call at any time."""

    workdir: Path
    port: int
    qemu: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.workdir / "qemu.log"

    def alive(self) -> bool:
        return self.qemu is not None and self.qemu.poll() is None

    def tail(self, lines: int = 8) -> str:
        text = self.log.read_text(errors="replace").strip().splitlines() if self.log.exists() else []
        return "\n    ".join(text[-lines:]) or "(no output)"

    def stop(self, timeout: float = 10) -> None:
        if self.alive():
            assert self.qemu is not None
            self.qemu.terminate()
            try:
                self.qemu.wait(timeout)
            except subprocess.TimeoutExpired:
                self.qemu.kill()
                self.qemu.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def qemu_command(vm: VmSettings, workdir: Path, *, disk: Path, isos: list[Path], port: int) -> list[str]:
    """The QEMU command line: q35, UEFI (+ Secure Boot), TPM 2.0, virtio disk/NIC, restricted network."""
    code, _ = ovmf(vm)
    machine = f"q35,accel={vm.accel}" + (",smm=on" if vm.secure_boot else "")
    net = f"user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:{port}-:5986"
    for i, fwd in enumerate(vm.forwards):  # the only places the guest may reach (WSUS, software mirror)
        net += f",guestfwd=tcp:10.0.2.{100 + i}:{fwd.rsplit(':', 1)[1]}-tcp:{fwd}"
    cmd = [
        "qemu-system-x86_64", "-name", "socle-windows-build", "-machine", machine,
        "-smp", str(vm.cpus), "-m", str(vm.memory_mb), "-rtc", "base=localtime",
        "-drive", f"if=pflash,format=raw,unit=0,file={code},readonly=on",
        "-drive", f"if=pflash,format=raw,unit=1,file={workdir / 'OVMF_VARS.fd'}",
        "-chardev", f"socket,id=chrtpm,path={workdir / 'swtpm.sock'}",
        "-tpmdev", "emulator,id=tpm0,chardev=chrtpm", "-device", "tpm-crb,tpmdev=tpm0",
        "-drive", f"file={disk},if=none,id=disk0,format=qcow2,cache=unsafe,discard=unmap",
        "-device", "virtio-blk-pci,drive=disk0,bootindex=1",
        "-netdev", net, "-device", "virtio-net-pci,netdev=net0",
        "-display", "none", "-vga", "std", "-no-user-config", "-nodefaults",
        "-qmp", f"unix:{workdir / 'qmp.sock'},server=on,wait=off",
    ]  # fmt: skip
    if vm.accel == "kvm":
        cmd += ["-cpu", vm.cpu]
    if vm.vnc is not None:  # to watch the install: loopback only (ssh -L from a workstation)
        cmd += ["-vnc", f"127.0.0.1:{vm.vnc}"]
    if vm.secure_boot:
        cmd += ["-global", "driver=cfi.pflash01,property=secure,value=on"]
    for i, iso in enumerate(isos):
        cmd += ["-drive", f"file={iso},if=none,id=cd{i},media=cdrom,readonly=on",
                "-device", f"ide-cd,drive=cd{i},bus=ide.{i}" + (",bootindex=0" if i == 0 else "")]  # fmt: skip
    return cmd


def start_vm(vm: VmSettings, workdir: Path, *, isos: list[Path]) -> BuildVm:
    """Create the disk, the firmware variables and the TPM, then start QEMU (the first ISO boots)."""
    disk = workdir / "disk.qcow2"
    run(["qemu-img", "create", "-q", "-f", "qcow2", disk, f"{vm.disk_gb}G"], what="qemu-img create")
    shutil.copyfile(ovmf(vm)[1], workdir / "OVMF_VARS.fd")
    (workdir / "tpm").mkdir(exist_ok=True)
    run(["swtpm", "socket", "--tpm2", "--daemon", "--terminate",
         "--tpmstate", f"dir={workdir / 'tpm'}", "--ctrl", f"type=unixio,path={workdir / 'swtpm.sock'}",
         "--log", f"file={workdir / 'swtpm.log'}"], what="swtpm (TPM 2.0 for Windows 11)")  # fmt: skip
    build = BuildVm(workdir, free_port())
    with build.log.open("wb") as log:
        build.qemu = subprocess.Popen(
            qemu_command(vm, workdir, disk=disk, isos=isos, port=build.port),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    return build


def wait_for_winrm(build: BuildVm, ca: Path, *, timeout_s: float, poll_s: float = 10) -> None:
    """Wait until WinRM answers TLS on the forwarded port with the build CA's certificate."""
    context = ssl.create_default_context(cafile=str(ca))
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    while True:
        stuck = build.log.exists() and "KVM internal error" in build.log.read_text(errors="replace")
        if stuck or not build.alive():
            code = build.qemu.returncode if build.qemu else None
            state = "cannot run (KVM internal error)" if stuck else f"stopped (QEMU exit {code})"
            raise StepFailed(
                f"the build VM {state} before WinRM answered" + ("" if stuck else f":\n    {build.tail()}"),
                hint="a 'KVM internal error' means this host cannot run the VM (nested virtualisation): "
                "use a build host with hardware virtualisation; full log: " + str(build.log),
            )
        try:
            with (
                socket.create_connection(("127.0.0.1", build.port), timeout=5) as sock,
                context.wrap_socket(sock, server_hostname="127.0.0.1"),
            ):
                return
        except (OSError, ssl.SSLError) as exc:
            last = str(exc) or type(exc).__name__
        if time.monotonic() > deadline:
            raise StepFailed(
                f"Windows did not open WinRM over HTTPS within {timeout_s / 60:.1f} min (last: {last})",
                hint="watch the install: set windows.vm.vnc (a VNC display on 127.0.0.1) in the spec, or read "
                f"{build.log}; check windows.edition_index and the virtio drivers ISO",
            )
        time.sleep(poll_s)


def wait_for_poweroff(build: BuildVm, *, timeout_s: float) -> None:
    assert build.qemu is not None
    try:
        build.qemu.wait(timeout_s)
    except subprocess.TimeoutExpired:
        raise StepFailed(
            f"the VM did not power off within {timeout_s / 60:.0f} min after sysprep",
            hint=r"sysprep failed: its log is C:\Windows\System32\Sysprep\Panther\setuperr.log in the VM "
            f"(disk kept at {build.workdir / 'disk.qcow2'})",
        ) from None


def build_inventory(workdir: Path, *, port: int, ca: Path, password: str) -> Path:
    """The build VM as Ansible sees it: PSRP over HTTPS, certificate checked against the build CA."""
    secret = workdir / "build-account.yml"
    secret.write_text(yaml.safe_dump({"ansible_password": password}))
    secret.chmod(0o600)
    hosts = {
        "socle-build": {
            "ansible_host": "127.0.0.1",
            "ansible_port": port,
            "ansible_connection": "psrp",
            "ansible_psrp_protocol": "https",
            "ansible_psrp_cert_validation": "validate",
            "ansible_psrp_ca_cert": str(ca),
            # NTLM inside TLS with a local account: the build VM is not in a domain (no Kerberos)
            "ansible_psrp_auth": "ntlm",
            "ansible_user": BUILD_ACCOUNT,
            "ansible_psrp_operation_timeout": 60,
            "ansible_psrp_read_timeout": 90,
        }
    }
    inventory = workdir / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"windows_build": {"hosts": hosts}}}}))
    return inventory


def provision(workdir: Path, inventory: Path, extra: dict[str, Any], *, label: str, book: str) -> None:
    extra_file = workdir / f"{label}-vars.json"
    extra_file.write_text(json.dumps(extra))
    # the build account's password stays in its own file (removed after the build), never in env/extravars
    playbook.step(
        ROOT / "playbooks" / book,
        inventory,
        workdir / f"{label}.log",
        label,
        cmdline=f"-e @{workdir / 'build-account.yml'} -e @{extra_file}",
    )
