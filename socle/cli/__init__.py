"""The glue behind tasks.py, one module per task family; :func:`guarded` turns errors into one line with a hint."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from invoke.exceptions import Exit

from socle.core import i18n
from socle.core.errors import SocleError

F = TypeVar("F", bound=Callable[..., Any])


def guarded(fn: F) -> F:
    """Turn :class:`SocleError` into a clean exit with its code; Ctrl-C says how to resume."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SocleError as exc:
            raise Exit(said(exc), code=exc.exit_code) from None
        except OSError as exc:  # a file the system refused that no check foresaw: one line, not a traceback
            where = f"{exc.filename}: " if exc.filename else ""
            raise Exit(f"error: {where}{exc.strerror or exc}", code=2) from None
        except KeyboardInterrupt:
            raise Exit("interrupted: re-run the same command to resume", code=130) from None

    return wrapper  # type: ignore[return-value]


def said(exc: SocleError) -> str:
    """The error as its reader reads it: French when SOCLE_LANG or the locale says so (CMIL)."""
    if i18n.language() != "fr":
        return f"error: {exc}"
    where = f"{exc.where} : " if exc.where else ""
    text = f"erreur : {where}{i18n.translate(exc.message)}"
    return text + (f"\n  solution : {i18n.translate(exc.hint)}" if exc.hint else "")


def whole_number(value: object, option: str, *, low: int = 0, high: int = 10**9) -> int:
    """A command-line number (invoke passes text): refused with the option's name when it is not one."""
    text = str(value).strip()
    if not text.isdigit() or not low <= int(text) <= high:
        raise SocleError(f"{option} '{text[:30]}' is not a whole number from {low} to {high}",
                         hint=f"for example {option} {max(low, 1)}")  # fmt: skip
    return int(text)
