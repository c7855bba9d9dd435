"""socle tasks: a thin table of contents. Each task calls one function of `socle.cli`.

invoke --list            all tasks
invoke <task> --help     options of one task
"""

from __future__ import annotations

from invoke import Collection, task

from socle.cli import guarded


@task
@guarded
def setup(c):
    """Prepare this Debian host: system packages (as root) and podman configuration. Idempotent."""
    from socle.cli import dev

    dev.setup()


@task(
    name="build-master",
    help={
        "profile": "master profile: poste-linux (default), serveur, ci, poste-windows",
        "year": "school year, such as 2026-2027 (default: the current one)",
        "update_lock": "resolve packages again and rewrite the lock file",
        "patch": "build a patch release (same lock + security updates, next .N version)",
        "force": "rebuild from the base even if the same inputs were already built (published as the next .N: "
        "a published version is never overwritten)",
        "dev_signing": "sign with a development key (no Région key configured): never for production",
    },
)
@guarded
def build_master(c, profile="poste-linux", year="", update_lock=False, patch=False, force=False, dev_signing=False):
    """Build a school-year master image from the catalogue (the main job)."""
    from socle.cli import build

    build.build_master(profile=profile, year=year, update_lock=update_lock, patch=patch, force=force,
                       dev_signing=dev_signing)  # fmt: skip


#: why an intervention happens: recorded in the history, counted in the monthly review (docs/review.md)
REQUEST_HELP = {
    "cause": "malware, misuse, software-fault, hardware-swap, rentree, patch or other (default: other)",
    "ticket": "the request's reference in the ticketing tool (e.g. GLPI-12345)",
    "requested_at": "when the request was opened (2026-11-30T08:15, Paris time; or with Z/offset): MTTR starts there",
}


@task(
    help={
        "etab": "UAI of the établissement",
        "salle": "room id, as in the inventory: install its postes",
        "poste": "only these postes of the salle (comma-separated names; default: the whole salle)",
        "serveur": "install this serveur instead (its inventory name), from its profile's master",
        "via": "the serveur that arms PXE for --serveur (default: another serveur of the établissement)",
        "window": "minutes the serveur stays armed for these MACs (default 60, at most 240)",
        "inventory": "région folder (default: inventories/grand-est)",
        "report": "intervention record folder (default: reports/install/<time>)",
        **REQUEST_HELP,
    }
)
@guarded
def install(c, etab="", salle="", poste="", serveur="", via="", window="60", inventory="", report="", cause="other",
            ticket="", requested_at=""):  # fmt: skip
    """First install of blank postes, or of a serveur, from a lycée serveur (PXE armed for their MACs, for a while)."""
    from socle.cli import operations

    operations.first_install(etab=etab, salle=salle, poste=poste, serveur=serveur, via=via, window=window,
                             inventory=inventory, report=report, request=(cause, ticket, requested_at))  # fmt: skip


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
        "year": "school year of the master, such as 2027-2028 (default: the one its wave runs today: rollout.yml)",
        "version": "a published master version (default: the newest of the year)",
        "rollback": "accept a master older than the postes run (default target: the one before the newest); recorded",
        "fetch": "if the serveur has not staged the master yet (at night, under its cap), transfer it now over the WAN",
        **REQUEST_HELP,
    }
)
@guarded
def reimage(c, etab="", salle="", reset=False, force=False, reboot="now", no_multicast=False, full=False,
            inventory="", report="", year="", version="", rollback=False, fetch=False, cause="other", ticket="",
            requested_at=""):  # fmt: skip
    """Restore every poste of a salle to the current master (multicast, HTTP fallback, verified, atomic)."""
    from socle.cli import operations

    operations.reimage_salle(etab=etab, salle=salle, reset=reset, force=force, reboot=reboot,
                             no_multicast=no_multicast, full=full, inventory=inventory, report=report,
                             year=year, version=version, rollback=rollback, fetch=fetch,
                             request=(cause, ticket, requested_at))  # fmt: skip


