"""The one backoff rule (audit/backoff.py) and the three places that wait by it."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from audit.backoff import backoff_seconds
from audit.collect.imap import BACKOFF_BASE_S, BACKOFF_CAP_S, backoff_delay
from audit.collect.spool import RETRY_FIRST_S, RETRY_MAX_S, retry_delay
from audit.scheduler.closing import FIRST_RETRY, LONGEST_RETRY, _retry_delay


def test_the_wait_doubles_from_the_first_failure_up_to_the_cap() -> None:
    waits = [backoff_seconds(n, first=5, longest=60) for n in range(1, 7)]
    assert waits == [5, 10, 20, 40, 60, 60]
    assert backoff_seconds(0, first=5, longest=60) == 5  # no failure yet counts as the first
    assert backoff_seconds(10_000, first=5, longest=60) == 60  # no overflow however long it fails


@given(st.integers(1, 200), st.floats(0, 0.999999))
def test_jitter_stays_in_the_upper_half_of_the_doubled_wait(failures: int, draw: float) -> None:
    ceiling = backoff_seconds(failures, first=1, longest=300)
    jittered = backoff_seconds(failures, first=1, longest=300, jitter=lambda: draw)
    assert ceiling / 2 <= jittered <= ceiling


def test_imap_spool_and_report_retries_wait_by_the_same_rule() -> None:
    assert backoff_delay(3, rand=lambda: 0.999999) <= BACKOFF_BASE_S * 4 <= BACKOFF_CAP_S
    assert backoff_delay(3, rand=lambda: 0.0) == BACKOFF_BASE_S * 2
    assert retry_delay(1) == timedelta(seconds=RETRY_FIRST_S)
    assert retry_delay(100) == timedelta(seconds=RETRY_MAX_S)
    assert _retry_delay(2) == 2 * FIRST_RETRY
    assert _retry_delay(100) == LONGEST_RETRY
