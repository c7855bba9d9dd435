"""The Région's AWX as code: every task of awx/configure.yml, with every object rendered from the
settings and the inventory, is valid for the awx.awx module it calls (the modules' own argument
specs, from ansible-doc), and the rights are those a CMIL, a contractor and regional IT need. No AWX
server runs here: this is everything up to it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from jinja2.nativetypes import NativeEnvironment

from socle.core.errors import SocleError
from socle.core.paths import ROOT
from socle.inventory.model import DEFAULT_REGION, fast_load
from socle.operations import awx

OMIT = "__omit_place_holder__"
SECRETS = {"awx_machine_username": "socle", "awx_machine_ssh_key": "-----BEGIN OPENSSH PRIVATE KEY-----",
           "awx_machine_ssh_certificate": "ssh-ed25519-cert-v01@openssh.com AAAA",
           "awx_vault_password": "not-a-secret"}  # fmt: skip


@pytest.fixture(scope="module")
def rendered():
    return awx.render(awx.load_settings(), [s["uai"] for s in fast_load(DEFAULT_REGION)])


def argument_specs(modules: set[str]) -> dict[str, dict]:
    """Each module's argument spec, from its documentation (what ansible-doc prints)."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    out = subprocess.run([str(Path(sys.executable).parent / "ansible-doc"), "-j", "-t", "module", *sorted(modules)],
                         capture_output=True, text=True, check=True, env=env, cwd=ROOT)  # fmt: skip

    def spec(options: dict) -> dict:
        converted = {}
        for name, o in options.items():
            s = {k: o[k] for k in ("type", "required", "choices", "elements", "aliases", "no_log") if k in o}
            if "suboptions" in o:
                s["options"] = spec(o["suboptions"])
            converted[name] = s
        return converted

    return {name: spec(doc["doc"]["options"]) for name, doc in json.loads(out.stdout).items()}


def tasks_with_args(rendered: dict) -> list[tuple[str, str, dict]]:
    """(task name, module, arguments) for every task and loop item, templated as Ansible would."""
    play = yaml.safe_load((ROOT / "awx" / "configure.yml").read_text())[0]
    env = NativeEnvironment()
    variables = {**rendered, **SECRETS, "omit": OMIT}
    out = []
    for task in play["tasks"]:
        module = next(k for k in task if k.startswith("awx.awx."))
        items = env.from_string(task["loop"]).render(**variables) if "loop" in task else [None]
        for item in items:

            def render(value, item=item):
                if isinstance(value, str):
                    return env.from_string(value).render(**variables, item=item)
                if isinstance(value, dict):
                    return {k: render(v) for k, v in value.items()}
                if isinstance(value, list):
                    return [render(v) for v in value]
                return value

            args = {k: v for k, v in render(task[module]).items() if v != OMIT}
            out.append((task["name"], module, args))
    return out


def test_every_task_is_valid_for_its_module(rendered):
    calls = tasks_with_args(rendered)
    specs = argument_specs({module for _, module, _ in calls})
    for name, module, args in calls:
        result = ArgumentSpecValidator(specs[module]).validate(args)
        assert not result.error_messages, f"{name} ({module}): {result.error_messages}"
    # the module defaults are options of every module of the group
    assert all("validate_certs" in spec for spec in specs.values())
    assert len(calls) > 30  # one call per inventory, team and grant: the loops were expanded


def test_a_cmil_acts_on_their_own_school_only(rendered):
    grants = [r for r in rendered["awx_roles"] if r["team"] == "CMIL 0671000Y"]
    assert {(r["role"], tuple(r.get("inventories", r.get("job_templates", [])))) for r in grants} == {
        ("use", ("socle — 0671000Y",)), ("read", ("socle — 0671000Y",)),
        ("execute", ("socle — contrôle de conformité (maintenant)", "socle — réinitialiser une salle",
                     "socle — réimager une salle")),
    }  # fmt: skip
    # the wave patches are the Région's: no CMIL or contractor may launch them
    assert all("socle — correctifs de sécurité (vague)" not in r.get("job_templates", []) for r in rendered["awx_roles"]
               if r["team"] != awx.REGIONAL_IT_TEAM)  # fmt: skip
    contractor = [r for r in rendered["awx_roles"] if r["team"].startswith("Prestataire") and r["role"] == "use"]
    assert contractor[0]["inventories"] == ["socle — 0671000Y", "socle — 0681001U"]
    sources = {i["name"]: i["source_vars"] for i in rendered["awx_inventories"]}
    assert (
        sources["socle — 0671000Y"] == {"SOCLE_INVENTORY_ONLY_UAI": "0671000Y"} and sources[awx.REGION_INVENTORY] == {}
    )