@task(
    help={
        "month": "the month reviewed, YYYY-MM (trends over the 12 months ending there)",
        "etab": "one établissement only (UAI): per salle instead of per établissement",
        "inventory": "région folder, for names and waves (default: inventories/grand-est)",
        "out": "folder for revue.html, kpis.csv, kpis.json (default: reports/review/<month>[-<UAI>])",
    }
)
@guarded
def report(c, month="", etab="", inventory="", out=""):
    """Monthly maintenance review for the contract meeting: MTTR, first-time fix, conformity (French HTML, CSV)."""
    from socle.cli import review

    review.monthly(month=month, etab=etab, inventory=inventory, out=out)


@task(
    help={
        "etab": "UAI",
        "wave": "pilot, 1, 2 or 3",
        "all": "whole region",
        "now": "ignore maintenance windows (recorded; reboots still wait for a window)",
        "check": "show the plan only",
        "report": "run record folder (default: reports/patch/<time>)",
        "inventory": "région folder (default: inventories/grand-est)",
        "year": "school year whose rollout and masters apply, such as 2027-2028 (default: each school's, "
        "from its wave: rollout.yml)",
        "ticket": REQUEST_HELP["ticket"],
        "scheduled": "run from a timer: a closed gate or window is 'nothing to do now' (exit 0), not an error",
        "fetch": "salles whose serveur has not staged the patch release yet: transfer it now over the WAN",
    }
)
@guarded
def patch(c, etab="", wave="", all=False, now=False, check=False, report="", inventory="", year="", ticket="",
          scheduled=False, fetch=False):  # fmt: skip
    """Preventive patching in waves, outside class hours (--check shows the plan)."""
    from socle.cli import operations

    operations.patch(etab=etab, wave=wave, everything=all, now=now, check=check, report=report, inventory=inventory,
                     year=year, ticket=ticket, scheduled=scheduled, fetch=fetch)  # fmt: skip


@task(
    help={
        "etab": "UAI of one établissement",
        "salle": "one room: UAI/ROOM",
        "all": "every établissement of the inventory",
        "report": "report directory (default: reports/conformity/<time>)",
        "inventory": "région folder (default: inventories/grand-est)",
        "from_db": "the Région report from the results database the lycée serveurs write (pull mode)",
        "year": "judge against this school year's masters (default: the one each school's wave runs today)",
        "version": "judge one salle (--salle) against this published version of its profile",
    }
)
@guarded
def conformity(c, etab="", salle="", all=False, report="", inventory="", from_db=False, year="", version=""):
    """Check postes against their master, the catalogue and the baseline; JSON, JUnit and HTML reports."""
    from socle.cli import conformity as cli

    cli.check(etab=etab, salle=salle, everything=all, report=report, inventory=inventory, from_db=from_db,
              year=year, version=version)  # fmt: skip


@task
@guarded
def lint(c):
    """ruff and ansible-lint (production profile)."""
    from socle.cli import dev

    dev.lint()


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
    from socle.cli import dev

    dev.test(heavy=heavy, quick=quick, keyword=k or None, with_lint=lint)


@task(name="admin-password", help={"host": "inventory name of the Windows poste"})
@guarded
def admin_password(c, host):
    """Show a Windows poste's local administrator password (Ansible Vault; each reading is logged)."""
    from socle.cli import passwords

    passwords.admin_password(host=host)


# --- catalogue ------------------------------------------------------------------------------
@task(
    name="check",
    help={
        "format": "text (default), json, junit, codequality (GitLab) or github (annotations)",
        "output": "also write the findings to this file",
        "path": "catalogue directory (default: software_catalogue)",
    },
)
@guarded
def catalogue_check(c, format="text", output="", path=""):
    """Validate the software catalogue (schema, single choice, pinning, RGPD, governance…)."""
    from socle.cli import catalogue as cli

    cli.check(fmt=format, output=output or None, path=path or None)


@task(name="diff", help={"base": "git revision to compare against (e.g. origin/main)", "output": "write to file"})
@guarded
def catalogue_diff(c, base="origin/main", output=""):
    """Markdown report of what a catalogue change does to masters, schools, disk and cost."""
    from socle.cli import catalogue as cli

    cli.diff(base=base, output=output or None)


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
        "from_issue": "read the values from an issue written with the « Demande de logiciel » form (a file)",
    },
)
@guarded
def catalogue_request(
    c, software="", discipline="", function="", levels="", requester="", uai="", rationale="", name="",
    publisher="", homepage="", summary="", debian_package="", licence="", year="", from_issue="",
):  # fmt: skip
    """Scaffold a teacher's request (card + table row), validated before anything is written."""
    from socle.cli import catalogue as cli

    cli.request({k: v for k, v in locals().items() if k not in {"c", "cli", "from_issue"}}, from_issue=from_issue)


