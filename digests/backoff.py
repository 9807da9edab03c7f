"""The one backoff rule: how long to wait after failures in a row.

Used by the fetcher (retrying a 429/5xx), the poll schedule (a failing source is polled less
often) and the outbox (a message the platform did not take is sent again later).
"""

from __future__ import annotations


def backoff(
    base: float,
    failures: int,
    *,
    cap: float,
    retry_after: float | None = None,
    max_doublings: int = 32,
) -> float:
    """Seconds to wait after ``failures`` failures in a row (the first counts 1).

    ``base`` after the first failure, doubled after each further one (at most
    ``max_doublings`` times), never more than ``cap``. A wait the other side asked for
    (``Retry-After``, already checked by the caller) replaces the computed one.
    """
    if retry_after is not None:
        return max(0.0, retry_after)
    doublings = min(max(0, failures - 1), max_doublings)
    return min(cap, base * 2**doublings)
