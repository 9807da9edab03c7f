"""Scheduling jobs: subscriptions → APScheduler cron jobs, one source-poll job, the outbox.

Subscriptions live in our tables, not in APScheduler's job store (docs/ARCHITECTURE.md): the
in-memory AsyncIOScheduler is rebuilt from the ``subscriptions`` table at every start, so
several replicas may each run one; the database claim per (subscription, slot) decides who
posts. *When* a slot is due is pure arithmetic in :mod:`bot.slots`; *what* a run does is the
``deliver_digest`` use case in :mod:`bot.deliver`; sending is the process's one
:class:`~bot.sweep.Sweeper`.

A platform may need each subscription to name its workspace (``team_id``: Slack with OAuth
installs posts with the token of the workspace it names; ``Platform.team_required``); a
config subscription of it that names none is skipped at start, with one warning line, instead
of failing at every send.

A database fault at a slot's due instant (PostgreSQL down, SQLite locked or full) does not
lose the slot: the job remembers it, and a job every ``sweep_every`` seconds runs it as soon
as the database takes writes again — not only at the next start (issue 25). Every job logs a
database fault as one line, not a traceback per tick.

Sources: one interval job (every ``[poll] tick_seconds``) asks ``digests.ingest.polling.Poller`` to
claim due sources from the database, however many sources there are; the database decides
which replica polls which source (docs/ARCHITECTURE.md, "Work shared between processes").

Learned topics: a job every ``TOPICS_EVERY`` seconds tags what polling stored with the topic
model and refits it when enough is new (``digests.refit.refresh_after``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import SQLAlchemyError

from bot.deliver import (
    DigestTarget,
    Renderer,
    RunResult,
    deliver_digest,
    in_thread,
    queue_digest,
)
from bot.digestcache import DigestCache
from bot.folderwatch import FolderWatch
from bot.render import counted
from bot.slots import latest_slot, normalize_slot, trigger_for
from bot.sweep import DEFAULT_TIMINGS, DeliveryReport, Pacer, Sender, Sweeper, Timings
from digests.config import Settings
from digests.errors import DigestError, StoreUnavailable
from digests.ingest.pipeline import IngestReport
from digests.ingest.polling import Poller
from digests.ingest.sources import FolderReads
from digests.models import RunStatus
from digests.net.fetch import Fetcher
from digests.store import Store, unavailable
from digests.store.outbox import PRUNE_BATCH
from digests.store.subscriptions import Subscription

log = logging.getLogger(__name__)
RUN_THREADS = 2  # digest runs composing and queueing at once, per process
TOPICS_EVERY = 300  # seconds between learned-topic refreshes (digests/refit.py) in serve
# How often the runs job deletes finished outbox rows past [digest] sent_kept_days (one
# batch; while a batch comes back full, another at each tick of the job).
PRUNE_EVERY = timedelta(hours=1)
# Why a config subscription no longer in subscriptions.toml is disabled (not deleted: put back
# in the file, it goes on from its watermark).
REMOVED_FROM_CONFIG = "removed from subscriptions.toml"
# Start-up waits this long for the first ingest of the folders (then it goes on in the
# background: /readyz says not ready and /brief waits until it is over).
FIRST_INGEST_WAIT = 20.0

__all__ = [
    "DigestScheduler", "Renderer", "RunResult", "latest_slot", "normalize_slot",
    "target_of", "trigger_for",
]  # fmt: skip


def target_of(sub: Subscription, max_stories: int | None = None) -> DigestTarget:
    """A subscription's digests: its own watermark, topics and channel."""
    return DigestTarget(
        sub.name, ((sub.platform, sub.channel),), topics=sub.topics, thread=sub.thread,
        max_stories=max_stories,
    )  # fmt: skip


def _database_fault(exc: BaseException) -> bool:
    """A passing database fault (locked, full, connection lost, server down), not a bug."""
    if isinstance(exc, StoreUnavailable):
        return True
    return isinstance(exc, SQLAlchemyError) and unavailable(exc)


def _one_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