# --- inventory ------------------------------------------------------------------------------
@task(
    name="check",
    help={"path": "région folder (default: inventories/grand-est)",
          "format": "text, json, junit, codequality or github", "output": "file"},
)  # fmt: skip
@guarded
def inventory_check(c, path="", format="text", output=""):
    """Validate the établissement inventories region-wide (UAI, duplicates, vocabulary, addresses)."""
    from socle.cli import inventory as cli

    cli.check(path=path, fmt=format, output=output)


@task(
    name="generate",
    help={"etabs": "number of établissements", "postes": "total postes", "seed": "random seed", "out": "folder"},
)
@guarded
def inventory_generate(c, etabs="350", postes="60000", seed="2026", out="dist/region-synthetique"):
    """Write a deterministic synthetic region (benchmarks, load tests)."""
    from socle.cli import inventory as cli

    cli.generate(etabs=etabs, postes=postes, seed=seed, out=out)


@task(
    name="import",
    help={"csv": "CMIL spreadsheet (CSV) or linuxmuster devices.csv", "uai": "UAI of the établissement",
          "apply": "write the result (default: dry run with a diff)", "path": "région folder",
          "mapping": "linuxmuster roles and hardware classes (default: data/import/linuxmuster.yaml)"},
)  # fmt: skip
@guarded
def inventory_import(c, csv, uai, apply=False, path="", mapping=""):
    """Import postes from a CSV into an établissement (dry run with a diff unless --apply)."""
    from socle.cli import inventory as cli

    cli.import_csv(csv=csv, uai=uai, apply=apply, path=path, mapping=mapping)


# --- school calendar -------------------------------------------------------------------------
@task(name="import", help={"csv": "CSV export of the ministry's 'fr-en-calendrier-scolaire' dataset"})
@guarded
def calendar_import(c, csv):
    """Update data/calendrier/ (school holidays by zone) from the ministry's open data export."""
    from socle.cli import operations

    operations.calendar_import(csv=csv)


@task(name="docs", help={"check": "only say whether docs/catalogue-checks.md is up to date"})
@guarded
def catalogue_docs(c, check=False):
    """Write docs/catalogue-checks.md from the checks themselves (socle/catalogue/checks/)."""
    from socle.cli import catalogue as cli

    cli.docs(check_only=check)


@task(
    name="configure",
    help={
        "render": "only write the rendered AWX objects (JSON) to this file",
        "inventory": "région folder (default: inventories/grand-est)",
        "vault_vars": "Ansible Vault file with the credentials' secrets (awx/vault.yml)",
    },
)
@guarded
def awx_configure(c, render="", inventory="", vault_vars=""):
    """Configure the Région's AWX as code: inventories, job templates, surveys, schedules, teams, rights."""
    from socle.cli import awx as cli

    cli.configure(render=render, inventory=inventory, vault_vars=vault_vars)


@task(name="ee", help={"tag": "image tag (default: socle's version)"})
@guarded
def awx_ee(c, tag=""):
    """Build socle's execution environment (ee/Containerfile) from a locally built Debian base, no registry."""
    from socle.cli import awx as cli

    cli.build_ee(tag=tag)


@task(
    name="new",
    help={
        "year": "the new school year, such as 2027-2028",
        "source": "the school year to start from (default: the year before)",
    },
)
@guarded
def year_new(c, year, source=""):
    """Start a school year: its master specs and rollout from the previous year's; what the discipline tables need."""
    from socle.cli import year as cli

    cli.new(year=year, source=source)


catalogue = Collection("catalogue", catalogue_check, catalogue_diff, catalogue_request, catalogue_docs)
inventory = Collection("inventory", inventory_check, inventory_generate, inventory_import)
calendar = Collection("calendar", calendar_import)
year = Collection("year", year_new)
awx = Collection("awx", awx_configure, awx_ee)
ns = Collection(
    setup,
    build_master,
    install,
    reimage,
    patch,
    conformity,
    report,
    admin_password,
    lint,
    test,
    catalogue,
    inventory,
    calendar,
    year,
    awx,
)
