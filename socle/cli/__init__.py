"""Glue between invoke tasks and the socle modules: one-line errors with a hint, never a traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from invoke.exceptions import Exit

from socle.errors import SocleError

F = TypeVar("F", bound=Callable[..., Any])


def guarded(fn: F) -> F:
    """Turn :class:`SocleError` into a clean exit with its code; Ctrl-C says how to resume."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SocleError as exc:
            raise Exit(f"error: {exc}", code=exc.exit_code) from None
        except KeyboardInterrupt:
            raise Exit("interrupted: re-run the same command to resume", code=130) from None

    return wrapper  # type: ignore[return-value]
