"""Errors a person reads: what is wrong, where, and how to fix it. Never a traceback."""

from __future__ import annotations


class SocleError(Exception):
    """An expected failure (bad input, missing tool, failed step) with a location and a hint."""

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class NotImplementedYet(SocleError):
    """A task whose implementation belongs to a later issue: exits non-zero, never pretends."""

    exit_code = 3

    def __init__(self, task: str, issue: int) -> None:
        super().__init__(
            f"'{task}' is not implemented yet (tracked in issue #{issue})",
            hint="see README.md, section 'Status', for what works today",
        )


class StepFailed(SocleError):
    """An external command or pipeline step failed."""

    exit_code = 1
