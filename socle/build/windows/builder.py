"""Windows masters (issue #9): inputs, answer media, the build VM, provisioning, capture, signing.

The pipeline (docs/windows.md), driven directly from Python rather than by Packer:

1. inputs: the Région's ISO and the virtio drivers ISO, pinned by sha256 in the spec's lock with
   the Windows collection versions; KVM, QEMU, swtpm, OVMF, xorriso and wimlib present. Any
   missing input fails at once and writes nothing.
2. answer media: ``autounattend.xml`` (fr-FR, Romance Standard Time, local build account with a
   one-time password) and the script that opens WinRM over HTTPS with a certificate issued by a
   throw-away CA of this build (the controller validates it: no unchecked TLS, even here).
3. install: QEMU/KVM, UEFI + TPM 2.0 (swtpm), virtio disk and NIC on a *restricted* user-mode
   network: the guest reaches nothing but the forwards the spec lists (WSUS, software mirror);
   the controller reaches only its WinRM port, forwarded to 127.0.0.1.
4. provision (``playbooks/windows-build.yml``): updates, catalogue, hardening, ngen, first-boot
   scripts, the manifest collector; then the door is closed and sysprep runs from a SYSTEM task.
5. capture: the Windows NTFS partition of the powered-off disk becomes ``install.wim`` (wimlib),
   listed in a signed ``SHA256SUMS`` with the manifest, published atomically like Linux masters.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import secrets
import shutil
import socket
import ssl
import struct
import subprocess
import time
import uuid
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import yaml

from socle import CATALOGUE_DIR, ROOT, masters, rel
from socle.errors import SocleError, StepFailed
from socle.proc import run

#: IANA time zone -> Windows time zone id (the ones French académies need)
WINDOWS_TIMEZONES = {
    "Europe/Paris": "Romance Standard Time",
    "America/Cayenne": "SA Eastern Standard Time",
    "America/Martinique": "SA Western Standard Time",
    "America/Guadeloupe": "SA Western Standard Time",
    "Indian/Reunion": "Mauritius Standard Time",
    "Indian/Mayotte": "E. Africa Standard Time",
}
#: fr-FR input locale: French (France) keyboard, AZERTY
FRENCH_INPUT_LOCALE = "040c:0000040c"
#: volume label of the answer media (the first-logon command finds its script by this label)
ANSWER_LABEL = "SOCLE_ANSWERS"
BUILD_ACCOUNT = "socle-build"
#: collections whose versions a Windows master pins in its lock
WINDOWS_COLLECTIONS = ("ansible.windows", "community.windows", "chocolatey.chocolatey", "microsoft.ad")
#: GPT partition type of a Windows data (NTFS) partition
GPT_BASIC_DATA = uuid.UUID("ebd0a0a2-b9e5-4433-87c0-68b6b72699c7")
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


def render_autounattend(spec: Any, *, timezone: str = "Europe/Paris", build_password: str | None = None) -> str:
    """The French-locale answer file; the build account gets a one-time random password."""
    win = spec.data.get("windows") or {}
    if timezone not in WINDOWS_TIMEZONES:
        raise SocleError(
            f"no Windows time zone known for '{timezone}'", hint=f"use one of: {', '.join(WINDOWS_TIMEZONES)}"
        )
    template = resources.files("socle").joinpath("templates", "autounattend.xml.j2").read_text()
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string(template).render(
        profile=spec.data["profile"],
        version=spec.data["version"],
        locale="fr-FR",
        input_locale=FRENCH_INPUT_LOCALE,
        windows_timezone=WINDOWS_TIMEZONES[timezone],
        edition_index=int(win.get("edition_index", 1)),
        driver_paths=win.get("driver_paths", _virtio_driver_paths()),
        organization=win.get("organization", "Région"),
        computer_name="SOCLE-BUILD",
        build_account=BUILD_ACCOUNT,
        build_password=build_password or secrets.token_urlsafe(24),
        answer_label=ANSWER_LABEL,
    )


def _virtio_driver_paths() -> list[str]:
    """Storage and network drivers of the virtio ISO; Setup ignores the letters where it is not."""
    return [f"{d}:\\{drv}\\w11\\amd64" for d in "DEF" for drv in ("viostor", "NetKVM")]


# --- inputs -----------------------------------------------------------------------------------
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
    def from_spec(cls, spec: Any) -> VmSettings:
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

    def lock(self, spec: Any) -> dict[str, Any]:
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


def _ovmf(vm: VmSettings) -> tuple[Path, Path]:
    """Firmware code and variables template: Microsoft's Secure Boot keys enrolled, or none."""
    suffix = ".ms.fd" if vm.secure_boot else ".fd"
    return OVMF_DIR / f"OVMF_CODE_4M{suffix}", OVMF_DIR / f"OVMF_VARS_4M{suffix}"


