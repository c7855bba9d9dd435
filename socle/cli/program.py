"""``socle``: the console command. The same tasks as ``invoke`` in the checkout (tasks.py, the table of
contents), from any folder, with ``--version``; a bad argument is one line, never a traceback."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

from invoke import Collection, Program
from invoke.exceptions import ParseError

from socle import __version__
from socle.core.paths import ROOT


class Socle(Program):
    def parse_tasks(self) -> None:
        try:
            super().parse_tasks()
        except ValueError as exc:  # a value the parser could not take: said, not dumped
            raise ParseError(f"socle: bad argument: {exc}") from None


def namespace() -> Collection:
    """The tasks of the checkout socle runs from (``SOCLE_PROJECT`` where socle is installed apart)."""
    path = ROOT / "tasks.py"
    spec = importlib.util.spec_from_file_location("socle_tasks", path)
    if spec is None or spec.loader is None or not path.is_file():
        print(f"socle: no tasks.py in {ROOT}: run socle from its checkout, or set SOCLE_PROJECT", file=sys.stderr)
        raise SystemExit(2)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ns: Any = module.ns
    return ns


def main(argv: list[str] | None = None) -> None:
    Socle(namespace=namespace(), version=__version__, name="socle", binary="socle").run(argv)
