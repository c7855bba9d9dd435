"""socle tasks: a thin table of contents. Each task calls one function of the `socle` package.

invoke --list            all tasks
invoke <task> --help     options of one task
"""

from __future__ import annotations

from invoke import Collection, task

from socle.cli import guarded
from socle.errors import SocleError


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
        "force": "rebuild from the base even if the same inputs were already built",
    },
)
@guarded
def build_master(c, profile="poste-linux", year="", update_lock=False, patch=False, force=False):
    """Build a school-year master image from the catalogue (the main job)."""
    from socle import masters

    masters.build(profile=profile, year=year or None, update_lock=update_lock, patch=patch, force=force)


@task(
    help={
        "etab": "UAI of the établissement",
        "salle": "room id, as in the inventory",
        "reset": "drop the overlay only: back to the master already on the postes, no transfer",
        "force": "rewrite postes already on the current master",
        "reboot": "now (default), end-of-period (next full hour) or no (next boot)",
        "no_multicast": "HTTP only (networks without multicast)",
        "full": "move the whole image even where a poste holds an older one (no casync delta)",
        "inventory": "région folder (default: inventories/grand-est)",
        "report": "intervention record folder (default: reports/reimage/<time>)",
    }
)
@guarded
def reimage(c, etab="", salle="", reset=False, force=False, reboot="now", no_multicast=False, full=False,
            inventory="", report=""):  # fmt: skip
    """Restore every poste of a salle to the current master (multicast, HTTP fallback, verified, atomic)."""
    from pathlib import Path

    from socle import reimage as op
    from socle.errors import StepFailed

    if not etab or not salle:
        raise SocleError("say which salle: --etab UAI --salle ROOM", hint="invoke reimage --etab 0671000Y --salle S101")
    outcomes, out = op.run(
        etab=etab, salle=salle, reset=reset, force=force, reboot=reboot, multicast=not no_multicast, full=full,
        region=Path(inventory) if inventory else None, report=Path(report) if report else None,
    )  # fmt: skip
    op.show(outcomes, out)
    if op.failed(outcomes):
        raise StepFailed("some postes are not on the master: see the table above", hint=f"re-run the same command "
                         f"to resume; details in {out}/record.json")  # fmt: skip


@task(
    help={
        "etab": "UAI",
        "wave": "pilot, 1, 2 or 3",
        "all": "whole region",
        "now": "ignore maintenance windows (recorded; reboots still wait for a window)",
        "check": "show the plan only",
        "report": "run record folder (default: reports/patch/<time>)",
        "inventory": "région folder (default: inventories/grand-est)",
    }
)
@guarded
def patch(c, etab="", wave="", all=False, now=False, check=False, report="", inventory=""):
    """Preventive patching in waves, outside class hours (--check shows the plan)."""
    from pathlib import Path

    from socle import patching
    from socle.errors import StepFailed

    if sum(bool(x) for x in (etab, wave, all)) != 1:
        raise SocleError(
            "say what to patch: one of --etab UAI, --wave pilot|1|2|3 or --all", hint="invoke patch --help"
        )
    region = Path(inventory) if inventory else None
    plan = patching.plan(wave=wave or None, etab=etab or None, now=now, region=region)
    patching.show(plan)
    if check:
        return
    scope = f"etab {etab}" if etab else f"wave {wave}" if wave else "all"
    outcomes, out = patching.apply(plan, scope=scope, region=region, report=Path(report) if report else None)
    patching.show_outcomes(outcomes, out)
    if patching.failed(outcomes):
        raise StepFailed("patch run incomplete: see the table above", hint=f"details in {out}/run.json")


@task(
    help={
        "etab": "UAI of one établissement",
        "salle": "one room: UAI/ROOM",
        "all": "every établissement of the inventory",
        "report": "report directory (default: reports/conformity/<time>)",
        "inventory": "région folder (default: inventories/grand-est)",
        "aggregate": "pull mode: merge the reports lycée serveurs uploaded to this folder",
    }
)
@guarded
def conformity(c, etab="", salle="", all=False, report="", inventory="", aggregate=""):
    """Check postes against their master, the catalogue and the baseline; JSON, JUnit and HTML reports."""
    from socle import conformity_cli

    conformity_cli.run(etab=etab, salle=salle, everything=all, report=report, inventory=inventory, aggregate=aggregate)


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


@task(name="admin-password", help={"host": "inventory name of the Windows poste"})
@guarded
def admin_password(c, host):
    """Show a Windows poste's local administrator password (Ansible Vault; each reading is logged)."""
    from socle import secrets, who

    data = secrets.show(host, who())
    for state in ("current", "pending"):
        if data.get(state):
            print(f"{state:8}: {data[state]['password']}")
    for old in data.get("unconfirmed", []):
        print(f"unconfirmed (an interrupted rotation, {old['created_at']}): {old['password']}")


