"""`invoke build-master`: reproducible school-year master images.

Pipeline (see docs/masters.md): spec -> base root filesystem (mmdebstrap, cached by content)
-> configuration by Ansible roles in a podman container (connection ``podman_pipe``) -> lock
check -> generalisation (``master_finalize``) -> artefacts (OCI image, squashfs, kernel,
manifest, SBOM) -> verification (testinfra, Lynis) -> atomic publication in ``dist/``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from socle import CATALOGUE_DIR, ROOT, __version__, images, rel, signing, system
from socle.errors import SocleError, StepFailed
from socle.findings import errors
from socle.proc import run
from socle.schema import validate
from socle.yamlio import load

console = Console(stderr=True)

MASTERS_DIR = Path(os.environ.get("SOCLE_MASTERS_DIR", ROOT / "masters"))
DEFAULT_PROFILE = "poste-linux"


def dist_dir() -> Path:
    return Path(os.environ.get("SOCLE_DIST", ROOT / "dist"))


# --- specs ------------------------------------------------------------------------------------
@dataclass
class MasterSpec:
    path: Path
    data: dict[str, Any]

    @property
    def profile(self) -> str:
        return str(self.data["profile"])

    @property
    def year(self) -> str:
        return str(self.data["school_year"])

    @property
    def version(self) -> str:
        return str(self.data["version"])

    @property
    def lock_path(self) -> Path:
        return self.path.with_suffix(".lock")

    @property
    def packages(self) -> list[str]:
        return sorted({p for group in self.data.get("packages", {}).values() for p in group})

    def rootfs(self) -> images.RootfsSpec:
        base = self.data["base"]
        return images.RootfsSpec(
            release=base["release"],
            mirror=base["mirror"],
            security_mirror=base.get("security_mirror", ""),
            variant=base.get("variant", "minbase"),
            components=tuple(base.get("components", ["main"])),
            packages=tuple(sorted(set(images.TEST_IMAGE_PACKAGES) | set(self.packages))),
        )

    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def school_year_of(day: dt.date) -> str:
    """The school year a date belongs to (rentrée in September)."""
    start = day.year if day.month >= 9 else day.year - 1
    return f"{start}-{start + 1}"


def available_years() -> list[str]:
    return sorted(p.name for p in MASTERS_DIR.glob("[0-9][0-9][0-9][0-9]-[0-9][0-9][0-9][0-9]") if p.is_dir())


def available_profiles(year: str) -> list[str]:
    return sorted(p.stem for p in (MASTERS_DIR / year).glob("*.yaml") if p.stem != "rollout")


def resolve_year(year: str | None, today: dt.date | None = None) -> str:
    years = available_years()
    if year:
        if year not in years:
            raise SocleError(
                f"no masters for school year '{year}'",
                hint=f"available: {', '.join(years) or 'none'}; create masters/{year}/ from the previous year",
            )
        return year
    current = school_year_of(today or dt.date.today())
    if current in years:
        return current
    earlier = [y for y in years if y <= current]
    if not earlier:
        raise SocleError(f"no masters for {current} or earlier", hint=f"available: {', '.join(years) or 'none'}")
    return earlier[-1]


def load_spec(profile: str, year: str | None = None) -> MasterSpec:
    year = resolve_year(year)
    path = MASTERS_DIR / year / f"{profile}.yaml"
    if not path.exists():
        raise SocleError(
            f"unknown profile '{profile}' for {year}",
            hint=f"choose one of: {', '.join(available_profiles(year))}",
        )
    doc = load(path)
    problems = errors(validate(doc, "master-spec", "MST001"))
    data = doc.data if isinstance(doc.data, dict) else {}
    if not problems and data.get("profile") != profile:
        problems = [f"profile is '{data.get('profile')}' but the file is {path.name}"]
    if not problems and data.get("school_year") != year:
        problems = [f"school_year is '{data.get('school_year')}' but the folder is {year}"]
    if not problems and not str(data.get("version", "")).startswith(f"{year}."):
        problems = [f"version '{data.get('version')}' does not start with '{year}.'"]
    if problems:
        first = problems[0]
        text = first if isinstance(first, str) else first.render()
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise SocleError(f"invalid master spec{more}: {text}", where=str(rel(path)))
    for role in data.get("roles", []):
        if not (ROOT / "roles" / role["name"]).is_dir():
            raise SocleError(
                f"role '{role['name']}' does not exist",
                where=f"{rel(path)} [roles]",
                hint=f"available roles: {', '.join(sorted(p.name for p in (ROOT / 'roles').iterdir()))}",
            )
    return MasterSpec(path, data)


# --- steps ------------------------------------------------------------------------------------
@dataclass
class BuildContext:
    spec: MasterSpec
    version: str
    patch: bool
    source_date_epoch: int
    staging: Path
    final: Path
    container: str
    timings: dict[str, float] = field(default_factory=dict)
    clean: bool = False  # configure from the base, never on the profile's last master
    resume: str = ""  # what a re-run reuses, said when a step fails


@contextmanager
def step(ctx: BuildContext, name: str) -> Iterator[None]:
    start = time.monotonic()
    with console.status(f"[bold]{name}…"):
        try:
            yield
        except SocleError as exc:
            took = time.monotonic() - start
            console.print(f"[red]✗ {name}[/] ({took:.1f} s)")
            exc.hint = (exc.hint + "\n  " if exc.hint else "") + (
                f"nothing was published; fix the cause and re-run the same command ({ctx.resume})"
            )
            raise
    took = time.monotonic() - start
    ctx.timings[name] = round(took, 2)
    console.print(f"[green]✓[/] {name} [dim]({took:.1f} s)[/]")


def _podman(*args: str, what: str) -> str:
    return run(["podman", *args], what=what).stdout.strip()


def _source_date_epoch() -> int:
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return int(os.environ["SOURCE_DATE_EPOCH"])
    proc = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%ct"], capture_output=True, text=True)
    return int(proc.stdout.strip()) if proc.returncode == 0 and proc.stdout.strip() else 0


def git_revision(path: Path) -> dict[str, Any]:
    """Commit of the git checkout holding ``path`` and whether ``path`` has uncommitted changes."""
    rev = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(path), "status", "--porcelain", "--", "."], capture_output=True, text=True)
    return {
        "commit": rev.stdout.strip() if rev.returncode == 0 else None,
        "dirty": bool(dirty.stdout.strip()) if dirty.returncode == 0 else None,
    }


def _next_patch_version(spec: MasterSpec) -> str:
    root = dist_dir() / "masters" / spec.year / spec.profile
    numbers = [int(spec.version.rsplit(".", 1)[1])]
    if root.is_dir():
        for p in root.iterdir():
            if p.name.startswith(f"{spec.year}.") and p.name.rsplit(".", 1)[1].isdigit():
                numbers.append(int(p.name.rsplit(".", 1)[1]))
    return f"{spec.year}.{max(numbers) + 1}"


def read_lock(spec: MasterSpec) -> dict[str, Any] | None:
    if not spec.lock_path.exists():
        return None
    try:
        return json.loads(spec.lock_path.read_text())
    except json.JSONDecodeError as exc:
        raise SocleError(
            f"lock file is not valid JSON: {exc.msg} (line {exc.lineno})",
            where=str(rel(spec.lock_path)),
            hint="restore it from git, or rebuild it with --update-lock",
        ) from None


def catalogue_selection(spec: MasterSpec, lock: dict[str, Any] | None) -> list[dict[str, str]]:
    """Debian packages of the catalogue entries the spec selects, pinned to the lock when present."""
    from socle import catalogue

    if not any(r["name"] == "catalogue_software" for r in spec.data["roles"]):
        return []  # serveurs: no teaching software
    sel = spec.data.get("catalogue", {})
    entries = catalogue.linux_packages(
        year=spec.year,
        disciplines=sel.get("disciplines", []),
        software=sel.get("software", []),
        levels=sel.get("levels", []),
    )
    locked = (lock or {}).get("packages", {})
    out = []
    for entry in entries:
        item = {"name": entry["package"], "software": entry["software"]}
        if entry["package"] in locked:
            item["version"] = locked[entry["package"]]["version"]
        out.append(item)
    return out


def _write_playbook(ctx: BuildContext, roles: list[dict[str, Any]], name: str, extra: dict[str, Any]) -> Path:
    play = [
        {
            "name": f"{name} {ctx.spec.profile} {ctx.version}",
            "hosts": "master",
            "gather_facts": True,
            "environment": {"SYSTEMD_OFFLINE": "1", "DEBIAN_FRONTEND": "noninteractive"},
            "vars": extra,
            "roles": [{"role": r["name"], "vars": r.get("vars", {})} if r.get("vars") else r["name"] for r in roles],
        }
    ]
    path = ctx.staging / "build" / f"{name.lower().replace(' ', '-')}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("---\n" + yaml.safe_dump(play, sort_keys=False, allow_unicode=True))
    return path


def _ansible(ctx: BuildContext, playbook: Path, label: str) -> None:
    inventory = ctx.staging / "build" / "inventory.yml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {
                        "master": {
                            "ansible_host": ctx.container,
                            "ansible_connection": "podman_pipe",
                            "ansible_python_interpreter": "/usr/bin/python3",
                        }
                    }
                }
            }
        )
    )
    run_playbook(["-i", str(inventory), str(playbook)], ctx.staging / "build" / f"{label}.log", label)


def run_playbook(args: list[str], log: Path, label: str) -> None:
    """ansible-playbook ARGS with the project's configuration, output to ``log``; a failure names its tasks."""
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    with log.open("w") as fh:
        rc = subprocess.run(
            ["ansible-playbook", *args], cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, check=False
        ).returncode
    if rc:
        lines = log.read_text().splitlines()
        failed = [ln for ln in lines if "fatal:" in ln or "FAILED" in ln or "ERROR" in ln]
        tail = "\n    ".join(ln[:300] for ln in (failed or lines)[-8:])
        raise StepFailed(f"ansible-playbook ({label}) failed:\n    {tail}", hint=f"full log: {log}")