def _run_detail(result: RunResult) -> str:
    if result.status == "queued":
        articles = counted(len(result.articles), "article")
        return f" ({articles} in {counted(result.messages, 'message')})"
    if result.status == "empty":
        return " (nothing new: nothing posted)"
    if result.status == "skipped":
        return " (already run by another replica or an earlier run)"
    return f" ({result.error})" if result.error else ""


class DigestScheduler:
    """The bot's AsyncIOScheduler: digest, poll and outbox jobs, all on the server's loop."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        renderers: Mapping[str, Renderer],
        senders: Mapping[str, Sender],
        owner: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        pacer: Pacer | None = None,
        poll_sources: bool = True,
        fetcher: Fetcher | None = None,
        on_poll: Callable[[str, IngestReport], None] | None = None,
        timings: Timings = DEFAULT_TIMINGS,
        team_required: Mapping[str, str] | None = None,
    ) -> None:
        """``team_required``: the platforms whose subscriptions must name their workspace,
        each with why (``Platform.team_required``): one without a ``team_id`` is not run."""
        self.store, self.settings = store, settings
        self.team_required = dict(team_required or {})
        self.renderers, self.senders = dict(renderers), senders
        self.owner, self.clock = owner, clock
        self.timings = timings
        # The one deliverer of this process: the 5-second job and every run share it.
        self.sweeper = Sweeper(
            store, senders, owner=owner, now=lambda: self.clock(), pacer=pacer, timings=timings
        )
        self.poll_sources = poll_sources
        self._topics_seen: int | None = None  # newest article the topics job has tagged
        self._topics_failing: str | None = None  # the topics job's error while it lasts
        # One fetcher for every poll job of this process: its per-host limit is process-wide.
        self._fetcher = fetcher
        self.poller: Poller | None = None
        # Set when the process is asked to stop (request_stop, shutdown): start-up and the
        # ingests under way leave off (what is stored is kept).
        self._stopping = threading.Event()
        self.folder_watch: FolderWatch | None = None  # files dropped into folders (start())
        self.on_poll = on_poll  # e.g. Metrics.poll_done (called from poll threads)
        self.grace = timedelta(seconds=settings.misfire_grace_seconds)
        # Digest runs composing at once. 1,000 subscriptions due together otherwise queue
        # 1,000 compose steps on the loop's few worker threads, and every outbox claim and
        # pace reservation of the sweeper waits behind all of them: nothing is sent until
        # the last digest is queued.
        self._composing = asyncio.Semaphore(RUN_THREADS)
        # One tagging pass at a time: a digest's _tag_new, and the topics job's refit and tag.
        # Together, the old model could overwrite tags the refit had just written, and the
        # watermark (the max of both) then skipped re-tagging them; a digest due during a
        # refit waits for it and tags with the new model.
        self._tagging = asyncio.Lock()
        # ...and runs of one slot compose and render the same digest once (bot.digestcache).
        self.digests = DigestCache()
        # Their database steps run in threads of their own: on the loop's shared threads
        # they queued behind the sweeper's (pace reservations, sent rows), and with
        # composing cached a run is mostly database round trips (docs/lab/history.md).
        self._runs = ThreadPoolExecutor(RUN_THREADS, thread_name_prefix="digest-run")
        # Slots whose run a database fault stopped: subscription → when first missed.
        self.missed: dict[str, datetime] = {}
        self._pruned_at: datetime | None = None  # when the outbox retention last ran dry
        # Grace time set explicitly: APScheduler's default (1 s) drops a run missed in a restart.
        self.scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={
                "misfire_grace_time": settings.misfire_grace_seconds,
                "coalesce": True,
                "max_instances": 1,
            },
        )

    # -- subscriptions ------------------------------------------------------------------------

    def sync_config(self) -> list[Subscription]:
        """Write config subscriptions into the store (``origin="config"``); new ones start now.

        Those naming no workspace where their platform needs one (``team_required``) are
        skipped, with one warning per platform.
        A config subscription no longer in the file is disabled (one line), and enabled again
        when it is put back.
        """
        now = self.clock()
        out = []
        skipped: dict[str, list[str]] = {}  # platform → its subscriptions skipped
        for sub in self.settings.subscriptions:
            if sub.platform in self.team_required and not sub.team_id:
                skipped.setdefault(sub.platform, []).append(sub.name)
        for platform, names in skipped.items():
            why = self.team_required[platform]
            log.warning(
                "config subscription(s) %s skipped: %s",
                ", ".join(names),
                why.format(file=self.settings.config_dir / "subscriptions.toml"),
            )
        for sub in self.settings.subscriptions:
            if sub.name in skipped.get(sub.platform, ()):
                continue
            existing = self.store.subscriptions.get(sub.name)
            out.append(
                self.store.subscriptions.upsert(
                    sub.name,
                    platform=sub.platform,
                    channel=sub.channel,
                    topics=sub.topics,
                    cron=sub.cron,
                    timezone=sub.timezone,
                    origin="config",
                    now=now,
                    watermark=None if existing else self.store.articles.latest_id(),
                    thread=sub.thread,
                    team_id=sub.team_id,
                    clear_team=True,  # the file is the truth: a team_id removed there goes
                )
            )
            if (
                existing
                and not existing.enabled
                and existing.disabled_reason == REMOVED_FROM_CONFIG
            ):
                self.store.subscriptions.enable(sub.name)
                out[-1] = dataclasses.replace(out[-1], enabled=True, disabled_reason=None)
        named = {sub.name for sub in self.settings.subscriptions}
        for stored in self.store.subscriptions.all(enabled_only=True):
            if stored.origin == "config" and stored.name not in named:
                self.store.subscriptions.disable(stored.name, REMOVED_FROM_CONFIG)
                log.info("subscription %s: %s, no more digests", stored.name, REMOVED_FROM_CONFIG)
        return out

    def runnable(self, sub: Subscription) -> bool:
        """This process can run ``sub``: enabled, a renderer for its platform and, where the
        platform needs one (``team_required``), a workspace to post with."""
        if not sub.enabled or sub.platform not in self.renderers:
            return False
        return not (sub.platform in self.team_required and not sub.team_id)

    def schedule(self, sub: Subscription) -> None:
        """(Re)schedule a subscription's digest job, or drop it when it cannot run."""
        if not self.runnable(sub):
            self.unschedule(sub.name)
            return
        trigger = trigger_for(sub)
        self.scheduler.add_job(
            self._digest_job,
            trigger,
            args=[sub.name],
            id=f"digest:{sub.name}",
            name=f"digest {sub.name}",
            replace_existing=True,
            # The first slot after now, not after the scheduler starts: start() schedules,
            # reads the folders (up to FIRST_INGEST_WAIT) and catches up before it starts the
            # scheduler, and a slot that came meanwhile was neither caught up (its clock was
            # read before the slot) nor run (APScheduler computed the next one after it).
            # Due when the scheduler starts, it runs then, late within the grace time.
            next_run_time=trigger.get_next_fire_time(None, self.clock()),
        )

    def unschedule(self, name: str) -> None:
        """Remove a subscription's job if it is scheduled."""
        if self.scheduler.get_job(f"digest:{name}"):
            self.scheduler.remove_job(f"digest:{name}")

    # -- jobs ---------------------------------------------------------------------------------

    def _target(self, sub: Subscription) -> DigestTarget:
        return target_of(sub, self.settings.digest_max_stories)

    async def run_slot(
        self, name: str, now: datetime, *, within: timedelta | None = None
    ) -> RunResult | None:
        """Run the digest of ``name`` for its latest slot at ``now`` (no older than ``within``,
        default the misfire grace), then sweep the outbox."""
        sub = await in_thread(self._runs, self.store.subscriptions.get, name)
        if sub is None or not self.runnable(sub):
            return None
        slot = latest_slot(sub, now, within=within or self.grace)
        if slot is None:
            return None
        await self._tag_new()

        def said(result: RunResult) -> None:
            # One line per run (the sends have theirs: bot.sweep), also when nothing was new;
            # a queued run's before its parts are swept, so it precedes their `sent` lines.
            log.info(
                "digest %s for %s: %s%s", name, slot.isoformat(timespec="minutes"),
                result.status, _run_detail(result),
            )  # fmt: skip

        result = await deliver_digest(
            self.store, self._target(sub), now=lambda: now, renderers=self.renderers,
            sweeper=self.sweeper, owner=self.owner, slot=slot, gate=self._composing,
            cache=self.digests, executor=self._runs, subscription_id=sub.id, on_queued=said,
        )  # fmt: skip
        if result.status != RunStatus.QUEUED:
            said(result)
        return result

    async def _digest_job(self, name: str) -> None:
        now = self.clock()
        try:
            await self.run_slot(name, now)
        except Exception as exc:
            if not _database_fault(exc):
                raise
            self.missed.setdefault(name, now)
            log.warning(
                "digest %s: the slot due at %s was not run, the database is unavailable (%s); "
                "it runs as soon as the database is back", name,
                now.isoformat(timespec="seconds"), _one_line(exc),
            )  # fmt: skip

    async def catch_up_missed(self) -> list[RunResult]:
        """Run the slots a database fault stopped, now that (if) the database is back."""
        results: list[RunResult] = []
        for name, since in list(self.missed.items()):
            now = self.clock()
            try:
                # The missed slot, however long the outage lasted (or a newer one).
                result = await self.run_slot(name, now, within=self.grace + (now - since))
            except Exception as exc:
                if not _database_fault(exc):
                    raise
                return results  # still unavailable: the next tick tries again
            self.missed.pop(name, None)
            status = result.status if result else "nothing due"
            log.info("digest %s: slot missed at %s caught up: %s", name,
                     since.isoformat(timespec="seconds"), status)  # fmt: skip
            if result is not None:
                results.append(result)
        return results

    async def _quietly(self, job: str, work: Callable[[], Awaitable[object]]) -> None:
        """Run a periodic job; a database fault is one warning line (it runs again next tick)."""
        try:
            await work()
        except Exception as exc:
            if not _database_fault(exc):
                raise
            log.warning("%s: the database is unavailable (%s); trying again next tick", job,
                        _one_line(exc))  # fmt: skip

    async def _outbox_job(self) -> None:
        await self._quietly("outbox", self.send_outbox)

    async def _runs_job(self) -> None:
        await self._quietly("take-over", self.take_over_runs)
        await self._quietly("missed slots", self.catch_up_missed)
        await self._quietly("outbox retention", self.prune_outbox)

    async def prune_outbox(self) -> int:
        """Delete one batch of finished outbox rows queued more than ``[digest]
        sent_kept_days`` ago (digests/store/outbox.py: ``prune_finished``); how many. Runs
        at most every :data:`PRUNE_EVERY`, or at each tick while batches come back full."""
        now = self.clock()
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return 0
        kept = timedelta(days=self.settings.sent_kept_days)
        deleted = await in_thread(self._runs, self.store.outbox.prune_finished, now, kept=kept)
        self._pruned_at = None if deleted >= PRUNE_BATCH else now
        if deleted:
            log.info("outbox: deleted %d sent part(s) queued before %s", deleted,
                     (now - kept).date().isoformat())  # fmt: skip
        return deleted

    async def catch_up(self) -> list[RunResult]:
        """One run per subscription whose latest slot (within the grace window) is unclaimed."""
        now = self.clock()
        results = []
        for sub in await asyncio.to_thread(self.store.subscriptions.all, enabled_only=True):
            if self.runnable(sub):
                result = await self.run_slot(sub.name, now)  # logs its line
                if result is not None and result.run_id is not None:
                    results.append(result)
        return results

    async def take_over_runs(self) -> list[RunResult]:
        """Queue the runs other replicas claimed and never queued (they died in between).

        A run still ``claimed`` a lease after its claim is taken over (database-guarded: one
        taker, and the old claimer can no longer commit it) if it was claimed within the
        misfire grace window, then the outbox is swept.
        """
        now = self.clock()
        taken = await asyncio.to_thread(
            self.store.runs.take_over,
            owner=self.owner,
            now=now,
            stale=now - timedelta(seconds=self.timings.lease),
            since=now - self.grace,
        )
        results = []
        for run_id, name in taken:
            sub = await asyncio.to_thread(self.store.subscriptions.get, name)
            if sub is None or not sub.enabled or sub.platform not in self.renderers:
                await asyncio.to_thread(
                    self.store.runs.finish_run,
                    run_id,
                    status=RunStatus.SKIPPED,
                    owner=self.owner,
                )
                continue
            result = await asyncio.to_thread(
                queue_digest, self.store, self._target(sub), run_id, now=now,
                renderers=self.renderers, owner=self.owner,
            )  # fmt: skip
            log.info("digest %s (run %d) taken over from a dead replica: %s", name, run_id,
                     result.status)  # fmt: skip
            results.append(result)
        if results:
            await self.sweeper.sweep()
        return results

    async def send_outbox(self) -> DeliveryReport:
        """Deliver what is due in the outbox (the one sweeper: a running sweep looks again)."""
        return await self.sweeper.sweep()

    async def _poll_job(self) -> None:
        """Claim due sources for this process's free poll workers (they run in threads)."""
        if self.poller is not None:
            poller = self.poller
            await self._quietly("poll", lambda: asyncio.to_thread(poller.tick))

    async def _tag_new(self) -> None:
        """Before a digest composes: tag what was stored since the topics job last ran with
        the learned model (no refit), so a topic digest sees an article polled a minute
        before its slot as the topic it is about (runs of one slot share one pass; a refit
        under way is waited for, and its model used)."""
        if not self.settings.topics:
            return
        from digests.refit import tag_new

        async with self._tagging:
            try:
                _, seen = await in_thread(
                    self._runs, tag_new, self.store, self.settings.topics,
                    watermark=self._topics_seen,
                )  # fmt: skip
            except Exception as exc:
                if not (_database_fault(exc) or isinstance(exc, DigestError)):
                    raise
                log.warning("topics: tagging new articles before a digest failed (%s); the "
                            "digest uses the tags they have", _one_line(exc))  # fmt: skip
                return
            if seen is not None:  # None: nothing tagged, and refresh_after knows where to start
                self._topics_seen = max(seen, self._topics_seen or 0)

    async def _topics_job(self) -> None:
        """Tag what polling stored with the learned topics; refit them when enough is new."""
        from digests.refit import refresh_after

        try:
            async with self._tagging:  # never beside a digest's _tag_new (see __init__)
                report, seen = await asyncio.to_thread(
                    refresh_after, self.store, self.settings.topics, now=self.clock(),
                    watermark=self._topics_seen,
                )  # fmt: skip
                self._topics_seen = max(seen, self._topics_seen or 0)  # never back
        except Exception as exc:
            # A locked or unreachable database, an encoder that failed: one line when it
            # starts (not a traceback every tick); the next tick tries again, from the same
            # articles (the watermark stays).
            if not (_database_fault(exc) or isinstance(exc, DigestError)):
                raise
            error = _one_line(exc)
            if error != self._topics_failing:
                log.warning("topics: refit or tagging failed (%s); trying again every %d s",
                            error, TOPICS_EVERY)  # fmt: skip
            self._topics_failing = error
            return
        if self._topics_failing is not None:
            log.info("topics: refit and tagging work again")
            self._topics_failing = None
        if report.fitted or report.busy:
            log.info("%s", report.line())

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Sync config, schedule everything, catch up on missed slots, start the scheduler."""
        await asyncio.to_thread(self.sync_config)
        for sub in await asyncio.to_thread(self.store.subscriptions.all, enabled_only=True):
            if self.runnable(sub):
                self.schedule(sub)
        if self.poll_sources:
            # What is in the folders first (a brief right after start-up sees it), then every
            # file dropped there within seconds.
            # One turn for reading the folders: a first ingest longer than start-up waits
            # (or one of a file just dropped) and the poller's claimed folder polls take
            # turns, never reading the same files at once (each would store what the other
            # did and record it a duplicate of itself), and each passes over the files
            # another read unchanged: the first poll and the watcher's rescan, right after
            # the first ingest, read nothing it read. Feeds and pages do not wait.
            reading = FolderReads()
            self.folder_watch = FolderWatch(
                self.store, self.settings, clock=self.clock, reading=reading
            )
            self.folder_watch.start()
            await asyncio.to_thread(self.folder_watch.wait, FIRST_INGEST_WAIT)
            if self._stopping.is_set():  # stopped while reading the folders: start nothing
                log.info("stopping during start-up: nothing polled or posted")
                return
            # sources.toml seeds the schedule; `digestbot sources add` rows are kept.
            await asyncio.to_thread(
                self.store.sources.seed, self.settings.sources, now=self.clock()
            )
            self.poller = Poller(
                self.store,
                self.settings,
                owner=self.owner,
                fetcher=self._fetcher,
                clock=self.clock,
                on_poll=self.on_poll,
                reading_folders=reading,
            )
            self.scheduler.add_job(
                self._poll_job,
                IntervalTrigger(seconds=self.poller.options.tick_seconds),
                id="poll",
                replace_existing=True,
                next_run_time=self.clock(),  # claim what is due at start, then every tick
            )
        self.scheduler.add_job(
            self._outbox_job,
            IntervalTrigger(seconds=self.timings.sweep_every),
            id="outbox",
            replace_existing=True,
        )
        self.scheduler.add_job(
            self._runs_job,
            IntervalTrigger(seconds=max(self.timings.lease / 3, self.timings.sweep_every)),
            id="runs",
            replace_existing=True,
        )
        if self.settings.topics:
            self.scheduler.add_job(
                self._topics_job,
                IntervalTrigger(seconds=TOPICS_EVERY),
                id="topics",
                replace_existing=True,
            )
        await self.catch_up()
        self.scheduler.start()

    @property
    def ingested(self) -> bool:
        """The first ingest of the folders is over (or this process reads no sources)."""
        return self.folder_watch is None or self.folder_watch.ingested.is_set()

    def wait_ingested(self, timeout: float = 60.0) -> bool:
        """Wait (in a worker thread) up to ``timeout`` seconds for the first ingest."""
        return self.folder_watch is None or self.folder_watch.wait(timeout)

    def request_stop(self) -> None:
        """The process was asked to stop (a signal, before the server's own shutdown): the
        start-up wait for the first ingest ends, and that ingest leaves off at its next batch.
        Safe from a signal handler: it only sets events."""
        self._stopping.set()
        if self.folder_watch is not None:
            self.folder_watch.stop()

    def shutdown(self) -> None:
        """Stop the scheduler without waiting for running jobs; hand back unfinished polls
        (polls and the folder ingest under way leave off at their next batch)."""
        self.request_stop()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self.poller is not None:
            self.poller.close(wait=False)  # closes the fetcher too, unless it was passed in
        self._runs.shutdown(wait=False)

    def wait_stopped(self, timeout: float) -> bool:
        """After :meth:`shutdown`, wait (off the loop) up to ``timeout`` seconds for the
        ingest threads to leave off — the batch being stored is committed, not cut off by
        the process's exit; whether they did."""
        deadline = time.monotonic() + timeout
        if self.folder_watch is not None:
            self.folder_watch.stop(timeout)
        done = self.folder_watch is None or not self.folder_watch.running
        if self.poller is not None:
            done = self.poller.wait(deadline - time.monotonic()) and done
        return done

    def join(self) -> None:
        """After :meth:`shutdown`, wait (off the loop) for digest runs still in their threads.

        Close the store only after this: a run that returns its connection to a pool the
        store has already disposed of leaves that connection open until garbage collection.
        """
        self._runs.shutdown(wait=True)