def test_no_school_team_reaches_another_school_by_any_default(rendered):
    """By AWX's rules (awx.reachable) on the rendered settings: every team but regional IT reaches its
    own établissements' inventories and nothing else, whatever it launches and whatever it keeps as a
    default; the Région's inventory and templates are regional IT's alone."""
    templates = {t["name"]: t for t in rendered["awx_job_templates"]}
    teams = [t["name"] for t in rendered["awx_teams"] if t["name"] != awx.REGIONAL_IT_TEAM]
    settings = awx.load_settings()
    own = {awx.cmil_team(u): {awx.inventory_name(u)} for u in [s["uai"] for s in fast_load(DEFAULT_REGION)]}
    own |= {f"Prestataire — {c['name']}": {awx.inventory_name(u) for u in c["etablissements"]}
            for c in settings["contractors"]}  # fmt: skip
    assert set(teams) == set(own)
    for team in teams:
        reach = awx.reachable(rendered, team)
        assert reach, f"{team} can launch nothing"
        for name, inventories in reach.items():
            assert inventories and inventories <= own[team], f"{team} reaches {inventories - own[team]} with {name}"
            # no default to fall back on: a launch without an inventory is refused by AWX
            assert "inventory" not in templates[name] and templates[name]["ask_inventory_on_launch"]
    region_templates = {t["name"] for t in rendered["awx_job_templates"] if t.get("inventory")}
    assert region_templates == {
        "socle — correctifs de sécurité (vague)",
        "socle — contrôle de conformité (tous les lycées)",
    }
    assert all(templates[s["unified_job_template"]].get("inventory") == awx.REGION_INVENTORY
               for s in rendered["awx_schedules"])  # fmt: skip
    assert awx.reachable(rendered, awx.REGIONAL_IT_TEAM)["socle — correctifs de sécurité (vague)"]


def test_reachable_sees_a_regional_default(rendered):
    """The check above can fail: a school template given the Région's inventory as its default (what the
    settings did before #36) lets a CMIL act on every school."""
    broken = {**rendered, "awx_job_templates": [
        {**t, "inventory": awx.REGION_INVENTORY} for t in rendered["awx_job_templates"]]}  # fmt: skip
    reach = awx.reachable(broken, awx.cmil_team("0671000Y"))
    assert awx.REGION_INVENTORY in reach["socle — réimager une salle"]


def test_a_schedule_runs_only_a_region_template(tmp_path):
    text = (ROOT / "awx" / "settings.yml").read_text()
    bad = tmp_path / "settings.yml"
    bad.write_text(text.replace("    job_template: conformity-region\n", "    job_template: conformity\n"))
    with pytest.raises(SocleError) as err:
        awx.load_settings(bad)
    assert "a school's template" in str(err.value) and str(bad) in (err.value.where or "")


def test_each_job_template_runs_a_playbook_of_the_project(rendered):
    for template in rendered["awx_job_templates"]:
        book = ROOT / template["playbook"]
        assert book.is_file(), template["playbook"]
        proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "--syntax-check", "-i",
                               str(DEFAULT_REGION), str(book)], capture_output=True, text=True, cwd=ROOT,
                              env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")})  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]


def test_bad_settings_are_located(tmp_path):
    text = (ROOT / "awx" / "settings.yml").read_text()
    bad = tmp_path / "settings.yml"
    bad.write_text(text.replace("Alsace Maintenance Informatique (fictif)", "\"{{ lookup('pipe', 'id') }}\""))
    with pytest.raises(SocleError) as err:
        awx.load_settings(bad)
    assert "does not match" in err.value.message and "contractors" in str(err.value.where)
    bad.write_text(
        text.replace(
            "job_template: patch\n    extra_data: {socle_patch_wave: pilot}",
            "job_template: patches\n    extra_data: {socle_patch_wave: pilot}",
        )
    )
    with pytest.raises(SocleError, match="unknown job template 'patches'") as err:
        awx.load_settings(bad)
    assert err.value.where.startswith(f"{bad}:")
    with pytest.raises(SocleError, match="établissements the inventory does not have: 0671000Y"):
        awx.render(awx.load_settings(), ["0681001U"])


def test_a_scheduled_patch_wave_waits_for_the_gate(tmp_path, monkeypatch):
    """What AWX's patch schedule runs: the gate reads the results database; with no fresh results from
    the previous wave, nothing is patched (the run stops on the controller, no host is contacted)."""
    from socle.core import playbook

    # a database of its own: the session's shared one holds what other tests recorded
    monkeypatch.setenv("SOCLE_HISTORY_DB", str(tmp_path / "history.sqlite"))

    wave = {"socle_patch_wave": "1", "socle_patch_inventory": str(DEFAULT_REGION)}
    rc, events = playbook.run(ROOT / "playbooks" / "patch-wave.yml", data_dir=tmp_path / "run",
                              inventory=DEFAULT_REGION, label="patch-wave", extravars=wave)  # fmt: skip
    assert rc != 0
    assert len(events.failures) == 1 and events.failures[0].startswith("localhost: Check the maintenance windows")
    assert "wave pilot has no fresh conformity results from 2 établissement(s)" in events.failures[0]
    assert set(events.progress.hosts) == {"localhost"}


@pytest.mark.parametrize("book", ["playbooks/pull-night.yml", "playbooks/reimage-salle.yml"])
def test_an_awx_school_job_on_several_etablissements_stops_before_any_host(book):
    """A school template launched on an inventory of several établissements (what a wrong default would
    give): the play stops on the controller, with the reason, before any serveur or poste is contacted."""
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(DEFAULT_REGION), book,
         "-e", "awx_job_id=1", "-e", "awx_inventory_name='socle — 0671000Y'", "-e", "socle_salle=INFO1"],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")},
        timeout=120,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "a school's job runs on its établissement's inventory" in proc.stdout
    recap = re.findall(r"^(\S+)\s+: ok=", proc.stdout.split("PLAY RECAP")[-1], flags=re.MULTILINE)
    assert recap == ["localhost"]
