"""Console side of `invoke awx.configure`: render the Région's AWX objects, then apply them."""

from __future__ import annotations

import json
import os
from pathlib import Path

from rich.console import Console

from socle.build import ee
from socle.core import playbook, system
from socle.core.errors import SocleError, StepFailed
from socle.core.files import output_file, write_atomic
from socle.core.paths import ROOT
from socle.inventory.model import DEFAULT_REGION, fast_load
from socle.operations import awx


def configure(*, render: str = "", inventory: str = "", vault_vars: str = "") -> None:
    region = Path(inventory) if inventory else DEFAULT_REGION
    variables = awx.render(awx.load_settings(), [s["uai"] for s in fast_load(region)])
    console = Console(stderr=True, soft_wrap=True)
    if render:
        out = output_file(render, "--render")
        write_atomic(out, json.dumps(variables, indent=2, ensure_ascii=False) + "\n")
        console.print(f"wrote {out}: {len(variables['awx_inventories'])} inventories, {len(variables['awx_teams'])} "
                      f"teams, {len(variables['awx_roles'])} grants", markup=False)  # fmt: skip
        return
    if not os.environ.get("CONTROLLER_HOST"):
        raise SocleError("no AWX to configure: CONTROLLER_HOST is not set",
                         hint="export CONTROLLER_HOST=https://awx.region… and CONTROLLER_OAUTH_TOKEN=…, "
                              "or --render FILE to see what would be applied")  # fmt: skip
    if not vault_vars:
        raise SocleError("the credentials' secrets are missing",
                         hint="--vault-vars awx/vault.yml (Ansible Vault: awx_machine_username, awx_machine_ssh_key, "
                              "awx_machine_ssh_certificate, awx_vault_password), "
                              "with ANSIBLE_VAULT_PASSWORD_FILE set")  # fmt: skip
    data_dir = ROOT / "reports" / "awx"
    local = data_dir / "localhost.ini"
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_text("localhost ansible_connection=local\n")
    rc, events = playbook.run(ROOT / "awx" / "configure.yml", data_dir=data_dir, inventory=local, label="awx-configure",
                              extravars=variables, cmdline=f"-e @{Path(vault_vars).resolve()}")  # fmt: skip
    if rc:
        raise StepFailed("AWX configuration failed:\n    " + "\n    ".join(events.failures[-8:]),
                         hint=f"full log: {playbook.stdout(data_dir, 'awx-configure')}")  # fmt: skip


def build_ee(*, tag: str = "") -> None:
    system.require()
    ref = ee.build(tag)
    Console(stderr=True, soft_wrap=True).print(
        f"built {ref}: push it to the Région's registry under the name awx/settings.yml gives "
        "(execution_environment.image)", markup=False)  # fmt: skip
