"""The one backoff rule (fetch retries, poll schedule, outbox)."""

from __future__ import annotations

import math

from digests.backoff import backoff


def test_base_after_the_first_failure_then_doubling_up_to_the_cap() -> None:
    waits = [backoff(15, n, cap=3600) for n in range(0, 10)]
    assert waits == [15, 15, 30, 60, 120, 240, 480, 960, 1920, 3600]


def test_what_the_other_side_asked_for_wins_and_is_never_negative() -> None:
    assert backoff(15, 9, cap=3600, retry_after=2.5) == 2.5
    assert backoff(15, 1, cap=3600, retry_after=-4) == 0.0


def test_doublings_are_bounded_whatever_the_count() -> None:
    assert backoff(60, 10**9, cap=math.inf, max_doublings=6) == 60 * 64
    assert backoff(1, 10**9, cap=math.inf) == 2.0**32  # no overflow, no huge power
