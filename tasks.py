"""socle tasks: a thin table of contents. Each task calls one function of the `socle` package.

    invoke --list            all tasks
    invoke <task> --help     options of one task
"""

from __future__ import annotations

from invoke import Collection, task

from socle.cli import guarded
from socle.errors import NotImplementedYet


@task
@guarded
def setup(c):
    """Prepare this Debian host: system packages (as root) and podman configuration. Idempotent."""
    from socle import system

    system.setup()


@task(
    name="build-master",
    help={
        "profile": "master profile: poste-linux (default), serveur, ci, poste-windows",
        "year": "school year, such as 2026-2027 (default: the current one)",
        "update_lock": "resolve packages again and rewrite the lock file",
        "patch": "build a patch release (same lock + security updates, next .N version)",
    },
)
@guarded
def build_master(c, profile="poste-linux", year="", update_lock=False, patch=False):
    """Build a school-year master image from the catalogue (the main job)."""
    from socle import masters

    masters.build(profile=profile, year=year or None, update_lock=update_lock, patch=patch)


@task(help={"etab": "UAI of the établissement", "salle": "room id", "reset": "drop the overlay only"})
@guarded
def reimage(c, etab="", salle="", reset=False):
    """Restore every poste of a salle to the current master."""
    raise NotImplementedYet("reimage", 7)


@task(help={"etab": "UAI", "wave": "pilot, 1, 2 or 3", "all": "whole region", "now": "ignore windows", "check": "plan only"})
@guarded
def patch(c, etab="", wave="", all=False, now=False, check=False):
    """Preventive patching in waves, outside class hours."""
    raise NotImplementedYet("patch", 8)


@task(help={"etab": "UAI", "salle": "UAI/ROOM", "all": "whole region", "report": "report directory"})
@guarded
def conformity(c, etab="", salle="", all=False, report=""):
    """Check postes and serveurs against their master, the catalogue and the baseline."""
    raise NotImplementedYet("conformity", 6)


@task
@guarded
def lint(c):
    """ruff and ansible-lint (production profile)."""
    from socle import devtools

    devtools.lint()


@task(
    help={
        "heavy": "also run heavy checks (full desktop master build, qemu boot)",
        "quick": "unit tests only (no podman)",
        "k": "only tests matching this pytest -k expression",
        "lint": "run `invoke lint` first (default: yes)",
    }
)
@guarded
def test(c, heavy=False, quick=False, k="", lint=True):
    """The whole suite: lint, units, integration (podman + molecule); --heavy for long checks."""
    from socle import devtools

    if lint:
        devtools.lint()
    devtools.test(heavy=heavy, quick=quick, keyword=k or None)


# --- catalogue ------------------------------------------------------------------------------
@task(name="check", help={"format": "text (default), json or junit", "output": "write findings to this file"})
@guarded
def catalogue_check(c, format="text", output=""):
    """Validate the software catalogue (schema, single choice, pinning, RGPD, governance…)."""
    raise NotImplementedYet("catalogue.check", 3)


@task(name="diff", help={"base": "git revision to compare against (e.g. origin/main)"})
@guarded
def catalogue_diff(c, base="origin/main"):
    """Markdown report of what a catalogue change does to masters, schools, disk and cost."""
    raise NotImplementedYet("catalogue.diff", 3)


# --- inventory ------------------------------------------------------------------------------
@task(name="check", help={"path": "inventory directory (default: inventories/grand-est)"})
@guarded
def inventory_check(c, path=""):
    """Validate the établissement inventories region-wide (UAI, duplicates, vocabulary)."""
    raise NotImplementedYet("inventory.check", 4)


catalogue = Collection("catalogue", catalogue_check, catalogue_diff)
inventory = Collection("inventory", inventory_check)
ns = Collection(setup, build_master, reimage, patch, conformity, lint, test, catalogue, inventory)
