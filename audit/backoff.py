"""The one backoff rule: wait `first` after the first failure, doubling up to `longest`.

Used by the IMAP watcher's reconnects (with jitter: many servers restarting at once should not reconnect in
step), the webhook spool's retries and the report deliveries' retries (without: one row, one schedule).
"""

from __future__ import annotations

from collections.abc import Callable

_MAX_DOUBLINGS = 32  # 2**32 times the first delay is past any cap; the exponent stays a small integer


def backoff_seconds(
    failures: int, *, first: float, longest: float, jitter: Callable[[], float] | None = None
) -> float:
    """Seconds to wait after `failures` failures in a row (1 or more).

    With `jitter` (a source of numbers in [0, 1), e.g. `random.random`) the wait is drawn from the upper half
    of the doubled delay, so it never falls below half of it.
    """
    ceiling = min(longest, first * 2.0 ** min(max(failures, 1) - 1, _MAX_DOUBLINGS))
    return ceiling if jitter is None else ceiling / 2 + jitter() * ceiling / 2
