"""A bounded pool for `/brief` work, with back-pressure instead of an unbounded queue.

Slack wants an ack within 3 s and the answer "within a second or two" (README). A brief is
CPU and database work (threads help while a brief waits on the database), so answers to a
burst queue up.
Unbounded, that queue made answers arrive minutes late (issue #16: p99 100 s at 100 in
flight). Here at most ``workers`` briefs run and at most ``waiting`` more wait; a request
beyond that is told at once, in its ack, that the bot is busy and to try again shortly.

Admission happens in the ack (:meth:`WorkPool.admit`, keyed by the request), the work in the
lazy listener (:meth:`WorkPool.run` with the same key), so the ack can say "busy" right away.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

BUSY = ":hourglass: Busy answering other requests — try again shortly."


class WorkPool:
    """At most ``workers`` jobs at once and ``waiting`` queued; the rest are refused."""

    def __init__(self, workers: int = 6, waiting: int = 14) -> None:
        self.workers, self.waiting = workers, waiting
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="brief")
        self._lock = threading.Lock()
        self._admitted: set[str] = set()
        self.refused = 0  # requests told "busy" since start (for logs and metrics)

    @property
    def capacity(self) -> int:
        """Jobs admitted at most: running plus waiting."""
        return self.workers + self.waiting

    def admit(self, key: str) -> bool:
        """Reserve a place for the job ``key``; False when the pool is full (answer busy)."""
        with self._lock:
            if key in self._admitted:
                return True
            if len(self._admitted) >= self.capacity:
                self.refused += 1
                return False
            self._admitted.add(key)
            return True

    def admitted(self, key: str) -> bool:
        """Whether ``key`` holds a place (its work should run)."""
        with self._lock:
            return key in self._admitted

    async def run(self, key: str, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Run ``fn`` on a worker thread for the admitted job ``key``; frees its place after."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._executor, functools.partial(fn, *args, **kwargs)
            )
        finally:
            with self._lock:
                self._admitted.discard(key)

    def release(self, key: str) -> None:
        """Give back a place whose work will not run."""
        with self._lock:
            self._admitted.discard(key)

    def close(self) -> None:
        """Stop the worker threads (running jobs finish)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
