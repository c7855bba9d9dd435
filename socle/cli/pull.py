"""`socle-nightly`: a lycée serveur's nightly check in pull mode (the unit its timer starts).

It wakes the postes of its établissement that are switched off, checks every poste and itself, puts
back to sleep the ones it woke, and writes the results into the Région's PostgreSQL with its own
role (row-level security: its own UAI's rows only). Its configuration is /etc/socle/pull.yml
(schema: socle/schemas/pull-config.schema.json), written by playbooks/pull-mode.yml.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

from socle.conformity import nightly
from socle.core.errors import SocleError
from socle.core.findings import errors
from socle.core.schema import validate
from socle.core.yamlio import load

CONFIG = Path("/etc/socle/pull.yml")


def load_config(path: Path) -> dict[str, Any]:
    doc = load(path)
    problems = errors(validate(doc, "pull-config", "PULL001"))
    if problems:
        first = problems[0]
        message = f"{first.keypath}: {first.message}" if first.keypath else first.message
        raise SocleError(message, where=f"{path}:{first.line}", hint=first.fix or "see docs/conformity.md (pull mode)")
    query = urllib.parse.parse_qsl(urllib.parse.urlsplit(doc.data["database"]).query, keep_blank_values=True)
    names = [name for name, _ in query]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice or dict(query).get("sslmode") != "verify-full":
        raise SocleError(f"database: {'given twice: ' + ', '.join(twice) if twice else 'sslmode must be verify-full'}",
                         where=f"{path}:{doc.line(('database',))}",
                         hint="one sslmode=verify-full, each setting once (see docs/conformity.md)")  # fmt: skip
    return {"wake_wait_s": 180, "keep_reports_days": 14, "account": "ansible", **doc.data}


#: the only folders pruning removes: the reports this unit wrote (one per night)
_REPORT = re.compile(r"^[0-9]{8}T[0-9]{6}Z$")


def _prune(reports: Path, days: int) -> None:
    """Reports older than ``days`` go (the database keeps the history); only folders named like the
    nightly reports, never a link."""
    limit = time.time() - days * 86400
    for folder in reports.iterdir() if reports.is_dir() else []:
        if (
            _REPORT.match(folder.name)
            and not folder.is_symlink()
            and folder.is_dir()
            and folder.stat().st_mtime < limit
        ):
            shutil.rmtree(folder, ignore_errors=True)


def night(config: dict[str, Any]) -> dict[str, Any]:
    """One night: the environment socle reads (at each call, never at import), then the check of this
    établissement."""
    os.environ.update(
        SOCLE_HISTORY_DB=config["database"], SOCLE_DIST=str(Path(config["masters"]).parent),
        SOCLE_SSH_KEY=config["ssh_key"], SOCLE_SSH_KNOWN_HOSTS=config["known_hosts"],
        SOCLE_INVENTORY_ONLY_UAI=config["uai"],
    )  # fmt: skip
    reports = Path(config["reports"])
    _prune(reports, config["keep_reports_days"])
    return nightly.check(region=Path(config["inventory"]), etab=config["uai"],
                         report=reports / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
                         wake_wait_s=config["wake_wait_s"], pull_account=config["account"])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="socle-nightly", description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(CONFIG), help=f"pull-mode configuration (default {CONFIG})")
    args = parser.parse_args(argv)
    try:
        summary = night(load_config(Path(args.config)))
    except SocleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # a file the system refused that no check foresaw: one line, not a traceback
        print(f"error: {exc.filename + ': ' if exc.filename else ''}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    print(f"socle-nightly {summary['target']}: {summary['hosts']} hosts, {summary['seen']} seen, "
          f"{summary['conformity_percent']} % conformant, {summary['woken']} woken")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
