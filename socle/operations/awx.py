"""The Région's AWX as code: what `awx/configure.yml` applies, rendered from `awx/settings.yml` and
the inventory.

One AWX inventory per établissement (the socle inventory plugin limited to its UAI), and one for the
Région. Role-based access: the CMIL team of an établissement may *use* its inventory and *execute*
the CMIL job templates, which have no inventory of their own and ask for one at launch (AWX then
requires *use* on it), so a CMIL acts on their own school only; a contractor's team gets the same on
the établissements of its contract. The Région's templates (waves, the whole Région's check) carry
the Région's inventory, which no team but regional IT may use, and only regional IT executes them
(:func:`reachable` is what AWX allows, checked by the tests on the rendered settings). Names carry
UAIs, never a school's free-text name: everything rendered here ends up in Ansible variables,
where text from an inventory file must not be able to become a template.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from socle.core.errors import SocleError
from socle.core.findings import errors
from socle.core.paths import ROOT
from socle.core.schema import validate
from socle.core.yamlio import load

SETTINGS = ROOT / "awx" / "settings.yml"
REGION_INVENTORY = "socle — Région"
REGIONAL_IT_TEAM = "Région — DSI"


def load_settings(path: Path = SETTINGS) -> dict[str, Any]:
    """awx/settings.yml, checked against its schema and against itself (located errors)."""
    doc = load(path)
    problems = errors(validate(doc, "awx-settings", "AWX001"))
    if problems:
        first = problems[0]
        raise SocleError(first.message, where=f"{first.file}:{first.line} {first.keypath}".strip(), hint=first.fix)
    data: dict[str, Any] = doc.data
    keys = [t["key"] for t in data["job_templates"]]
    region_keys = [t["key"] for t in data["job_templates"] if not t["cmil"]]
    for i, s in enumerate(data["schedules"]):
        if s["job_template"] not in region_keys:
            what = "a school's template (cmil: true)" if s["job_template"] in keys else "an unknown job template"
            raise SocleError(f"schedule '{s['name']}' names {what} '{s['job_template']}'",
                             where=f"{path}:{doc.line(('schedules', i, 'job_template')) or 1}",
                             hint=f"a schedule runs a Région template: {', '.join(region_keys)}")  # fmt: skip
    return data


def inventory_name(uai: str) -> str:
    return f"socle — {uai}"


def cmil_team(uai: str) -> str:
    return f"CMIL {uai}"


def _survey(template: dict[str, Any]) -> dict[str, Any]:
    spec = []
    for q in template["survey"]:
        item = {"question_name": q["question_name"], "question_description": "", "variable": q["variable"],
                "type": q["type"], "required": q["required"], "default": q.get("default", "")}  # fmt: skip
        if q["type"] == "text":
            item.update(min=q.get("min", 0), max=q.get("max", 1024))
        if q["type"] == "multiplechoice":
            item["choices"] = q["choices"]
        spec.append(item)
    return {"name": template["name"], "description": template["description"], "spec": spec}


def render(settings: dict[str, Any], uais: list[str]) -> dict[str, Any]:
    """The variables of awx/configure.yml for the établissements ``uais``."""
    known = set(uais)
    for c in settings["contractors"]:
        unknown = sorted(set(c["etablissements"]) - known)
        if unknown:
            raise SocleError(f"contractor '{c['name']}' names établissements the inventory does not have: "
                             f"{', '.join(unknown)}", where=str(SETTINGS),
                             hint="fix the UAI, or add the établissement's inventory file first")  # fmt: skip
    templates = {t["key"]: t for t in settings["job_templates"]}
    cmil_templates = [t["name"] for t in settings["job_templates"] if t["cmil"]]
    inventories = [{"name": REGION_INVENTORY, "description": "Tous les établissements", "source_vars": {}}]
    inventories += [{"name": inventory_name(u), "description": f"Établissement {u}",
                     "source_vars": {"SOCLE_INVENTORY_ONLY_UAI": u}} for u in sorted(uais)]  # fmt: skip
    teams = [{"name": REGIONAL_IT_TEAM, "description": "Informatique régionale : administre socle"}]
    roles: list[dict[str, Any]] = [
        {"team": REGIONAL_IT_TEAM, "role": "admin", "organizations": [settings["organization"]]}
    ]

    def grant(team: str, schools: list[str]) -> None:
        names = [inventory_name(u) for u in sorted(schools)]
        roles.extend([
            {"team": team, "role": "use", "inventories": names},
            {"team": team, "role": "read", "inventories": names},
            {"team": team, "role": "execute", "job_templates": cmil_templates},
        ])  # fmt: skip

    for u in sorted(uais):
        teams.append({"name": cmil_team(u), "description": f"CMIL de l'établissement {u}"})
        grant(cmil_team(u), [u])
    for c in settings["contractors"]:
        team = f"Prestataire — {c['name']}"
        teams.append(
            {"name": team, "description": f"Prestataire de maintenance ({len(c['etablissements'])} établissements)"}
        )
        grant(team, c["etablissements"])
    return {
        "awx_organization": settings["organization"],
        "awx_project": settings["project"],
        "awx_execution_environment": settings["execution_environment"],
        "awx_credentials": settings["credentials"],
        "awx_inventory_source": settings["inventory_source"],
        "awx_inventories": inventories,
        "awx_job_templates": [
            {
                "name": t["name"],
                "playbook": t["playbook"],
                "description": t["description"],
                # a school's template has no default to fall back on: AWX checks *use* on what is given
                **(
                    {"ask_inventory_on_launch": True}
                    if t["cmil"]
                    else {"inventory": REGION_INVENTORY, "ask_inventory_on_launch": False}
                ),
                "survey_enabled": bool(t["survey"]),
                "survey_spec": _survey(t),
            }
            for t in settings["job_templates"]
        ],
        "awx_schedules": [
            {
                "name": s["name"],
                "unified_job_template": templates[s["job_template"]]["name"],
                "rrule": s["rrule"],
                "limit": s.get("limit", ""),
                "extra_data": s.get("extra_data", {}),
            }
            for s in settings["schedules"]
        ],
        "awx_teams": teams,
        "awx_roles": roles,
    }


def reachable(rendered: dict[str, Any], team: str) -> dict[str, set[str]]:
    """What ``team`` can launch, and on which inventories, by AWX's rules: a job template it may
    *execute* runs on its own inventory whatever the launcher's rights (no *use* checked), or, when it
    asks at launch, on any inventory the team may *use*. Job template name -> inventory names."""
    grants = [r for r in rendered["awx_roles"] if r["team"] == team]
    if any(r["role"] == "admin" for r in grants):
        every = {i["name"] for i in rendered["awx_inventories"]}
        return {t["name"]: every for t in rendered["awx_job_templates"]}
    usable = {i for r in grants if r["role"] in ("use", "admin") for i in r.get("inventories", [])}
    executable = {j for r in grants if r["role"] in ("execute", "admin") for j in r.get("job_templates", [])}
    out: dict[str, set[str]] = {}
    for t in rendered["awx_job_templates"]:
        if t["name"] in executable:
            out[t["name"]] = ({t["inventory"]} if t.get("inventory") else set()) | (
                usable if t["ask_inventory_on_launch"] else set()
            )
    return out