# --- catalogue ------------------------------------------------------------------------------
@task(
    name="check",
    help={
        "format": "text (default), json or junit",
        "output": "also write the findings to this file",
        "path": "catalogue directory (default: software_catalogue)",
    },
)
@guarded
def catalogue_check(c, format="text", output="", path=""):
    """Validate the software catalogue (schema, single choice, pinning, RGPD, governance…)."""
    from socle import catalogue_cli

    catalogue_cli.check(fmt=format, output=output or None, path=path or None)


@task(name="diff", help={"base": "git revision to compare against (e.g. origin/main)", "output": "write to file"})
@guarded
def catalogue_diff(c, base="origin/main", output=""):
    """Markdown report of what a catalogue change does to masters, schools, disk and cost."""
    from socle import catalogue_cli

    catalogue_cli.diff(base=base, output=output or None)


@task(
    name="request",
    help={
        "software": "card id, e.g. geogebra",
        "discipline": "discipline id, e.g. mathematiques",
        "function": "function id from taxonomy.yaml",
        "levels": "comma-separated: college,lycee-gt,lycee-pro",
        "requester": "your name",
        "uai": "your établissement's UAI",
        "rationale": "why, in French",
        "name": "software name (new card)",
        "publisher": "publisher (new card)",
        "homepage": "https:// homepage (new card)",
        "summary": "one sentence in French (new card)",
        "debian_package": "Debian package in trixie (new card)",
        "licence": "SPDX licence id (new card)",
        "year": "school year of the request (default: next rentrée)",
    },
)
@guarded
def catalogue_request(
    c, software="", discipline="", function="", levels="", requester="", uai="", rationale="", name="",
    publisher="", homepage="", summary="", debian_package="", licence="", year="",
):  # fmt: skip
    """Scaffold a teacher's request (card + table row), validated before anything is written."""
    from socle import catalogue_cli

    catalogue_cli.request({k: v for k, v in locals().items() if k != "c"})


# --- inventory ------------------------------------------------------------------------------
@task(
    name="check",
    help={"path": "région folder (default: inventories/grand-est)", "format": "text, json or junit", "output": "file"},
)
@guarded
def inventory_check(c, path="", format="text", output=""):
    """Validate the établissement inventories region-wide (UAI, duplicates, vocabulary, addresses)."""
    from pathlib import Path

    from socle import inventory
    from socle.findings import present

    findings = inventory.check(Path(path) if path else None)
    present(findings, fmt=format, output=output or None, suite="inventory", checks=inventory.CHECKS)


@task(
    name="generate",
    help={"etabs": "number of établissements", "postes": "total postes", "seed": "random seed", "out": "folder"},
)
@guarded
def inventory_generate(c, etabs=350, postes=60000, seed=2026, out="dist/region-synthetique"):
    """Write a deterministic synthetic region (benchmarks, load tests)."""
    from pathlib import Path

    from socle import inventory_tools

    n = inventory_tools.generate(Path(out), etabs=int(etabs), postes=int(postes), seed=int(seed))
    print(f"wrote {etabs} établissements, {n} postes in {out} (ansible-inventory -i {out} --graph)")


@task(
    name="import",
    help={"csv": "CMIL spreadsheet (CSV) or linuxmuster devices.csv", "uai": "UAI of the établissement",
          "apply": "write the result (default: dry run with a diff)", "path": "région folder"},
)  # fmt: skip
@guarded
def inventory_import(c, csv, uai, apply=False, path=""):
    """Import postes from a CSV into an établissement (dry run with a diff unless --apply)."""
    from pathlib import Path

    from socle import inventory_tools

    diff = inventory_tools.import_csv(Path(csv), uai, region=Path(path) if path else None, apply=apply)
    print(diff or "no change", end="\n" if not diff else "")
    if diff and not apply:
        print("(dry run: nothing written; add --apply to write)")


# --- school calendar -------------------------------------------------------------------------
@task(name="import", help={"csv": "CSV export of the ministry's 'fr-en-calendrier-scolaire' dataset"})
@guarded
def calendar_import(c, csv):
    """Update data/calendrier/ (school holidays by zone) from the ministry's open data export."""
    from pathlib import Path

    from socle import maintenance, rel

    for path in maintenance.import_dataset(Path(csv)):
        print(f"wrote {rel(path)}")


catalogue = Collection("catalogue", catalogue_check, catalogue_diff, catalogue_request)
inventory = Collection("inventory", inventory_check, inventory_generate, inventory_import)
calendar = Collection("calendar", calendar_import)
ns = Collection(
    setup, build_master, reimage, patch, conformity, admin_password, lint, test, catalogue, inventory, calendar
)
