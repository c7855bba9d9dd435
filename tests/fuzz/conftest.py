"""The fuzz suite's budget: a fixed number of generated cases per target, each bounded in time.

``SOCLE_FUZZ_EXAMPLES`` (default 25) sets how many cases each target gets: the whole suite stays
within about two minutes in CI. Raise it on a workstation for a deeper search; Hypothesis keeps the
failing cases it found in ``.hypothesis/`` and replays them first.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator

from hypothesis import HealthCheck, settings

settings.register_profile(
    "socle",
    max_examples=int(os.environ.get("SOCLE_FUZZ_EXAMPLES", "25")),
    deadline=None,  # the bound is CASE_SECONDS below: a hang fails, a slow machine does not
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
    derandomize=bool(os.environ.get("CI")),  # CI replays the same cases: a red CI is reproducible
    print_blob=True,
)
settings.load_profile("socle")

#: no generated case may take longer than this: a hang (billion laughs, a regex) is a failure
CASE_SECONDS = 20


@contextlib.contextmanager
def bounded(seconds: int = CASE_SECONDS) -> Iterator[None]:
    """Fail the case that runs longer than ``seconds`` (SIGALRM, main thread)."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"a generated case ran longer than {seconds} s (a hang)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