def check_inputs(spec: Any, *, update_lock: bool = False) -> Inputs:
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
    missing += [f"ovmf ({p})" for p in _ovmf(vm) if not p.exists()]
    if missing:
        raise SocleError(f"the Windows build needs: {', '.join(missing)}", hint="run 'invoke setup'")
    virtio = Path(os.environ.get("SOCLE_VIRTIO_ISO", win.get("virtio_iso", "")))
    if not str(virtio) or not virtio.is_file():
        raise SocleError(
            f"the virtio drivers ISO (disk and network drivers for Windows Setup) is not at '{virtio}'",
            where=f"{rel(spec.path)} [windows.virtio_iso]",
            hint="Fedora's virtio-win ISO, from the Région's software mirror (or set SOCLE_VIRTIO_ISO)",
        )
    found = Inputs(iso, masters.sha256_file(iso), virtio, masters.sha256_file(virtio), collection_versions())
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


def read_lock(spec: Any) -> dict[str, Any] | None:
    """The Windows lock (the JSON read like a Linux one), checked to pin both ISOs by sha256."""
    data = masters.read_lock(spec)
    try:
        if data is not None and not (data["iso"]["sha256"] and data["virtio_iso"]["sha256"]):
            raise ValueError("an input without sha256")
    except (ValueError, KeyError, TypeError) as exc:
        raise SocleError(
            f"unreadable lock ({exc})", where=str(rel(spec.lock_path)), hint="restore it from git or use --update-lock"
        ) from None
    return data


