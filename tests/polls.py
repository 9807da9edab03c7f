"""Waiting for a real :class:`~digests.ingest.polling.Poller`'s polls, which run in its threads."""

from __future__ import annotations

import time

from digests.ingest.polling import Poller


def wait_polled(poller: Poller, count: int, *, tick: bool = False, timeout: float = 30.0) -> None:
    """Wait until ``poller`` has finished ``count`` polls; fail the test after ``timeout`` s.

    ``tick``: tick it every round (sources it claims over several rounds); without, the
    polls already claimed (and the backlog its finishing workers claim themselves).
    """
    deadline = time.monotonic() + timeout
    while poller.polled < count and time.monotonic() < deadline:
        if tick:
            poller.tick()
        time.sleep(0.02)
    assert poller.polled == count, f"{poller.polled} of {count} polls finished in {timeout} s"
