"""The glue behind tasks.py, one module per task family; :func:`guarded` turns errors into one line with a hint."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from invoke.exceptions import Exit

from socle.core.errors import SocleError

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