# --- answer media -----------------------------------------------------------------------------
def build_pki(workdir: Path, *, host: str = "127.0.0.1") -> tuple[Path, Path, str]:
    """A throw-away CA for one build and the WinRM certificate it issues for ``host``.

    Returns (CA certificate, PKCS#12 of the WinRM key and certificate, its password). The CA key
    never leaves ``workdir``, which the build deletes; the certificate is valid for 7 days.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"socle Windows build CA {now:%Y%m%dT%H%M%S}")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # SChannel: RSA is the safe choice
    san = x509.IPAddress(ipaddress.ip_address(host)) if _is_ip(host) else x509.DNSName(host)
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    password = secrets.token_urlsafe(18)
    ca_pem = workdir / "build-ca.pem"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pfx = workdir / "winrm.pfx"
    pfx.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"socle-build-winrm", key, cert, None, serialization.BestAvailableEncryption(password.encode())
        )
    )
    pfx.chmod(0o600)
    return ca_pem, pfx, password


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def answer_media(spec: Any, workdir: Path, *, build_password: str, pfx: Path, pfx_password: str) -> Path:
    """The answer ISO: autounattend.xml at the root, the WinRM opener and its certificate in socle/."""
    tree = workdir / "answers"
    shutil.rmtree(tree, ignore_errors=True)
    (tree / "socle").mkdir(parents=True)
    (tree / "autounattend.xml").write_text(render_autounattend(spec, build_password=build_password))
    script = resources.files("socle").joinpath("templates", "windows", "enable-winrm-https.ps1").read_text()
    (tree / "socle" / "enable-winrm-https.ps1").write_text(script)
    shutil.copyfile(pfx, tree / "socle" / "winrm.pfx")
    (tree / "socle" / "winrm.pass").write_text(pfx_password)
    iso = workdir / "answers.iso"
    run(["xorriso", "-as", "mkisofs", "-quiet", "-J", "-joliet-long", "-r", "-V", ANSWER_LABEL, "-o", iso, tree],
        what="xorriso (answer ISO)")  # fmt: skip
    shutil.rmtree(tree)
    return iso


# --- the build VM -----------------------------------------------------------------------------
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
    code, _ = _ovmf(vm)
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
    shutil.copyfile(_ovmf(vm)[1], workdir / "OVMF_VARS.fd")
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


# --- provisioning -----------------------------------------------------------------------------
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
    args = ["-i", str(inventory), "-e", f"@{workdir / 'build-account.yml'}", "-e", f"@{extra_file}",
            str(ROOT / "playbooks" / book)]  # fmt: skip
    masters.run_playbook(args, workdir / f"{label}.log", label)


# --- capture ----------------------------------------------------------------------------------
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


# --- the build --------------------------------------------------------------------------------
def build(spec: Any, *, update_lock: bool = False, force: bool = False) -> Path:
    """Build, capture, sign and publish a Windows master; returns its directory in dist/."""
    from socle import catalogue, images, signing

    inputs = check_inputs(spec, update_lock=update_lock)
    vm = VmSettings.from_spec(spec)
    final = masters.dist_dir() / "masters" / spec.year / spec.profile / spec.version
    if not (force or update_lock) and masters.already_built(spec, final):
        masters.console.print(f"[green]already built[/]: {final} (same spec, lock, roles and catalogue)")
        return final
    lock = read_lock(spec) or {}
    packages, not_installable = catalogue.windows_packages(
        year=spec.year, disciplines=(spec.data.get("catalogue") or {}).get("disciplines", []), lock=lock
    )
    staging = final.with_name(f".{spec.version}.partial")
    workdir = images.cache_dir() / "windows-build" / spec.profile
    for path in (staging, workdir):
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True, mode=0o700)
    ctx = masters.BuildContext(spec=spec, version=spec.version, patch=False, staging=staging, final=final,
                               source_date_epoch=int(time.time()), container="",
                               resume="the install starts again from the ISO; logs and disk of this attempt "
                               f"are in {workdir}")  # fmt: skip
    masters.console.rule(f"[bold]master {spec.profile} {spec.version}[/] ({rel(spec.path)})")
    if not_installable:
        masters.console.print(
            f"[yellow]not installable yet[/] ({len(not_installable)} winget cards without an installer pinned in "
            f"{rel(spec.lock_path)} [windows]): {', '.join(not_installable)}"
        )
    started = time.monotonic()
    build_vm: BuildVm | None = None
    try:
        with masters.step(ctx, "answer media (autounattend, build CA, WinRM certificate)"):
            ca, pfx, pfx_password = build_pki(workdir)
            password = secrets.token_urlsafe(24)
            answers = answer_media(spec, workdir, build_password=password, pfx=pfx, pfx_password=pfx_password)
            pfx.unlink()
        with masters.step(ctx, f"install Windows in the build VM ({vm.accel}, up to {vm.install_timeout_min} min)"):
            build_vm = start_vm(vm, workdir, isos=[inputs.iso, inputs.virtio_iso, answers])
            wait_for_winrm(build_vm, ca, timeout_s=vm.install_timeout_min * 60)
        inventory = build_inventory(workdir, port=build_vm.port, ca=ca, password=password)
        extra = {
            "socle_master_profile": spec.profile,
            "socle_master_version": spec.version,
            "socle_master_school_year": spec.year,
            "socle_windows_build_dir": str(workdir),
            "win_catalogue_software_packages": packages,
            **(spec.data.get("windows") or {}).get("vars", {}),
        }
        with masters.step(ctx, "provision (updates, catalogue, hardening, ngen, first-boot scripts)"):
            provision(workdir, inventory, extra, label="provision", book="windows-build.yml")
        with masters.step(ctx, "close the build door and generalise (sysprep from a SYSTEM task)"):
            provision(workdir, inventory, extra, label="generalize", book="windows-generalize.yml")
            wait_for_poweroff(build_vm, timeout_s=vm.generalize_timeout_min * 60)
        with masters.step(ctx, "capture the Windows volume (wimlib, LZX)"):
            captured = capture(workdir / "disk.qcow2", workdir, staging / "install.wim",
                               name=f"socle {spec.profile} {spec.version}",
                               description=f"Région master {spec.profile} {spec.version}")  # fmt: skip
        with masters.step(ctx, "manifest, SHA256SUMS, signature"):
            snapshot = json.loads((workdir / "facts.json").read_text())
            manifest = _manifest(spec, inputs, snapshot, packages, not_installable, captured, staging)
            signing.sign(staging / "SHA256SUMS")
    except BaseException:
        if build_vm:
            build_vm.stop()
        shutil.rmtree(staging, ignore_errors=True)
        for secret in ("build-account.yml", "answers.iso"):  # the build password; logs and disk stay
            (workdir / secret).unlink(missing_ok=True)
        raise
    if update_lock or not spec.lock_path.exists():
        spec.lock_path.write_text(json.dumps({**lock, **inputs.lock(spec)}, indent=1, sort_keys=True) + "\n")
        masters.console.print(f"  wrote {rel(spec.lock_path)}")
    manifest["inputs_sha256"] = masters.inputs_sha256(spec)
    manifest["build"]["duration_s"] = round(time.monotonic() - started, 1)
    manifest["build"]["steps_s"] = ctx.timings
    shutil.rmtree(workdir, ignore_errors=True)
    return masters.publish(staging, final, manifest)


def _manifest(
    spec: Any, inputs: Inputs, snapshot: dict[str, Any], packages: list[dict[str, Any]],
    not_installable: list[str], captured: dict[str, Any], staging: Path,
) -> dict[str, Any]:  # fmt: skip
    """What is inside: installed software (Uninstall keys), updates, inputs, artefacts; writes SHA256SUMS."""
    from socle import signing

    artefacts = masters.write_sums(staging, {"install.wim": "install.wim"})
    artefacts["install.wim"].update(captured)
    return {
        "schema_version": 1,
        "platform": "windows",
        "profile": spec.profile,
        "school_year": spec.year,
        "version": spec.version,
        "spec": spec.data,
        "spec_sha256": spec.sha256(),
        "inputs": inputs.lock(spec),
        "catalogue": {
            "revision": masters.git_revision(CATALOGUE_DIR),
            "entries": packages,
            "not_installable": not_installable,
        },
        "packages": snapshot.get("packages", {}),
        "hardening": snapshot.get("hardening", {}),
        "updates": {"pending_at_capture": snapshot.get("updates"), "last": snapshot.get("last_patch")},
        "artefacts": artefacts,
        "signature": {"file": "SHA256SUMS.asc", "signs": "SHA256SUMS", "key": signing.signer()[1]},
        "build": {"built_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
    }
