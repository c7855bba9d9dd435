"""Decide which masters an établissement runs and stages ahead: its wave's school year(s), its salles' profiles."""

from __future__ import annotations

DOCUMENTATION = r"""
module: socle_stage_plan
short_description: Decide which masters an établissement runs, and which its serveurs stage ahead
description:
  - The school year whose masters the établissement O(uai) runs today, the one its wave has moved
    to (C(masters/<year>/rollout.yml), C(starts)), what C(invoke reimage) assigns.
  - For the établissement O(uai) of the inventory, the (school year, profile) pairs its serveurs
    follow each night (socle-stage), the profiles of its salles and of its serveurs, in the school
    year its wave runs today and in a later year its wave moves to within O(ahead_days)
    (C(masters/<year>/rollout.yml), C(starts)).
  - Runs where socle is installed (the controller, or socle's execution environment).
version_added: "0.1.0"
author: socle contributors
options:
  inventory:
    description: The région's inventory folder.
    type: path
    required: true
  uai:
    description: The établissement.
    type: str
    required: true
  ahead_days:
    description: How many days before its wave moves to next year's masters a serveur stages them.
    type: int
    default: 45
notes:
  - Changes nothing (check mode is the same run).
"""

EXAMPLES = r"""
- name: Decide which masters the serveur stages
  socle_stage_plan:
    inventory: "{{ inventory_dir }}"
    uai: "{{ socle_uai }}"
  delegate_to: localhost
  register: plan
"""

RETURN = r"""
year:
  description: The school year whose masters the établissement's wave runs today.
  type: str
  returned: success
masters:
  description: The masters to follow, as C({year, profile}) mappings.
  type: list
  returned: success
"""

import datetime as dt
from pathlib import Path

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec={"inventory": {"type": "path", "required": True}, "uai": {"type": "str", "required": True},
                       "ahead_days": {"type": "int", "default": 45}},
        supports_check_mode=True,
    )  # fmt: skip
    try:
        from socle.core.clock import in_paris
        from socle.core.errors import SocleError
        from socle.inventory.model import fast_load
        from socle.registry import rollout
    except ImportError as exc:
        module.fail_json(msg=f"socle is not installed where this runs ({exc}): use socle's execution environment")
    try:
        school = next(
            (s for s in fast_load(Path(module.params["inventory"])) if s["uai"] == module.params["uai"]), None
        )
        if school is None:
            module.fail_json(msg=f"no établissement {module.params['uai']} in {module.params['inventory']}")
        profiles = [r["profile"] for r in school.get("salles") or []]
        profiles += [s.get("profile") or "serveur" for s in school.get("serveurs") or []]
        day: dt.date = in_paris().date()
        year = rollout.assigned_year(str(school["wave"]), day)
        masters = rollout.to_stage(str(school["wave"]), profiles, day, module.params["ahead_days"])
    except SocleError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, year=year, masters=masters)


if __name__ == "__main__":
    main()
