"""Scheduled source polling as work shared through the database (issue 14).

Each scheduled source has its next poll time in its row (``digests.store.sources``). A
:class:`Poller` — one per process — claims due sources in batches no larger than its free
workers, polls each with the process-wide fetcher on a bounded thread pool
(``digests.sources.poll_source``: fetch, pipeline, store, health) and records the next time. Many replicas on one PostgreSQL
divide the sources between them; a killed replica's claims run out after ``lease`` and the
others take them. Nothing here knows about a scheduler: the caller invokes :meth:`Poller.tick`
every few seconds (the bot's one APScheduler interval job), or :meth:`Poller.run_due` to poll
everything due once (tests, one-shot runs).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta

from digests.config import PollConfig, Settings, SourceConfig
from digests.fetch import Fetcher
from digests.pipeline import IngestReport
from digests.sources import make_fetcher, poll_source
from digests.store import Store
from digests.store.sources import SourceState

log = logging.getLogger(__name__)

DEFAULT_POLL_SECONDS = 30 * 60
_MAX_BACKOFF_SECONDS = 6 * 3600  # a failing source is retried at least this often


def next_poll(
    state: SourceState,
    claimed: datetime,
    finished: datetime,
    *,
    failed: bool,
    jitter: float,
) -> datetime:
    """When to poll again: one interval after the claim (a steady cadence, not drifting by
    the poll's own duration), doubled per failure in a row (capped), ± ``jitter``/2 of it to
    spread sources that came due together; never before the poll finished."""
    interval = float(state.poll_seconds or DEFAULT_POLL_SECONDS)
    failures = state.consecutive_failures + 1 if failed else 0
    if failures:
        interval = min(interval * 2 ** min(failures, 6), max(interval, _MAX_BACKOFF_SECONDS))
    spread = interval * random.uniform(-jitter / 2, jitter / 2)
    return max(claimed + timedelta(seconds=interval + spread), finished)


def as_config(state: SourceState, settings: Settings) -> SourceConfig:
    """The configured-source view of a scheduled row (what ``poll_source`` takes)."""
    if state.origin == "config":
        configured = next((s for s in settings.sources if s.name == state.name), None)
        if configured is not None:
            return configured
    minutes = max(1, (state.poll_seconds or DEFAULT_POLL_SECONDS) // 60)
    return SourceConfig(
        name=state.name,
        kind=state.kind,
        location=state.location,
        tags=state.tags,
        poll_minutes=minutes,
    )


class Poller:
    """One process's share of the polling: claim due sources, poll them on a bounded pool."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        owner: str,
        options: PollConfig | None = None,
        fetcher: Fetcher | None = None,
        clock: Callable[[], datetime],
        on_poll: Callable[[str, IngestReport], None] | None = None,
    ) -> None:
        self.store, self.settings, self.owner, self.clock = store, settings, owner, clock
        self.on_poll = on_poll  # told each finished poll (the bot's metrics count them)
        self.options = options or settings.poll  # [poll], validated at load
        self._own_fetcher = fetcher is None
        self.fetcher = fetcher or make_fetcher(settings)
        self._pool = ThreadPoolExecutor(self.options.workers, thread_name_prefix="poll")
        self._lock = threading.Lock()
        self._claiming = threading.Lock()
        self._running: set[Future[IngestReport]] = set()
        self._more = False  # the last claim was full: more sources may be due right now
        self._closed = False
        self.polled = 0  # sources polled by this process since it started

    @property
    def busy(self) -> int:
        """Sources being polled right now."""
        with self._lock:
            return len(self._running)

    def tick(self) -> int:
        """Claim as many due sources as there are free workers (≤ batch) and start them.

        While claims come back full, a worker that finishes claims again at once (a backlog
        drains at the workers' pace, not one batch per tick).
        """
        with self._claiming:
            if self._closed:
                return 0
            free = min(self.options.batch, self.options.workers - self.busy)
            if free <= 0:
                return 0
            now = self.clock()
            lease = timedelta(seconds=self.options.lease_seconds)
            claimed = self.store.sources.claim(self.owner, now=now, limit=free, lease=lease)
            self._more = len(claimed) == free
            for state in claimed:
                future = self._pool.submit(self._poll_one, state, now)
                with self._lock:
                    self._running.add(future)
                future.add_done_callback(self._done)
            return len(claimed)

    def run_due(self) -> IngestReport:
        """Poll every source due now, to the end (a one-shot run); the merged report."""
        total = IngestReport()
        while True:
            now = self.clock()
            claimed = self.store.sources.claim(
                self.owner,
                now=now,
                limit=self.options.batch,
                lease=timedelta(seconds=self.options.lease_seconds),
            )
            if not claimed:
                return total
            for report in self._pool.map(self._poll_one, claimed, [now] * len(claimed)):
                total.added.extend(report.added)
                total.unchanged += report.unchanged
                total.duplicates += report.duplicates
                total.failed.extend(report.failed)

    def _done(self, future: Future[IngestReport]) -> None:
        with self._lock:
            self._running.discard(future)
        if self._more and not self._closed:
            try:
                self.tick()
            except Exception:  # the next scheduled tick tries again
                log.exception("claiming more due sources failed")

    def _poll_one(self, state: SourceState, claimed: datetime) -> IngestReport:
        failed = True
        report = IngestReport()
        try:
            report = poll_source(
                self.store,
                self.settings,
                as_config(state, self.settings),
                now=self.clock(),
                fetcher=self.fetcher,
                state=state,
            )
            failed = report.error is not None
            log.info("poll %s: %s", state.name, report.line())
            if self.on_poll is not None:
                self.on_poll(state.name, report)
        except Exception:  # one source's bug must not stop the others (or this worker)
            log.exception("unexpected error polling %s", state.name)
        finally:
            with self._lock:
                self.polled += 1
            try:
                at = next_poll(
                    state, claimed, self.clock(), failed=failed, jitter=self.options.jitter
                )
                if not self.store.sources.finish(state.id, self.owner, next_poll_at=at):
                    log.warning("poll %s: claim expired before it finished", state.name)
            except Exception:
                log.exception("could not record the next poll of %s", state.name)
        return report

    def close(self, *, wait: bool = True) -> None:
        """Stop: finish (or drop) running polls, hand back unfinished claims, close the fetcher."""
        with self._claiming:
            self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=True)
        try:
            self.store.sources.release(self.owner, now=self.clock())
        finally:
            if self._own_fetcher:
                self.fetcher.close()