def _package_set(container: str) -> dict[str, dict[str, str]]:
    """Every installed package with its version, architecture and index sha256."""
    pkgs = _installed_packages(container)
    _package_checksums(container, pkgs)
    return pkgs


def _installed_packages(container: str) -> dict[str, dict[str, str]]:
    out = _podman(
        "exec", container, "dpkg-query", "-W", "-f", "${Package}\t${Version}\t${Architecture}\n", what="list packages"
    )
    pkgs = {}
    for line in out.splitlines():
        name, version, arch = line.split("\t")
        pkgs[name] = {"version": version, "arch": arch}
    return pkgs


def _package_checksums(container: str, pkgs: dict[str, dict[str, str]]) -> None:
    """Add the SHA256 of each installed .deb as published in the signed apt index."""
    specs = [f"{n}={p['version']}" for n, p in sorted(pkgs.items())]
    proc = subprocess.run(
        ["podman", "exec", container, "apt-cache", "show", "--no-all-versions", *specs],
        capture_output=True,
        text=True,
        check=False,
    )
    name = version = None
    for line in proc.stdout.splitlines():
        if line.startswith("Package: "):
            name = line.split(": ", 1)[1]
        elif line.startswith("Version: "):
            version = line.split(": ", 1)[1]
        elif line.startswith("SHA256: ") and name in pkgs and pkgs[name]["version"] == version:
            pkgs[name]["sha256"] = line.split(": ", 1)[1]


