"""A virtual salle on a network the test creates itself: a network namespace holding a bridge, the
lycée's DHCP server (dnsmasq, fixed leases by MAC), the ci-serveur container (nginx image cache,
udpcast) joined to that namespace, and postes as QEMU VMs (OVMF/UEFI, virtio disk, a tap on the
bridge). Nothing leaves the namespace: the VMs reach only the serveur and each other, and the
controller's commands run inside the namespace (``Lab.run``).

Under TCG (this project's hosts: KVM creates VMs but cannot run them) a boot takes minutes; set
SOCLE_QEMU_ACCEL=kvm where KVM really runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
SUBNET = "10.77.0"
SERVEUR_IP = f"{SUBNET}.1"
DHCP_IP = f"{SUBNET}.2"


def sh(*cmd: str, check: bool = True, **kw) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(cmd), capture_output=True, text=True, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)}: {proc.stderr[-1500:]}")
    return proc


@dataclass
class Vm:
    name: str
    mac: str
    ip: str
    disk: Path
    vars: Path
    serial: Path
    tap: str
    proc: subprocess.Popen[bytes] | None = None
    boots: int = 0

    def log(self) -> str:
        return self.serial.read_text(errors="replace") if self.serial.exists() else ""


@dataclass
class Lab:
    work: Path
    ns: str = field(default_factory=lambda: f"socle-lab-{os.getpid()}")
    serveur: str = field(default_factory=lambda: f"socle-lab-srv-{os.getpid()}")
    vms: dict[str, Vm] = field(default_factory=dict)
    accel: str = field(default_factory=lambda: os.environ.get("SOCLE_QEMU_ACCEL", "tcg"))

    # --- network ---------------------------------------------------------------------------------
    def up(self, serveur_image: str) -> None:
        self.down()
        sh("ip", "netns", "add", self.ns)
        self.ip("link", "set", "lo", "up")
        self.ip("link", "add", "br0", "type", "bridge")
        self.ip("addr", "add", f"{SERVEUR_IP}/24", "dev", "br0")
        self.ip("link", "set", "br0", "up")
        # a serveur binds DHCP and TFTP ports and sends multicast: what a real one may do
        sh("podman", "run", "-d", "--name", self.serveur, "--hostname", "ci-serveur", "--cap-add=NET_ADMIN,NET_RAW",
           "--network", f"ns:/run/netns/{self.ns}", serveur_image)  # fmt: skip

    def ip(self, *args: str) -> None:
        sh("ip", "netns", "exec", self.ns, "ip", *args)

    def dhcp(self) -> None:
        """The lycée's DHCP server (not socle's, not on the serveur: its own namespace on the bridge),
        with fixed addresses for the postes' MACs. The serveur answers PXE alone, as proxy-DHCP."""
        hosts = [f"--dhcp-host={vm.mac},id:*,{vm.ip},{vm.name}" for vm in self.vms.values()]
        sh("ip", "netns", "add", f"{self.ns}-dhcp")
        self.ip("link", "add", "dhcp0", "type", "veth", "peer", "name", "eth0", "netns", f"{self.ns}-dhcp")
        self.ip("link", "set", "dhcp0", "master", "br0")
        self.ip("link", "set", "dhcp0", "up")
        for args in (("addr", "add", f"{DHCP_IP}/24", "dev", "eth0"), ("link", "set", "eth0", "up")):
            sh("ip", "netns", "exec", f"{self.ns}-dhcp", "ip", *args)
        sh("ip", "netns", "exec", f"{self.ns}-dhcp", "dnsmasq", "--port=0", "--interface=eth0", "--bind-interfaces",
           f"--dhcp-range={SUBNET}.100,{SUBNET}.150,12h", f"--pid-file={self.work / 'dnsmasq.pid'}",
           "--dhcp-authoritative", f"--dhcp-leasefile={self.work / 'leases'}", *hosts)  # fmt: skip

    def controller(self) -> list[str]:
        """The prefix that runs a controller command in the lab's network: only the network namespace
        changes (``ip netns exec`` would also remount /sys, and podman, which reaches the serveur
        container, needs the host's cgroups)."""
        return ["nsenter", f"--net=/run/netns/{self.ns}"]

    def run(self, *cmd: str, **kw) -> subprocess.CompletedProcess[str]:
        """A controller command inside the lab's network (ssh, ansible-playbook, invoke)."""
        return subprocess.run([*self.controller(), *cmd], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              **kw)  # fmt: skip

    def down(self) -> None:
        for vm in self.vms.values():
            self.stop(vm)
        pid = self.work / "dnsmasq.pid"
        if pid.exists():
            subprocess.run(["kill", pid.read_text().strip()], capture_output=True)
            pid.unlink()
        subprocess.run(["podman", "rm", "-f", "-t", "0", self.serveur], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        subprocess.run(["ip", "netns", "del", f"{self.ns}-dhcp"], capture_output=True)

    # --- postes ------------------------------------------------------------------------------------
    def add_vm(self, name: str, index: int, disk_gib: int = 8) -> Vm:
        vm = Vm(name, f"52:54:00:77:00:{index:02x}", f"{SUBNET}.{10 + index}", self.work / f"{name}.qcow2",
                self.work / f"{name}-vars.fd", self.work / f"{name}-serial.log", f"tap{index}")  # fmt: skip
        sh("qemu-img", "create", "-q", "-f", "qcow2", str(vm.disk), f"{disk_gib}G")
        shutil.copyfile(OVMF_VARS, vm.vars)
        self.ip("tuntap", "add", "dev", vm.tap, "mode", "tap")
        self.ip("link", "set", vm.tap, "master", "br0")
        self.ip("link", "set", vm.tap, "up")
        self.vms[name] = vm
        return vm

    def start(self, vm: Vm, *, kernel: Path | None = None, initrd: Path | None = None, append: str = "",
              memory_mib: int = 2048, network_first: bool = False) -> None:  # fmt: skip
        """Power on: from the disk (UEFI; a reboot reboots), or from a kernel (what PXE hands over; a
        reboot powers off, and the test decides what the next power-on boots)."""
        self.stop(vm)
        vm.boots += 1
        with vm.serial.open("a") as fh:
            fh.write(f"\n===== power on #{vm.boots} =====\n")
        cmd = [
            "qemu-system-x86_64", "-machine", f"q35,accel={self.accel}", "-smp", "2", "-m", str(memory_mib),
            "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
            "-drive", f"if=pflash,format=raw,unit=1,file={vm.vars}",
            "-drive", f"file={vm.disk},if=none,id=d0,format=qcow2,cache=unsafe",
            "-device", f"virtio-blk-pci,drive=d0,bootindex={2 if network_first else 1}",
            "-netdev", f"tap,id=n0,ifname={vm.tap},script=no,downscript=no",
            "-device", f"virtio-net-pci,netdev=n0,mac={vm.mac},bootindex={1 if network_first else 2}",
            "-display", "none", "-serial", f"file:{vm.serial}.part", "-nodefaults",
        ]  # fmt: skip
        if kernel:
            cmd += ["-no-reboot", "-kernel", str(kernel), "-initrd", str(initrd), "-append", append]
        vm.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, *cmd], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)  # fmt: skip

    def stop(self, vm: Vm) -> None:
        if vm.proc and vm.proc.poll() is None:
            vm.proc.kill()
            vm.proc.wait()
        self._collect(vm)
        vm.proc = None

    def _collect(self, vm: Vm) -> None:
        part = Path(f"{vm.serial}.part")
        if part.exists():
            with vm.serial.open("a") as fh:
                fh.write(part.read_text(errors="replace"))
            part.unlink()

    def console(self, vm: Vm) -> str:
        part = Path(f"{vm.serial}.part")
        return part.read_text(errors="replace") if part.exists() else ""

    def wait_off(self, vm: Vm, timeout: float) -> bool:
        """Wait until the VM powers off (an installer's reboot, a panic's reboot)."""
        assert vm.proc
        try:
            vm.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        self._collect(vm)
        return True

    def wait_ssh(self, vm: Vm, timeout: float) -> float:
        """Seconds until the poste's SSH port answers (from now)."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if vm.proc is None or vm.proc.poll() is not None:
                self._collect(vm)
                raise AssertionError(f"{vm.name} powered off while booting:\n{vm.log()[-3000:]}")
            probe = self.run("timeout", "5", "bash", "-c", f"exec 3<>/dev/tcp/{vm.ip}/22 && head -c 4 <&3")
            if probe.returncode == 0 and probe.stdout.startswith("SSH-"):
                return time.monotonic() - t0
            time.sleep(3)
        raise AssertionError(f"{vm.name}: no SSH after {timeout:.0f} s; console:\n{self.console(vm)[-3000:]}")
