"""Scheduled source polling as work shared through the database (issue 14).

Each scheduled source has its next poll time in its row (``digests.store.sources``). A
:class:`Poller` — one per process — claims due sources in batches no larger than its free
workers, polls each with the process-wide fetcher on a bounded thread pool
(``digests.ingest.sources.poll_source``: fetch, pipeline, store, health) and records the next time. Many replicas on one PostgreSQL
divide the sources between them; a killed replica's claims run out after ``lease`` and the
others take them. Nothing here knows about a scheduler: the caller invokes :meth:`Poller.tick`
every few seconds (the bot's one APScheduler interval job).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from digests.backoff import backoff
from digests.config import PollConfig, Settings
from digests.errors import Stopped, StoreUnavailable
from digests.ingest.due import DEFAULT_POLL_SECONDS, as_config
from digests.ingest.pipeline import IngestReport
from digests.ingest.sources import (
    FolderReads,
    SourceReport,
    make_fetcher,
    poll_source,
)
from digests.net.fetch import Fetcher
from digests.store import Store, unavailable
from digests.store.sources import Finished, Health, SourceState

log = logging.getLogger(__name__)

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
    if failures:  # the first failure already doubles the interval
        cap = max(interval, _MAX_BACKOFF_SECONDS)
        interval = backoff(interval, failures + 1, cap=cap, max_doublings=6)
    spread = interval * random.uniform(-jitter / 2, jitter / 2)
    return max(claimed + timedelta(seconds=interval + spread), finished)


def _database_fault(exc: BaseException) -> bool:
    """A passing database fault (locked, full, connection lost), not a bug."""
    return isinstance(exc, StoreUnavailable) or (
        isinstance(exc, SQLAlchemyError) and unavailable(exc)
    )


class Poller:
    """One process's share of the polling: claim due sources, poll them on a bounded pool.

    A poll's outcome — its health and its next time — is written when its claim is released,
    in one statement; polls that end while another thread is talking to the database are
    released together, with the next claim, in one transaction (:meth:`Sources.settle`).
    """

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
        reading_folders: FolderReads | None = None,
    ) -> None:
        self.store, self.settings, self.owner, self.clock = store, settings, owner, clock
        self.on_poll = on_poll  # told each finished poll (the bot's metrics count them)
        # Its turn is held around each folder poll: whoever else reads the folders in this
        # process (the bot's folder watcher) shares it, so a folder is never read twice at
        # once, and a poll passes over the files that reader just read.
        self._reading_folders = reading_folders
        self.options = options or settings.poll  # [poll], validated at load
        self._own_fetcher = fetcher is None
        self.fetcher = fetcher or make_fetcher(settings)
        self._configured = {s.name: s for s in settings.sources}
        self._pool = ThreadPoolExecutor(self.options.workers, thread_name_prefix="poll")
        self._lock = threading.Lock()
        self._claiming = threading.Lock()
        self._running: dict[Future[Finished], int] = {}  # poll under way → its source
        self._leases: dict[int, datetime] = {}  # sources polled here → when their claim ends
        self._names: dict[int, str] = {}  # sources polled here → their names (for the log)
        self._finished: list[Finished] = []  # polls over, claims not yet released
        self._more = False  # the last claim was full: more sources may be due right now
        self._closed = False
        # Set by close(): polls under way leave off between batches (digests.errors.Stopped).
        self._stopping = threading.Event()
        self.polled = 0  # sources polled by this process since it started

    def tick(self) -> int:
        """Release finished polls, claim as many due sources as there are free workers
        (≤ batch) and start them.

        While claims come back full, a worker that finishes claims again at once (a backlog
        drains at the workers' pace, not one batch per tick).
        """
        with self._claiming:
            started = self._exchange(claim=True)
        self._drain()
        return started

    def _exchange(self, *, claim: bool) -> int:
        """One transaction: release the finished polls' claims, claim more (lock held)."""
        now = self.clock()
        lease = timedelta(seconds=self.options.lease_seconds)
        with self._lock:
            finished, self._finished = self._finished, []
            free = min(self.options.batch, self.options.workers - len(self._running))
            # Polls under way past half their lease: claimed again for another lease, so a
            # slow poll is neither started twice here nor taken over by another replica.
            done = {f.source_id for f in finished}
            renew = [
                i for i, until in self._leases.items() if i not in done and until - now < lease / 2
            ]
        if self._closed or not claim:
            free = 0
        if not finished and free <= 0 and not renew:
            return 0
        try:
            lost, claimed = self.store.sources.settle(
                self.owner, finished, now=now, claim=max(free, 0), lease=lease, renew=renew
            )
        except Exception:
            with self._lock:  # try again with the next exchange (the lease is long)
                self._finished[:0] = finished
            raise
        if lost:
            self._lost(lost)
        if free > 0:
            self._more = len(claimed) == free
        started = 0
        with self._lock:
            for source_id in renew:
                if source_id in self._leases:
                    self._leases[source_id] = now + lease
            for source_id in done:
                self._leases.pop(source_id, None)
                self._names.pop(source_id, None)
        for state in claimed:
            with self._lock:
                if state.id in self._leases:  # still polled here (a renewal was missed)
                    self._leases[state.id] = now + lease
                    continue
                self._leases[state.id] = now + lease
                self._names[state.id] = state.name
            future = self._pool.submit(self._poll_one, state, now)
            with self._lock:
                self._running[future] = state.id
            future.add_done_callback(self._done)
            started += 1
        return started

    def _lost(self, lost: list[int]) -> None:
        """Say why finished polls' claims were not there to release: the source was removed
        while it was polled (`digestbot sources remove`: nothing wrong, its entries are not
        remembered), or the lease ran out and another replica took it."""
        try:
            still = self.store.sources.existing(lost)
        except Exception:  # only the wording depends on it
            still = set(lost)
        for source_id in lost:
            with self._lock:
                name = self._names.get(source_id)
            if source_id not in still:
                log.info("source %s was removed while it was polled; what the poll stored is "
                         "kept, its feed state is dropped", name or f"#{source_id}")  # fmt: skip
            else:
                log.warning("poll of source %s: claim expired before it finished",
                            name or source_id)  # fmt: skip

    def _done(self, future: Future[Finished]) -> None:
        with self._lock:
            source_id = self._running.pop(future, None)
            if not future.cancelled() and future.exception() is None:
                self._finished.append(future.result())
            elif source_id is not None:  # stopped or cancelled: close() hands the claim back
                self._leases.pop(source_id, None)
                self._names.pop(source_id, None)
        self._drain()

    def _drain(self) -> None:
        """Release pending finished polls (claiming more while claims come back full).

        Never waits for the claiming lock: its holder looks at what is pending again after
        letting go, so polls that end meanwhile are released together in its next round.
        """
        while True:
            with self._lock:
                if not self._finished:
                    return
            if not self._claiming.acquire(blocking=False):
                return
            try:
                self._exchange(claim=self._more)
            except Exception as exc:  # the next scheduled tick tries again
                if _database_fault(exc):
                    log.warning("recording finished polls: the database is unavailable (%s)", exc)
                else:
                    log.exception("recording finished polls or claiming more failed")
                return
            finally:
                self._claiming.release()

    def _poll_one(self, state: SourceState, claimed: datetime) -> Finished:
        return self._poll(state, claimed)[1]

    def _poll(self, state: SourceState, claimed: datetime) -> tuple[IngestReport, Finished]:
        failed = True
        report = IngestReport()
        health: Health | None = None
        try:
            reading: AbstractContextManager[object] = nullcontext()
            if state.kind == "folder" and self._reading_folders is not None:
                reading = self._reading_folders
            with reading:
                polled = poll_source(
                    self.store,
                    self.settings,
                    as_config(state, self.settings, self._configured),
                    now=self.clock(),
                    fetcher=self.fetcher,
                    state=state,
                    record=False,  # written below, with the claim's release
                    stop=self._stopping.is_set,
                    reads=self._reading_folders,
                )
            report, health = polled, polled.health
            failed = polled.error is not None
            # A source that failed says why here too (its files' and entries' failures have
            # their own lines): "1 failed" alone left the operator to ask `digestbot sources`.
            why = f": {polled.error}" if polled.error else ""
            log.info("poll %s: %s%s", state.name, report.line(), why)
        except Stopped:
            # Closing: nothing is recorded, close() hands the claim back (due again at once).
            log.info("poll %s: left off, the process is stopping", state.name)
            raise
        except Exception as exc:  # one source's bug must not stop the others (or this worker)
            if _database_fault(exc):  # passing: one line, and the next poll retries
                log.warning("poll %s: the database is unavailable (%s)", state.name, exc)
                health = Health(self.clock(), error=f"database unavailable: {exc}")
            else:
                log.exception("unexpected error polling %s", state.name)
                health = Health(self.clock(), error=f"internal error ({type(exc).__name__})")
            report = SourceReport(source=state.name, error=health.error)
        finally:
            with self._lock:
                self.polled += 1
        if self.on_poll is not None:  # every finished poll, failed as its health says
            self.on_poll(state.name, report)
        at = next_poll(state, claimed, self.clock(), failed=failed, jitter=self.options.jitter)
        return report, Finished(state.id, at, health)

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the polls under way (after :meth:`close`: they
        leave off at their next batch); whether none is left."""
        with self._lock:
            running = list(self._running)
        return not futures.wait(running, timeout=max(0.0, timeout)).not_done

    def close(self, *, wait: bool = True) -> None:
        """Stop: polls under way leave off between batches (or finish), queued ones are
        dropped, unfinished claims are handed back, the fetcher is closed."""
        self._stopping.set()
        with self._claiming:
            self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=True)
        try:
            with self._claiming:
                self._exchange(claim=False)  # record the polls that did finish
            self.store.sources.release(self.owner, now=self.clock())
        finally:
            if self._own_fetcher:
                self.fetcher.close()