def _compare_lock(lock: dict[str, Any], pkgs: dict[str, dict[str, str]], patch: bool) -> dict[str, Any]:
    locked = lock.get("packages", {})
    added = sorted(set(pkgs) - set(locked))
    removed = sorted(set(locked) - set(pkgs))
    changed = {n: [locked[n]["version"], pkgs[n]["version"]] for n in set(pkgs) & set(locked)}
    changed = {n: v for n, v in sorted(changed.items()) if v[0] != v[1]}
    if patch:
        if added or removed:
            raise SocleError(
                f"a patch release may only update packages, but it adds {added or 'none'} "
                f"and removes {removed or 'none'}",
                hint="changes of content belong to a new lock: run without --patch and with --update-lock",
            )
        return {"updated": changed}
    if added or removed or changed:
        parts = []
        if changed:
            parts.append("versions differ: " + ", ".join(f"{n} {a} -> {b}" for n, (a, b) in list(changed.items())[:8]))
        if added:
            parts.append(f"not in the lock: {', '.join(added[:8])}")
        if removed:
            parts.append(f"in the lock but not installed: {', '.join(removed[:8])}")
        raise SocleError(
            "the build does not match the lock file — " + "; ".join(parts),
            hint="the Debian mirror or the spec changed since the lock was written; "
            "run with --update-lock to record a new lock (a new master release), or --patch for security updates",
        )
    return {}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _tool_versions() -> dict[str, str]:
    def first_line(cmd: list[str]) -> str:
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        except FileNotFoundError:
            return "absent"
        return ((proc.stdout or proc.stderr).strip().splitlines() or ["?"])[0]

    import ansible

    return {
        "socle": __version__,
        "ansible-core": ansible.__version__,
        "podman": first_line(["podman", "--version"]),
        "mmdebstrap": first_line(["mmdebstrap", "--version"]),
        "mksquashfs": first_line(["mksquashfs", "-version"]),
        "python": sys.version.split()[0],
    }


def _sbom(ctx: BuildContext, pkgs: dict[str, dict[str, str]]) -> dict[str, Any]:
    release = ctx.spec.data.get("base", {}).get("release", "")
    components = []
    for name, p in sorted(pkgs.items()):
        comp = {
            "type": "library" if name.startswith("lib") else "application",
            "name": name,
            "version": p["version"],
            "purl": f"pkg:deb/debian/{name}@{p['version']}?arch={p['arch']}&distro=debian-{release}",
        }
        if p.get("sha256"):
            comp["hashes"] = [{"alg": "SHA-256", "content": p["sha256"]}]
        components.append(comp)
    serial = hashlib.sha256(json.dumps(components, sort_keys=True).encode()).hexdigest()
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{serial[:8]}-{serial[8:12]}-{serial[12:16]}-{serial[16:20]}-{serial[20:32]}",
        "version": 1,
        "metadata": {
            "timestamp": dt.datetime.fromtimestamp(ctx.source_date_epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "component": {"type": "operating-system", "name": f"socle-{ctx.spec.profile}", "version": ctx.version},
            "tools": {"components": [{"type": "application", "name": "socle", "version": __version__}]},
        },
        "components": components,
    }


