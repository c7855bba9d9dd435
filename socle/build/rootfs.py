"""Debian root filesystems (mmdebstrap) and their local podman images, cached by content.

No registry is reachable: every image is built here from the Debian mirror and imported into
the local podman store. A build is keyed by everything that determines its content (release,
mirror, variant, package set), so suites and master builds never rebuild what they have.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from socle.core.debian import DEFAULT_MIRROR
from socle.core.paths import cache_dir
from socle.core.proc import ok, run

#: What every test container and master build container needs: Python for Ansible, systemd as PID 1.
TEST_IMAGE_PACKAGES = (
    "python3",
    "python3-apt",
    "systemd",
    "systemd-sysv",
    "dbus",
    "iproute2",
    "procps",
    "ca-certificates",
)


#: mmdebstrap's hooks that bind-mount file: mirrors into the chroot (and remove them at the end)
FILE_MIRROR_HOOKS = "/usr/share/mmdebstrap/hooks/file-mirror-automount"

#: version of build_rootfs's mmdebstrap options, part of every cache key: a change rebuilds the caches
RECIPE = 2


@dataclass(frozen=True)
class RootfsSpec:
    """Everything that determines a base root filesystem's content."""

    release: str
    mirror: str = DEFAULT_MIRROR
    #: where <release>-security comes from; empty for a test image that must not move
    security_mirror: str = ""
    variant: str = "minbase"
    components: tuple[str, ...] = ("main",)
    packages: tuple[str, ...] = field(default=TEST_IMAGE_PACKAGES)
    #: one apt source instead of the mirror's (a frozen lock's distribution, socle/build/aptrepo.py);
    #: where it lives is not part of the content, its name (the lock's package set) is
    frozen_source: str = field(default="", compare=False)
    frozen: str = ""

    def sources(self) -> list[str]:
        """One-line apt sources for mmdebstrap: the release, its updates, its security suite."""
        if self.frozen:
            return [self.frozen_source]
        comps = " ".join(self.components)
        lines = [f"deb {self.mirror} {self.release} {comps}"]
        if self.security_mirror:
            lines += [
                f"deb {self.mirror} {self.release}-updates {comps}",
                f"deb {self.security_mirror} {self.release}-security {comps}",
            ]
        return lines

    def sources_list(self) -> str:
        """/etc/apt/sources.list as mmdebstrap writes it from :meth:`sources`."""
        return "\n\n".join(self.sources()) + "\n"

    def key(self) -> str:
        fields = {k: v for k, v in asdict(self).items() if k != "frozen_source" and (v or k != "frozen")}
        blob = json.dumps({**fields, "packages": sorted(self.packages), "recipe": RECIPE}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def build_rootfs(spec: RootfsSpec, *, source_date_epoch: int | None = None, directory: bool = False) -> Path:
    """Return a cached rootfs for ``spec`` (a tarball, or a directory a master build stacks its
    layers on), building it with mmdebstrap when absent.

    It is written to a temporary name and renamed when complete, so an interrupted build never
    leaves a half-written cache entry. Downloaded .debs are kept between builds.
    """
    target = cache_dir() / "rootfs" / f"{spec.release}-{spec.key()}{'' if directory else '.tar'}"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    debs = cache_dir() / "apt-archives"
    debs.mkdir(parents=True, exist_ok=True)
    env = {"SOURCE_DATE_EPOCH": str(source_date_epoch)} if source_date_epoch else {}
    part = target.with_name(f".{target.name}.part")
    _remove(part)  # what an interrupted build left
    try:
        run(
            [
                "mmdebstrap",
                f"--variant={spec.variant}",
                f"--components={','.join(spec.components)}",
                f"--include={','.join(sorted(spec.packages))}",
                f"--format={'directory' if directory else 'tar'}",
                "--dpkgopt=force-unsafe-io",
                "--skip=essential/unlink",
                # a frozen distribution is a local folder: dpkg in the chroot reads its .debs there too
                *([f"--hook-dir={FILE_MIRROR_HOOKS}"] if spec.frozen else []),
                f'--setup-hook=mkdir -p {debs} "$1"/var/cache/apt/archives/',
                f"--setup-hook=sync-in {debs} /var/cache/apt/archives/",
                f"--customize-hook=sync-out /var/cache/apt/archives {debs}",
                # mmdebstrap copies the build host's hostname and resolver in: every poste would carry
                # them (and builds on two hosts would differ). Empty: each machine gets its own.
                '--customize-hook=cd "$1/etc" && for f in hostname resolv.conf; do'
                " if [ ! -L $f ]; then : > $f; chmod 0644 $f; fi; done",
                spec.frozen or spec.release,  # the suite mmdebstrap takes the essential set from
                part,
                *spec.sources(),
            ],
            what=f"mmdebstrap {spec.release}",
            hint="check that the Debian mirror is reachable and the package names exist in this release",
            env=env,
        )
        part.replace(target)
    finally:
        _remove(part)
    return target


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def podman(*args: str, what: str) -> str:
    """``podman ARGS``; its output, or StepFailed naming ``what``."""
    return run(["podman", *args], what=what).stdout.strip()


def image_exists(ref: str) -> bool:
    return ok(["podman", "image", "exists", ref])


def import_command(labels: dict[str, str]) -> list[str]:
    """``podman import`` of a root file system as an image whose command is systemd, with ``labels``;
    the source (a tarball, or ``-``) and the image's name follow."""
    changes = ['CMD ["/lib/systemd/systemd"]', "STOPSIGNAL SIGRTMIN+3", *(f"LABEL {k}={v}" for k, v in labels.items())]
    return ["podman", "import", "--quiet", *(arg for change in changes for arg in ("--change", change))]


def import_rootfs(tarball: Path, ref: str, *, labels: dict[str, str] | None = None) -> str:
    """Import a rootfs tarball as a local image whose default command is systemd."""
    run([*import_command(labels or {}), tarball, ref], what=f"podman import {ref}")
    return ref


def test_image(release: str = "trixie") -> str:
    """The Debian image molecule scenarios and tests run on, built once and cached by content."""
    spec = RootfsSpec(release=release)
    ref = f"localhost/socle/test-{release}:{spec.key()}"
    if not image_exists(ref):
        import_rootfs(build_rootfs(spec), ref, labels={"org.socle.kind": "test", "org.socle.key": spec.key()})
    return ref
