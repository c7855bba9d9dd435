#!/usr/bin/python
# Copyright: socle contributors. EUPL-1.2
"""Decide whether a patch wave may run now: the maintenance windows and the wave gate."""

from __future__ import annotations

DOCUMENTATION = r"""
module: socle_patch_gate
short_description: Decide whether a patch wave may run now (maintenance windows, wave gate)
description:
  - The decision C(invoke patch) makes, for a run AWX starts on a schedule, which établissements of
    O(wave) are inside their maintenance window now (Europe/Paris, school holidays of their zone),
    and whether the previous wave's gate is open (every school with fresh results in the Région's
    results database, their mean conformity at or above the rollout's threshold).
  - Fails, with the reason and the next window, when the gate is closed or no window is open, and nothing
    is patched then.
  - Runs where socle is installed (the controller, or socle's execution environment) and reads the
    results database from C(SOCLE_HISTORY_DB).
version_added: "0.1.0"
author: socle contributors
options:
  wave:
    description: The wave to patch (C(pilot), C(1), C(2), C(3) in the rollout's order).
    type: str
    required: true
  inventory:
    description: The région's inventory folder (the one the run uses).
    type: path
    required: true
notes:
  - Changes nothing (check mode is the same run).
"""

EXAMPLES = r"""
- name: Decide whether the wave may run now
  socle_patch_gate:
    wave: "{{ socle_patch_wave }}"
    inventory: "{{ inventory_dir }}"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
serveurs:
  description: The serveurs of the établissements whose window is open.
  type: list
  returned: success
windows:
  description: The Windows postes of those établissements.
  type: list
  returned: success
serial:
  description: Ansible batch size of the wave (rollout.yml).
  type: str
  returned: success
max_fail_percentage:
  description: Share of failed hosts that stops the wave (rollout.yml).
  type: int
  returned: success
gates:
  description: What the gate and the calendar said.
  type: list
  returned: always
"""

from pathlib import Path

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec={"wave": {"type": "str", "required": True}, "inventory": {"type": "path", "required": True}},
        supports_check_mode=True,
    )
    try:
        from socle.conformity import history
        from socle.core.errors import SocleError
        from socle.operations import patching
    except ImportError as exc:
        module.fail_json(msg=f"socle is not installed where this runs ({exc}): use socle's execution environment")
    try:
        plan = patching.plan(wave=module.params["wave"], region=Path(module.params["inventory"]),
                             measure=history.school_rates)  # fmt: skip
    except SocleError as exc:
        module.fail_json(msg=str(exc), gates=[])
    if plan.blocked:
        module.fail_json(msg="; ".join(plan.gates), gates=plan.gates)
    open_schools = [s for s in plan.schools if s.decision.allowed]
    if not open_schools:
        soonest = min(s.next_window for s in plan.schools if s.next_window)
        module.fail_json(msg=f"no établissement of wave {module.params['wave']} is inside its maintenance window "
                             f"now; the next one opens {soonest:%A %d/%m/%Y %H:%M}", gates=plan.gates)  # fmt: skip
    module.exit_json(
        changed=False, gates=plan.gates, serial=str(plan.settings["serial"]),
        max_fail_percentage=int(plan.settings["max_fail_percentage"]),
        serveurs=[h for s in open_schools for h in s.serveur_hosts],
        windows=[h for s in open_schools for h in s.windows_hosts],
    )  # fmt: skip


if __name__ == "__main__":
    main()