def _verify(ctx: BuildContext, image: str) -> dict[str, Any]:
    """Start the new image under systemd, run the testinfra suite and Lynis in it."""
    cfg = ctx.spec.data.get("verify", {})
    results: dict[str, Any] = {}
    name = f"{ctx.container}-verify"
    subprocess.run(["podman", "rm", "-f", name], capture_output=True, check=False)
    lynis_mounts = []
    if cfg.get("lynis") and Path("/usr/sbin/lynis").exists():
        lynis_mounts = [f"--volume={path}:{path}:ro" for path in ("/usr/share/lynis", "/usr/sbin/lynis", "/etc/lynis")]
    _podman("run", "-d", "--name", name, "--hostname", "verify", *lynis_mounts, image, what="start verify container")
    lynis: subprocess.Popen[bytes] | None = None
    try:
        for _ in range(60):
            state = subprocess.run(
                ["podman", "exec", name, "systemctl", "is-system-running"], capture_output=True, text=True
            ).stdout.strip()
            if state in {"running", "degraded"}:
                break
            time.sleep(0.5)
        results["systemd_state"] = state
        # Lynis only reads the system: it audits while testinfra runs
        if lynis_mounts:
            audit = ["podman", "exec", name, "lynis", "audit", "system", "--quick", "--no-colors", "--skip-plugins"]
            lynis = subprocess.Popen(audit, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if cfg.get("testinfra", True):
            report = ctx.staging / "verify" / "testinfra.xml"
            report.parent.mkdir(parents=True, exist_ok=True)
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-q",
                    "-p",
                    "no:cacheprovider",
                    str(ROOT / "tests" / "master"),
                    f"--hosts=podman://{name}",
                    f"--junitxml={report}",
                ],
                cwd=ROOT,
                env={**os.environ, "SOCLE_MASTER_DIR": str(ctx.staging)},
                capture_output=True,
                text=True,
                check=False,
            )
            summary = (proc.stdout.strip().splitlines() or ["?"])[-1]
            results["testinfra"] = {"passed": proc.returncode == 0, "summary": summary}
            if proc.returncode:
                (ctx.staging / "verify" / "testinfra.log").write_text(proc.stdout + proc.stderr)
                raise StepFailed(
                    f"master verification failed: {summary}",
                    hint=f"details: {ctx.staging / 'verify' / 'testinfra.log'} (kept because the build failed)",
                )
        if lynis:
            lynis.wait()
            report_dat = subprocess.run(
                ["podman", "exec", name, "cat", "/var/log/lynis-report.dat"], capture_output=True, text=True
            ).stdout
            score = next(
                (int(ln.split("=", 1)[1]) for ln in report_dat.splitlines() if ln.startswith("hardening_index=")), None
            )
            warnings = [ln.split("=", 1)[1] for ln in report_dat.splitlines() if ln.startswith("warning[]=")]
            results["lynis"] = {"hardening_index": score, "warnings": warnings}
            minimum = cfg.get("lynis_min_score")
            if score is None or (minimum is not None and score < minimum):
                raise StepFailed(
                    f"Lynis hardening index {score} is below the spec's minimum {minimum}",
                    hint="see the warnings in the Lynis report; raise hardening or lower verify.lynis_min_score",
                )
        elif cfg.get("lynis"):
            results["lynis"] = {"skipped": "lynis is not installed on this host (invoke setup installs it)"}
    finally:
        if lynis and lynis.poll() is None:
            lynis.kill()
            lynis.wait()
        subprocess.run(["podman", "rm", "-f", "-t", "2", name], capture_output=True, check=False)
    return results


DEBIAN_NUMBERS = {"bullseye": 11, "bookworm": 12, "trixie": 13, "forky": 14}
SSG_CONTENT = Path("/usr/share/xml/scap/ssg/content")
ANSSI_MINIMAL = "xccdf_org.ssgproject.content_profile_anssi_bp28_minimal"


def _openscap(ctx: BuildContext, mount: str) -> dict[str, Any]:
    """ANSSI BP-028 minimal profile of Debian's SCAP Security Guide, when it has content for this release."""
    release = ctx.spec.data["base"]["release"]
    content = SSG_CONTENT / f"ssg-debian{DEBIAN_NUMBERS.get(release, 0)}-ds.xml"
    if not content.exists():
        have = sorted(p.name for p in SSG_CONTENT.glob("ssg-debian*-ds.xml")) if SSG_CONTENT.is_dir() else []
        return {"skipped": f"no SCAP Security Guide content for Debian {release} on this host "
                           f"(have: {', '.join(have) or 'none'}); not applicable"}  # fmt: skip
    if not shutil.which("oscap-chroot"):
        return {"skipped": "oscap-chroot not installed (invoke setup installs openscap-utils)"}
    results = ctx.staging / "verify" / "openscap-results.xml"
    results.parent.mkdir(parents=True, exist_ok=True)
    cmd = ["oscap-chroot", mount, "xccdf", "eval", "--profile", ANSSI_MINIMAL, "--results", str(results)]
    proc = subprocess.run([*cmd, str(content)], capture_output=True, text=True, check=False)
    passed = proc.stdout.count("Result\tpass")
    failed = proc.stdout.count("Result\tfail")
    total = passed + failed
    return {"profile": "anssi_bp28_minimal", "content": content.name, "pass": passed, "fail": failed,
            "score": round(100 * passed / total, 1) if total else None}  # fmt: skip


#: zstd level of the squashfs: 6 costs 55 s on a 9.7 GB desktop tree (2 cores) for 3.84 GB; mksquashfs's
#: default, 15, costs 9 min for 3.6 GB — 6 % fewer bytes to send once per lycée (docs/masters.md)
SQUASHFS_ZSTD_LEVEL = 6


def _read(path: Path) -> str:
    return path.read_text() if path.is_file() else ""


