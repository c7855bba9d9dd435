"""Windows masters (docs/windows.md), driven directly from Python rather than by Packer:

1. inputs (``inputs``): the Région's ISO and the virtio drivers ISO, pinned by sha256 in the spec's
   lock with the Windows collection versions; any missing input fails at once and writes nothing.
2. answer media (``media``): ``autounattend.xml`` and the WinRM-over-HTTPS opener with its
   certificate from a throw-away CA of this build.
3. install (``vm``): QEMU/KVM, UEFI + TPM 2.0, on a restricted user-mode network.
4. provision (``playbooks/windows-build.yml``): updates, catalogue, hardening, ngen, first-boot
   scripts, the manifest collector; then the door is closed and sysprep runs from a SYSTEM task.
5. capture (``capture``): the Windows partition becomes ``install.wim``, listed in a signed
   ``SHA256SUMS`` with the manifest, published atomically like Linux masters.
"""

from __future__ import annotations

import json
import secrets
import shutil
from pathlib import Path
from typing import Any, ClassVar

from socle.build.pipeline import BuildContext, Platform, build_record, console, git_revision, sign, step
from socle.build.windows import capture, inputs, media, vm
from socle.catalogue import selection
from socle.core.errors import SocleError
from socle.core.paths import CATALOGUE_DIR, cache_dir, rel
from socle.registry import store
from socle.registry.specs import MasterSpec


class Windows(Platform):
    """A Windows master: installed in a VM from the Région's media, provisioned, sysprepped, captured."""

    name: ClassVar[str] = "windows"
    staging_mode: ClassVar[int] = 0o700

    def build(self, spec: MasterSpec, *, update_lock: bool, patch: bool, force: bool) -> Path:
        if patch:
            raise SocleError("--patch is for Linux masters", hint="Windows postes take updates with 'invoke patch'")
        self.ca_thumbprint = inputs.region_ca_thumbprint(spec)
        self.inputs = inputs.check_inputs(spec, update_lock=update_lock)
        self.update_lock = update_lock
        self.workdir = cache_dir() / "windows-build" / spec.profile
        return self.run(spec, patch=False, rebuild=force or update_lock,
                        resume="the install starts again from the ISO; logs and disk of this attempt "
                        f"are in {self.workdir}")  # fmt: skip

    def produce(self, ctx: BuildContext) -> dict[str, Any]:
        spec, staging, workdir = ctx.spec, ctx.staging, self.workdir
        settings = inputs.VmSettings.from_spec(spec)
        lock = inputs.read_lock(spec) or {}
        build_vm: vm.BuildVm | None = None
        try:
            packages, not_installable = selection.windows_packages(
                year=spec.year, disciplines=(spec.data.get("catalogue") or {}).get("disciplines", []), lock=lock
            )
            shutil.rmtree(workdir, ignore_errors=True)
            workdir.mkdir(parents=True, mode=0o700)
            if not_installable:
                console.print(
                    f"[yellow]not installable yet[/] ({len(not_installable)} winget cards without an installer "
                    f"pinned in {rel(spec.lock_path)} [windows]): {', '.join(not_installable)}"
                )
            with step(ctx, "answer media (autounattend, build CA, WinRM certificate)"):
                ca, pfx, pfx_password = media.build_pki(workdir)
                password = secrets.token_urlsafe(24)
                answers = media.answer_media(spec, workdir, build_password=password, pfx=pfx,
                                             pfx_password=pfx_password)  # fmt: skip
                pfx.unlink()
            with step(ctx, f"install Windows in the build VM ({settings.accel}, up to "
                           f"{settings.install_timeout_min} min)"):  # fmt: skip
                build_vm = vm.start_vm(settings, workdir, isos=[self.inputs.iso, self.inputs.virtio_iso, answers])
                vm.wait_for_winrm(build_vm, ca, timeout_s=settings.install_timeout_min * 60)
            inventory = vm.build_inventory(workdir, port=build_vm.port, ca=ca, password=password)
            extra = {
                "socle_master_profile": spec.profile,
                "socle_master_version": spec.version,
                "socle_master_school_year": spec.year,
                "socle_windows_build_dir": str(workdir),
                "win_catalogue_software_packages": packages,
                **(spec.data.get("windows") or {}).get("vars", {}),
                "win_firstboot_region_ca_thumbprint": self.ca_thumbprint,
            }
            with step(ctx, "provision (updates, catalogue, hardening, ngen, first-boot scripts)"):
                vm.provision(workdir, inventory, extra, label="provision", book="windows-build.yml")
            with step(ctx, "close the build door and generalise (sysprep from a SYSTEM task)"):
                vm.provision(workdir, inventory, extra, label="generalize", book="windows-generalize.yml")
                vm.wait_for_poweroff(build_vm, timeout_s=settings.generalize_timeout_min * 60)
            with step(ctx, "capture the Windows volume (wimlib, LZX)"):
                captured = capture.capture(workdir / "disk.qcow2", workdir, staging / "install.wim",
                                           name=f"socle {spec.profile} {spec.version}",
                                           description=f"Région master {spec.profile} {spec.version}")  # fmt: skip
            with step(ctx, "manifest, SHA256SUMS, signature"):
                snapshot = json.loads((workdir / "facts.json").read_text())
                manifest = self._manifest(ctx, snapshot, packages, not_installable, captured)
        except BaseException:
            if build_vm:
                build_vm.stop()
            shutil.rmtree(staging, ignore_errors=True)
            for secret in ("build-account.yml", "answers.iso"):  # the build password; logs and disk stay
                (workdir / secret).unlink(missing_ok=True)
            raise
        if self.update_lock or not spec.lock_path.exists():
            spec.lock_path.write_text(json.dumps({**lock, **self.inputs.lock(spec)}, indent=1, sort_keys=True) + "\n")
            console.print(f"  wrote {rel(spec.lock_path)}")
        return manifest

    def tidy(self, ctx: BuildContext) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _manifest(
        self, ctx: BuildContext, snapshot: dict[str, Any], packages: list[dict[str, Any]],
        not_installable: list[str], captured: dict[str, Any],
    ) -> dict[str, Any]:  # fmt: skip
        """What is inside: installed software (Uninstall keys), updates, inputs, artefacts; SHA256SUMS signed."""
        spec = ctx.spec
        artefacts = store.write_sums(ctx.staging, {"install.wim": "install.wim"})
        artefacts["install.wim"].update(captured)
        return {
            "schema_version": 1,
            "platform": "windows",
            "profile": spec.profile,
            "school_year": spec.year,
            "version": spec.version,
            "spec": spec.data,
            "spec_sha256": spec.sha256(),
            "inputs": self.inputs.lock(spec),
            "catalogue": {
                "revision": git_revision(CATALOGUE_DIR),
                "entries": packages,
                "not_installable": not_installable,
            },
            "packages": snapshot.get("packages", {}),
            "hardening": snapshot.get("hardening", {}),
            "updates": {"pending_at_capture": snapshot.get("updates"), "last": snapshot.get("last_patch")},
            "artefacts": artefacts,
            "signature": sign(ctx),
            "build": build_record(ctx),
        }
