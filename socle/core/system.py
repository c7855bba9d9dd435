"""Host preparation: the Debian packages and the podman configuration the pipeline needs.

``./socle.sh setup`` calls :func:`setup`; every other task calls :func:`require` first, so that a
newcomer never meets a raw 'command not found'.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from socle.core import debian
from socle.core.errors import SocleError, StepFailed

console = Console(stderr=True)

#: Debian packages the pipeline uses, with what needs them. Later features add lines here.
SYSTEM_PACKAGES: dict[str, str] = {
    "podman": "test containers, master configuration, OCI images",
    "runc": "OCI runtime (crun cannot run on this host's hybrid cgroups)",
    "catatonit": "minimal init for containers (podman --init)",
    "uidmap": "podman user namespaces",
    "slirp4netns": "podman networking",
    "fuse-overlayfs": "podman storage fallback",
    "buildah": "podman build",
    "mmdebstrap": "Debian root filesystems for masters and test images",
    "squashfs-tools": "compressed master root images",
    "zstd": "compression of masters",
    "casync": "chunk index of masters (patch releases move only the chunks a poste lacks)",
    "git": "catalogue revision in manifests, catalogue diff",
    "lynis": "master verification (security audit score)",
    "openscap-scanner": "master verification (OpenSCAP)",
    "openscap-utils": "oscap-chroot: OpenSCAP on a master's root filesystem",
    "chromium": "headless check that conformity reports render (screenshot test)",
    "apt-utils": "apt-ftparchive: the signed test apt repository of the patch tests",
    "gnupg": "signing test apt repositories",
    "qemu-system-x86": "Windows build VM (and qemu boots of masters)",
    "qemu-utils": "qemu-img: build disks, partition extraction for capture",
    "ovmf": "UEFI firmware of the Windows build VM",
    "swtpm": "TPM 2.0 of the Windows build VM (Windows 11 requires one)",
    "swtpm-tools": "swtpm_setup",
    "xorriso": "answer ISO of the Windows build",
    "wimtools": "wimcapture: Windows masters as WIM",
    "ntfs-3g": "mkntfs: NTFS volumes of the capture tests",
    "fdisk": "sfdisk: GPT layouts of the capture tests",
    "dnsmasq-base": "the lycée's DHCP server in the virtual salle (QEMU tests)",
    "iproute2": "network namespace, bridge and taps of the virtual salle (QEMU tests)",
    "openssh-client": "the controller's SSH to postes; ssh-keygen signs host certificates",
    "reprepro": "the Région's frozen apt repository: every lock's .deb files, signed (masters rebuild a year later)",
    "postgresql": "a throwaway PostgreSQL cluster: the history database as the Région runs it (tests)",
    "rsync": "gitlab-ci-local copies the checkout with it (the merge-request pipeline's local test)",
}

#: Commands that must exist once the packages are installed.
REQUIRED_COMMANDS = {"podman": "podman", "mmdebstrap": "mmdebstrap", "mksquashfs": "squashfs-tools", "casync": "casync"}

CONTAINERS_CONF = Path(os.environ.get("SOCLE_CONTAINERS_CONF", "/etc/containers/containers.conf"))
CONTAINERS_CONF_TEXT = """\
# Managed by socle (./socle.sh setup). Podman on this kind of host needs runc (crun refuses hybrid
# cgroups) and explicit ulimits (the sandbox cannot raise RLIMIT_NOFILE/NPROC to podman's defaults).
[containers]
default_ulimits = [
  "nofile=1024:1024",
  "nproc=4096:4096",
]

[engine]
runtime = "runc"
"""


@dataclass
class HostState:
    missing_packages: list[str]
    podman_conf_ok: bool

    @property
    def ready(self) -> bool:
        return not self.missing_packages and self.podman_conf_ok


def _installed(packages: list[str]) -> set[str]:
    if not shutil.which("dpkg-query"):
        raise SocleError("this host is not Debian (dpkg-query not found)", hint="socle supports Debian 12 and 13")
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\n", *packages],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return {ln.split()[0] for ln in out.splitlines() if ln.endswith(" installed")}


def _podman_conf_ok() -> bool:
    try:
        text = CONTAINERS_CONF.read_text()
    except OSError:
        return False
    return 'runtime = "runc"' in text and "nofile=" in text and "nproc=" in text


def state() -> HostState:
    pkgs = list(SYSTEM_PACKAGES)
    have = _installed(pkgs)
    return HostState([p for p in pkgs if p not in have], _podman_conf_ok())


def setup_command(missing: list[str]) -> str:
    return f"sudo apt-get update && sudo apt-get install -y {' '.join(missing)}"


def setup() -> HostState:
    """Install missing packages and write the podman configuration. Idempotent."""
    st = state()
    if st.ready:
        _fetch_debian_index()
        console.print("[green]host ready[/]: all system packages present, podman configured")
        return st
    if os.geteuid() != 0:
        lines = []
        if st.missing_packages:
            lines.append(setup_command(st.missing_packages))
        if not st.podman_conf_ok:
            lines.append(f"sudo ./socle.sh setup   # writes {CONTAINERS_CONF}")
        raise SocleError(
            "this host is not ready and setup needs root",
            hint="run as root:\n    " + "\n    ".join(lines),
        )
    if st.missing_packages:
        console.print(f"installing: {' '.join(st.missing_packages)}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *st.missing_packages]):
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if proc.returncode:
                tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-5:])
                raise StepFailed(f"{' '.join(cmd[:2])} failed:\n{tail}", hint="check the Debian mirror and retry")
    if not st.podman_conf_ok:
        if CONTAINERS_CONF.exists() and "Managed by socle" not in CONTAINERS_CONF.read_text():
            backup = CONTAINERS_CONF.with_suffix(".conf.before-socle")
            shutil.copy2(CONTAINERS_CONF, backup)
            console.print(f"[yellow]saved your {CONTAINERS_CONF} as {backup}[/]")
        CONTAINERS_CONF.parent.mkdir(parents=True, exist_ok=True)
        CONTAINERS_CONF.write_text(CONTAINERS_CONF_TEXT)
        console.print(f"wrote {CONTAINERS_CONF} (runtime runc, explicit ulimits)")
    st = state()
    _fetch_debian_index()
    console.print("[green]host ready[/]")
    return st


def _fetch_debian_index(release: str = "trixie") -> None:
    """Keep the Debian package index for offline catalogue checks (CAT011)."""
    if debian.index_path(release).exists():
        return
    try:
        debian.fetch(release)
        console.print(f"fetched the Debian {release} package index for catalogue checks")
    except SocleError as exc:
        console.print(f"[yellow]warning[/]: {exc.message} (catalogue checks will skip CAT011)")


def require() -> None:
    """Make sure the host can run the pipeline: set it up when root, else say exactly what to run."""
    missing = [cmd for cmd in REQUIRED_COMMANDS if not shutil.which(cmd)]
    if not missing and _podman_conf_ok():
        return
    if os.geteuid() == 0:
        console.print("[yellow]host not ready: running './socle.sh setup' first[/]")
        setup()
        return
    raise SocleError(
        f"missing on this host: {', '.join(missing) or 'podman configuration'}",
        hint="run 'sudo ./socle.sh setup' once (it installs the Debian packages and configures podman)",
    )