def _export(ctx: BuildContext, mount: str) -> dict[str, str]:
    """squashfs (zstd, reproducible timestamps), its chunk index and kernel/initrd from the generalised tree."""
    arts = ctx.spec.data.get("artefacts", {})
    out_dir = ctx.staging
    produced: dict[str, str] = {}
    leaks = [p for p in ("etc/ssh/ssh_host_ed25519_key", "etc/ssh/ssh_host_rsa_key") if (Path(mount) / p).exists()]
    leaks += [f"{p} is set" for p in ("etc/machine-id", "etc/hostname") if _read(Path(mount) / p).strip()]
    if leaks:
        raise StepFailed(
            f"the image is not generalised: {', '.join(leaks)}",
            hint="master_finalize must be the last role of the spec",
        )
    if arts.get("squashfs", True):
        target = out_dir / "rootfs.squashfs"
        run(
            [
                "mksquashfs",
                mount,
                target,
                "-comp",
                "zstd",
                "-Xcompression-level",
                str(arts.get("squashfs_zstd_level", SQUASHFS_ZSTD_LEVEL)),
                "-noappend",
                "-no-progress",
                "-quiet",
                "-e",
                "boot",
            ],
            what="mksquashfs",
            env={"SOURCE_DATE_EPOCH": str(ctx.source_date_epoch)},
        )
        produced["rootfs.squashfs"] = target.name
        # chunk index for patch releases: a poste holding an older image fetches only the
        # chunks it lacks (casync, content-defined chunking); the lycée serveur rebuilds the
        # chunk store from the squashfs and checks that its index matches this signed one
        with tempfile.TemporaryDirectory(prefix="socle-castr-") as store:
            run(["casync", "make", f"--store={store}", str(out_dir / "rootfs.caibx"), str(target)],
                what="casync make (chunk index)")  # fmt: skip
        produced["rootfs.caibx"] = "rootfs.caibx"
    if arts.get("kernel"):
        boot = Path(mount) / "boot"
        kernels = sorted(boot.glob("vmlinuz-*"))
        initrds = sorted(boot.glob("initrd.img-*"))
        if not kernels or not initrds:
            raise StepFailed(
                "artefacts.kernel is set but the image has no /boot/vmlinuz-* and initrd",
                hint="add linux-image-amd64 and initramfs-tools to the spec's packages",
            )
        shutil.copyfile(kernels[-1], out_dir / "vmlinuz")
        shutil.copyfile(initrds[-1], out_dir / "initrd.img")
        produced["vmlinuz"] = "vmlinuz"
        produced["initrd.img"] = "initrd.img"
    return produced


# --- build ------------------------------------------------------------------------------------
def build(
    *,
    profile: str = DEFAULT_PROFILE,
    year: str | None = None,
    update_lock: bool = False,
    patch: bool = False,
    force: bool = False,
) -> Path:
    """Build one master; returns its published directory in dist/."""
    spec = load_spec(profile, year)
    if spec.data["platform"] == "windows":
        from socle import windows

        if patch:
            raise SocleError("--patch is for Linux masters", hint="Windows postes take updates with 'invoke patch'")
        return windows.build(spec, update_lock=update_lock, force=force)
    if update_lock and patch:
        raise SocleError("--update-lock and --patch exclude each other", hint="a patch release keeps the lock")
    system.require()
    lock = None if update_lock else read_lock(spec)
    if patch and lock is None:
        raise SocleError(
            f"--patch needs a lock file ({rel(spec.lock_path)})",
            hint="build the release first: invoke build-master --profile " + profile,
        )
    version = _next_patch_version(spec) if patch else spec.version
    final = dist_dir() / "masters" / spec.year / spec.profile / version
    if not (update_lock or patch or force) and already_built(spec, final):
        console.print(
            f"[green]already built[/]: {final} (same spec, lock, roles and catalogue); use --force to rebuild"
        )
        return final
    staging = final.with_name(f".{version}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    ctx = BuildContext(
        spec=spec,
        version=version,
        patch=patch,
        source_date_epoch=_source_date_epoch(),
        staging=staging,
        final=final,
        container=f"socle-build-{spec.profile}",
        clean=force,
        resume=f"the base root filesystem cache in {images.cache_dir()} is kept",
    )
    console.rule(f"[bold]master {spec.profile} {version}[/] ({rel(spec.path)})")
    started = time.monotonic()
    try:
        manifest = _pipeline(ctx, lock)
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "2", ctx.container], capture_output=True, check=False)
    manifest["inputs_sha256"] = inputs_sha256(spec)
    manifest["lock_sha256"] = _file_sha(spec.lock_path)
    manifest["build"]["duration_s"] = round(time.monotonic() - started, 1)
    manifest["build"]["steps_s"] = ctx.timings
    shutil.rmtree(staging / "build", ignore_errors=True)
    published = publish(staging, final, manifest)
    _podman("tag", manifest["oci"]["image"], _latest_ref(spec), what="tag the master as the profile's latest")
    if dropped := prune_images(spec.profile):
        console.print(f"  podman store: dropped {len(dropped)} older image(s) of {spec.profile}: {', '.join(dropped)}")
    return published


#: master images of a profile kept in the podman store, newest first (a desktop master is ~10 GB;
#: the published artefacts in dist/ are what postes use, these serve tests and the next build)
KEEP_MASTER_IMAGES = 3


