"""What an operator sees while Ansible works: fed by ansible-runner's job events.

In a terminal, a live table: the current play and task, then one row per host (its current task
and outcome), failed hosts first. Outside one (systemd, GitLab, a log file), plain timestamped
lines: at most one every ``interval`` seconds, plus one per failed host and a final one.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from socle.core.clock import utc_stamp

#: a host's outcome, worst first (the order rows are shown in)
OUTCOMES = ("failed", "unreachable", "running", "changed", "ok", "skipped", "waiting")
#: rows a terminal shows; the rest are counted in the totals line
MAX_ROWS = 40
RANK = {o: i for i, o in enumerate(OUTCOMES)}


@dataclass
class HostRow:
    task: str = ""
    worst: str = "waiting"
    running: bool = False

    @property
    def outcome(self) -> str:
        return "running" if self.running and self.worst not in ("failed", "unreachable") else self.worst


class Progress:
    """The live view of one playbook run."""

    def __init__(self, label: str, *, console: Console | None = None, interval: float = 10.0) -> None:
        self.label = label
        self.console = console or Console(stderr=True, soft_wrap=True)
        self.interval = interval
        self.play = ""
        self.task = ""
        self.hosts: dict[str, HostRow] = {}
        self._live: Live | None = None
        self._last_line = 0.0

    # -- the view -------------------------------------------------------------------------------

    def __enter__(self) -> Progress:
        if self.console.is_terminal:
            self._live = Live(self._render(), console=self.console, refresh_per_second=4, transient=True)
            self._live.__enter__()
        else:
            self._line(f"{self.label}: started")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None
        self._line(f"{self.label}: finished — {self.totals()}", force=True)

    def totals(self) -> str:
        counts = Counter(row.outcome for row in self.hosts.values())
        shown = ", ".join(f"{counts[o]} {o}" for o in OUTCOMES if counts[o])
        return f"{len(self.hosts)} host(s): {shown}" if self.hosts else "no host yet"

    def _render(self) -> Group:
        head = Text.assemble((self.label, "bold"), "  ", (self.play, "cyan"), "  ", self.task)
        table = Table(box=None, pad_edge=False, show_header=True, header_style="dim")
        table.add_column("host", no_wrap=True)
        table.add_column("outcome", no_wrap=True)
        table.add_column("task", overflow="ellipsis", no_wrap=True)
        rows = sorted(self.hosts.items(), key=lambda kv: (RANK[kv[1].outcome], kv[0]))
        style = {"failed": "red", "unreachable": "red", "changed": "yellow", "ok": "green", "running": "cyan"}
        for host, row in rows[:MAX_ROWS]:
            table.add_row(host, Text(row.outcome, style.get(row.outcome, "")), row.task)
        return Group(head, table, Text(self.totals(), style="dim"))

    def _line(self, text: str, *, force: bool = False) -> None:
        if self.console.is_terminal and not force:
            return
        now = time.monotonic()
        if force or now - self._last_line >= self.interval:
            self._last_line = now
            self.console.print(f"{utc_stamp()} {text}", markup=False, highlight=False)

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._render())

    # -- the events -----------------------------------------------------------------------------

    def on_play(self, name: str) -> None:
        self.play = name
        self._line(f"{self.label}: play {name}", force=True)
        self._refresh()

    def on_task(self, role: str, name: str) -> None:
        self.task = f"[{role}] {name}" if role else name
        self._line(f"{self.label}: {self.task} — {self.totals()}")
        self._refresh()

    def on_host(self, host: str, outcome: str, *, task: str = "", reason: str = "") -> None:
        """A host started a task (``running``) or finished one; its row keeps the worst outcome it met."""
        row = self.hosts.setdefault(host, HostRow())
        if task:
            row.task = task
        row.running = outcome == "running"
        if not row.running and RANK[outcome] < RANK[row.worst]:
            row.worst = outcome
        if outcome in ("failed", "unreachable"):
            self._line(f"{self.label}: {host} {outcome} at {row.task}: {reason}", force=outcome == "failed")
        self._refresh()
