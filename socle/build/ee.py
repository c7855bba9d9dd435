"""socle's execution environment (ee/Containerfile), built here with no registry: a Debian trixie base
from mmdebstrap with ansible-core, ansible-runner and socle's dependencies as Debian packages, then
the socle wheel. AWX runs socle's playbooks in it; `ansible-runner --container-image` too."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from socle import __version__
from socle.build import rootfs
from socle.core.paths import ROOT
from socle.core.proc import run

#: the Debian packages socle and its playbooks need in the execution environment
EE_PACKAGES = (
    "python3", "python3-pip", "ansible-core", "python3-ansible-runner", "python3-sqlalchemy", "python3-psycopg",
    "python3-rich", "python3-jsonschema", "python3-jinja2", "python3-yaml", "python3-invoke", "python3-winrm",
    "openssh-client", "git", "ca-certificates", "sshpass",
)  # fmt: skip
BASE = rootfs.RootfsSpec(release="trixie", packages=EE_PACKAGES)


def wheel(out: Path) -> Path:
    """The socle wheel (its own code and data; its dependencies are installed apart)."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("socle-*.whl"):
        old.unlink()
    # the same source gives the same bytes (zip timestamps from SOURCE_DATE_EPOCH): a master rebuilt
    # from the same checkout carries the same wheel, and a role run again changes nothing
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--disable-pip-version-check", "-w", str(out),
         str(ROOT)], what="building the socle wheel", hint="pip needs setuptools from PyPI (or a local mirror)",
        env={"SOURCE_DATE_EPOCH": "315532800"})  # fmt: skip
    return next(out.glob("socle-*.whl"))


def build(tag: str = "") -> str:
    """Build localhost/socle/ee:<tag> (default: socle's version); returns the image reference."""
    base_ref = f"localhost/socle/ee-base:{BASE.key()}"
    if not rootfs.image_exists(base_ref):
        rootfs.import_rootfs(rootfs.build_rootfs(BASE), base_ref, labels={"org.socle.kind": "ee-base"})
    ref = f"localhost/socle/ee:{tag or __version__}"
    with tempfile.TemporaryDirectory(prefix="socle-ee-") as tmp:
        context = Path(tmp)
        wheel(context)
        containerfile = ROOT / "ee" / "Containerfile"
        rootfs.podman("build", "--pull=never", "--build-arg", f"BASE={base_ref}", "-f", str(containerfile), "-t", ref,
                      str(context), what="podman build of the execution environment")  # fmt: skip
    return ref