def prune_images(profile: str, keep: int = KEEP_MASTER_IMAGES) -> list[str]:
    """Untag the profile's master images beyond the ``keep`` newest (``:latest`` always stays) and
    delete every untagged one that no kept image builds on. Returns the tags dropped."""
    repo = f"localhost/socle/{profile}:"
    out = subprocess.run(["podman", "images", "--format", "json"], capture_output=True, text=True, check=False)
    listed = json.loads(out.stdout or "[]") if out.returncode == 0 else []
    ours = sorted(
        (img for img in listed if any(n.startswith(repo) for n in img.get("Names") or [])),
        key=lambda img: img.get("Created", 0),
        reverse=True,
    )
    dropped: list[str] = []
    for img in ours[keep:]:
        names = [n for n in img["Names"] if n.startswith(repo)]
        if f"{repo}latest" in names:
            continue
        for name in names:
            if subprocess.run(["podman", "untag", img["Id"], name], capture_output=True).returncode == 0:
                dropped.append(name.removeprefix(repo))
    dangling = subprocess.run(
        ["podman", "images", "-q", "--no-trunc", "--filter", "dangling=true",
         "--filter", f"label=org.socle.profile={profile}"],
        capture_output=True, text=True, check=False,
    ).stdout.split()  # fmt: skip
    for image_id in dangling:  # refused while a kept image builds on it: it stays until then
        subprocess.run(["podman", "image", "rm", image_id], capture_output=True, check=False)
    return dropped


def write_sums(staging: Path, produced: dict[str, str]) -> dict[str, dict[str, Any]]:
    """sha256 and size of each artefact (name -> file in ``staging``), listed in ``staging/SHA256SUMS``."""
    artefacts = {
        name: {"sha256": sha256_file(staging / f), "bytes": (staging / f).stat().st_size}
        for name, f in sorted(produced.items())
    }
    (staging / "SHA256SUMS").write_text("".join(f"{a['sha256']}  {n}\n" for n, a in artefacts.items()))
    return artefacts


def publish(staging: Path, final: Path, manifest: dict[str, Any]) -> Path:
    """Write the manifest, then swap the staging directory in: a reader sees the old or the new master."""
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    old = final.with_name(f".{final.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    staging.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    console.print(f"[bold green]master published[/]: {final} ({manifest['build']['duration_s']} s)")
    return final


def _hash_files(h: Any, *paths: Path) -> None:
    """Feed ``h`` with the name and content of each file, folders walked in order (caches skipped)."""
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        else:
            files = [path] if path.exists() else []
        for file in files:
            h.update(rel(file).encode() + b"\0" + file.read_bytes() + b"\0")


def inputs_sha256(spec: MasterSpec) -> str:
    """Hash of everything a build consumes: spec, lock, roles, catalogue, socle version."""
    h = hashlib.sha256(__version__.encode())
    _hash_files(h, spec.path, spec.lock_path, ROOT / "roles", CATALOGUE_DIR)
    return h.hexdigest()


def already_built(spec: MasterSpec, final: Path) -> bool:
    """``final`` holds a master built from exactly the current inputs (spec, lock, roles, catalogue)."""
    manifest = final / "manifest.json"
    return manifest.exists() and json.loads(manifest.read_text()).get("inputs_sha256") == inputs_sha256(spec)


def _file_sha(path: Path) -> str | None:
    return sha256_file(path) if path.exists() else None


# --- configuration, and its reuse by the next build -------------------------------------------
def _reuse_key(spec: MasterSpec, rootfs: images.RootfsSpec) -> str:
    """What a configured image depends on besides the catalogue selection and the version."""
    h = hashlib.sha256(f"{__version__}\0{rootfs.key()}\0".encode())
    data = {k: v for k, v in spec.data.items() if k not in {"catalogue", "version", "description"}}
    h.update(json.dumps(data, sort_keys=True).encode())
    _hash_files(h, ROOT / "roles")
    return h.hexdigest()[:32]


#: layers of a master image (base, first configuration, then one per reuse) beyond which a build starts clean
MAX_REUSED_LAYERS = 12


def _latest_ref(spec: MasterSpec) -> str:
    """The profile's last verified master: where the next build of the profile may start from."""
    return f"localhost/socle/{spec.profile}:latest"


def _reusable_master(ctx: BuildContext, reuse_key: str, selection: list[dict[str, str]]) -> str | None:
    """The profile's last verified master, when the catalogue only grew (or the lock or version changed).

    Roles are idempotent, so configuring on top of it installs only what is new (its apt lists
    were removed by the generalisation: ``base`` fetches them again); the lock check still decides
    (a mismatch configures again from the base). An entry that left the selection means a build
    from the base: apt cannot tell what a removal should take along (dependencies kept because
    something else recommends them), and a master must equal a clean build. ``--force`` always
    builds from the base.
    """
    ref = _latest_ref(ctx.spec)
    if ctx.clean or not images.image_exists(ref):
        return None
    fmt = '{{index .Labels "org.socle.reuse"}}|{{len .RootFS.Layers}}|{{index .Labels "org.socle.catalogue"}}'
    out = subprocess.run(["podman", "image", "inspect", "--format", fmt, ref], capture_output=True, text=True)
    label, layers, carried = [*out.stdout.strip().split("|"), "", "", ""][:3]
    if label != reuse_key or int(layers or 0) > MAX_REUSED_LAYERS:
        return None  # other roles, spec or base; or a long chain of reuses: start a new one
    withdrawn = set(filter(None, carried.split(","))) - {e["name"] for e in selection}
    if withdrawn:
        console.print(f"  configuring from the base: {', '.join(sorted(withdrawn))} left the catalogue selection")
        return None
    return ref


def _start_container(ctx: BuildContext, image: str) -> None:
    """(Re)start the build container from ``image``: ``sleep infinity`` under --init, never systemd."""
    subprocess.run(["podman", "rm", "-f", "-t", "0", ctx.container], capture_output=True, check=False)
    _podman("run", "-d", "--init", "--name", ctx.container, "--hostname", "master", image, "sleep", "infinity",
            what="start the build container")  # fmt: skip


def _configure(ctx: BuildContext, start: str, selection: list[dict[str, str]], *, upgrade: bool) -> None:
    spec = ctx.spec
    _start_container(ctx, start)
    roles = [r for r in spec.data["roles"] if r["name"] != "master_finalize"]
    extra = {
        "socle_master_profile": spec.profile,
        "socle_master_version": ctx.version,
        "catalogue_software_packages": selection,
        "hardening_level": spec.data.get("hardening_level", "minimal"),
    }
    if spec.data.get("branding"):
        extra["branding_defaults"] = spec.data["branding"]
    if any(r["name"] == "reimage_client" for r in roles):
        extra["reimage_client_trusted_key"] = signing.public_key()
    book = _write_playbook(ctx, roles, "Configure master", extra)
    if upgrade:
        _append_upgrade(book)
    _ansible(ctx, book, "configure")


def _timed(ctx: BuildContext, name: str, fn: Any, *args: Any) -> Any:
    """Run one part of a parallel step, recording its own duration in the build's timings."""
    start = time.monotonic()
    result = fn(*args)
    took = time.monotonic() - start
    ctx.timings[f"  {name}"] = round(took, 2)
    console.print(f"  [green]✓[/] {name} [dim]({took:.1f} s)[/]")
    return result


def _commit(ctx: BuildContext, image: str, reuse_key: str, selection: list[dict[str, str]]) -> str:
    """The generalised container as the master's OCI image, labelled with what the next build needs to
    know to start from it (its reuse key and the catalogue entries it carries)."""
    spec = ctx.spec
    carried = ",".join(sorted({e["name"] for e in selection}))
    _podman(
        "commit", "--quiet",
        "--change", 'CMD ["/lib/systemd/systemd"]', "--change", "STOPSIGNAL SIGRTMIN+3",
        "--change", f"LABEL org.socle.profile={spec.profile}", "--change", f"LABEL org.socle.version={ctx.version}",
        "--change", f"LABEL org.socle.reuse={reuse_key}",
        "--change", f"LABEL org.socle.catalogue={carried}",
        ctx.container, image,
        what="podman commit",
    )  # fmt: skip
    return _podman("image", "inspect", "--format", "{{.Id}}", image, what="inspect image")


def _capture(
    ctx: BuildContext, image: str, reuse_key: str, selection: list[dict[str, str]]
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """Commit the OCI image while the artefacts are exported from the stopped container's root
    filesystem (and OpenSCAP reads it); then testinfra and Lynis run in a container of the image.

    A cold desktop master's commit copies about 10 GB into the container store (~3.5 min on
    2 cores); squashfs, chunk index and OpenSCAP take about as long and need only the files.
    """
    mount = _podman("mount", ctx.container, what="mount the build container")
    try:
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="socle-capture") as pool:
            files = pool.submit(_timed, ctx, "export artefacts (squashfs, chunk index, kernel)", _export, ctx, mount)
            scan = ctx.spec.data.get("verify", {}).get("openscap") and pool.submit(
                _timed, ctx, "OpenSCAP (ANSSI BP-028 minimal)", _openscap, ctx, mount
            )
            # an error here still waits for the export and the scan (leaving the pool waits for them)
            image_id = _timed(ctx, "OCI image (podman commit)", _commit, ctx, image, reuse_key, selection)
            verification = _timed(ctx, "verify (testinfra, Lynis)", _verify, ctx, image)
            produced = files.result()
            if scan:
                verification["openscap"] = scan.result()
    finally:
        subprocess.run(["podman", "umount", ctx.container], capture_output=True, check=False)
    return image_id, produced, verification


def _pipeline(ctx: BuildContext, lock: dict[str, Any] | None) -> dict[str, Any]:
    spec = ctx.spec
    rootfs = spec.rootfs()
    base_ref = f"localhost/socle/base-{rootfs.release}:{rootfs.key()}"
    with step(ctx, "base root filesystem (mmdebstrap, cached)"):
        if not images.image_exists(base_ref):
            tar = images.build_rootfs(rootfs, source_date_epoch=ctx.source_date_epoch)
            images.import_rootfs(tar, base_ref, labels={"org.socle.kind": "base", "org.socle.key": rootfs.key()})
    with step(ctx, "catalogue selection"):
        selection = catalogue_selection(spec, lock)
    reuse_key = _reuse_key(spec, rootfs)  # hashes the roles: once per build
    reuse = _reusable_master(ctx, reuse_key, selection)
    with step(ctx, "configure with Ansible roles" + (" (on the profile's last master)" if reuse else "")):
        _configure(ctx, reuse or base_ref, selection, upgrade=ctx.patch or bool(reuse and lock is None))
    with step(ctx, "package set and lock"):
        pkgs = _package_set(ctx.container)
        patched: dict[str, Any] = {}
        if lock is not None:
            try:
                patched = _compare_lock(lock, pkgs, ctx.patch)
            except SocleError:
                if not reuse:
                    raise
                # what the reused configuration carries over differs from the lock: build clean
                console.print("  the reused configuration does not match the lock: configuring from the base")
                reuse = None
                _configure(ctx, base_ref, selection, upgrade=ctx.patch)
                pkgs = _package_set(ctx.container)
                patched = _compare_lock(lock, pkgs, ctx.patch)
        else:
            lock_data = {
                "spec": str(rel(spec.path)),
                "release": rootfs.release,
                "mirror": rootfs.mirror,
                "packages": dict(sorted(pkgs.items())),
            }
            spec.lock_path.write_text(json.dumps(lock_data, indent=1, sort_keys=True) + "\n")
            console.print(f"  wrote {rel(spec.lock_path)} ({len(pkgs)} packages)")
    with step(ctx, "generalise (master_finalize)"):
        manifest_in_image = {"profile": spec.profile, "version": ctx.version, "school_year": spec.year}
        run(
            ["podman", "exec", "-i", ctx.container, "sh", "-c",
             "mkdir -p /etc/socle && cat > /etc/socle/master.json"],
            what="write /etc/socle/master.json",
            input=json.dumps(manifest_in_image, sort_keys=True) + "\n",
        )  # fmt: skip
        book = _write_playbook(
            ctx, [{"name": "master_finalize"}], "Finalize master", {"master_finalize_building_master": True}
        )
        _ansible(ctx, book, "finalize")
        # Ansible's remote working folder outlives the play that needed it (master_finalize keeps it)
        _podman("exec", ctx.container, "rm", "-rf", "/root/.ansible", what="remove Ansible's working folder")
        _podman("stop", "-t", "2", ctx.container, what="stop the build container")
    image = f"localhost/socle/{spec.profile}:{ctx.version}"
    with step(ctx, "OCI image, artefacts and verification (in parallel)"):
        image_id, produced, verification = _capture(ctx, image, reuse_key, selection)
    with step(ctx, "manifest and SBOM"):
        sbom = _sbom(ctx, pkgs)
        (ctx.staging / "sbom.cdx.json").write_text(json.dumps(sbom, indent=2, sort_keys=True) + "\n")
        produced["sbom.cdx.json"] = "sbom.cdx.json"
        artefacts = write_sums(ctx.staging, produced)
    with step(ctx, "sign (OpenPGP, SHA256SUMS.asc)"):
        signing.sign(ctx.staging / "SHA256SUMS")
        signature = {"file": "SHA256SUMS.asc", "signs": "SHA256SUMS", "key": signing.signer()[1]}
    catalogue_rev = git_revision(CATALOGUE_DIR)
    return {
        "schema_version": 1,
        "profile": spec.profile,
        "school_year": spec.year,
        "version": ctx.version,
        "spec": spec.data,
        "spec_sha256": spec.sha256(),
        "catalogue": {
            "revision": catalogue_rev,
            "entries": [{**e, "version": pkgs[e["name"]]["version"]} for e in selection],
        },
        "packages": dict(sorted(pkgs.items())),
        "patched": patched.get("updated", {}),
        "artefacts": artefacts,
        "signature": signature,
        "oci": {"image": image, "id": image_id},
        "verification": verification,
        "build": {
            "source_date_epoch": ctx.source_date_epoch,
            "built_at": dt.datetime.fromtimestamp(ctx.source_date_epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "builder": _tool_versions(),
        },
    }


def _append_upgrade(book: Path) -> None:
    """Upgrade to the mirror's newest versions, last: a patch release (its security updates) or a new
    lock built on a reused configuration (what a build from the base would resolve)."""
    plays = yaml.safe_load(book.read_text())
    plays[0]["post_tasks"] = [
        {
            "name": "Upgrade to the newest packages of the mirror",
            "ansible.builtin.apt": {"upgrade": "safe", "update_cache": True},
        }
    ]
    book.write_text("---\n" + yaml.safe_dump(plays, sort_keys=False))


# --- reading published masters ----------------------------------------------------------------
def verify_artefacts(master_dir: Path) -> list[str]:
    """Check that every artefact listed in the manifest exists with its sha256; returns problems."""
    manifest = json.loads((master_dir / "manifest.json").read_text())
    problems = []
    for name, art in manifest["artefacts"].items():
        path = master_dir / name
        if not path.exists():
            problems.append(f"{name}: missing")
        elif sha256_file(path) != art["sha256"]:
            problems.append(f"{name}: sha256 mismatch")
    return problems
