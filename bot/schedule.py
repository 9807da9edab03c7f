"""Scheduling jobs: subscriptions → APScheduler cron jobs, one source-poll job, the outbox.

Schedules live in our tables, not in APScheduler's job store (docs/ARCHITECTURE.md): the
in-memory AsyncIOScheduler is rebuilt from the ``subscriptions`` table at every start, so
several replicas may each run one; the database claim per (subscription, slot) decides who
posts. *When* a slot is due is pure arithmetic in :mod:`bot.slots`; *what* a run does is the
``deliver_digest`` use case in :mod:`bot.deliver`; sending is the process's one
:class:`~bot.sweep.Sweeper`.

With OAuth installs (many Slack workspaces) a Slack subscription posts with the token of the
workspace it names (``team_id``); a config subscription that names none is skipped at start,
with one warning line, instead of failing at every send.

Sources: one interval job (every ``[poll] tick_seconds``) asks ``digests.polling.Poller`` to
claim due sources from the database, however many sources there are; the database decides
which replica polls which source (docs/ARCHITECTURE.md, "Work shared between processes").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.deliver import (
    DigestTarget,
    Renderer,
    RunResult,
    deliver_digest,
    in_thread,
    queue_digest,
)
from bot.digestcache import DigestCache
from bot.render.slack import rekey as slack_rekey
from bot.slots import latest_slot, normalize_slot, trigger_for
from bot.sweep import DEFAULT_TIMINGS, DeliveryReport, Pacer, Sender, Sweeper, Timings
from digests.config import Settings
from digests.fetch import Fetcher
from digests.pipeline import IngestReport
from digests.polling import Poller
from digests.store import Store
from digests.store.schedules import Subscription

log = logging.getLogger(__name__)
RUN_THREADS = 2  # digest runs composing and queueing at once, per process

__all__ = [
    "DigestScheduler", "Renderer", "RunResult", "latest_slot", "normalize_slot", "run_digest",
    "target_of", "trigger_for",
]  # fmt: skip


def target_of(sub: Subscription, max_stories: int | None = None) -> DigestTarget:
    """A subscription's digests: its own watermark, topics and channel."""
    return DigestTarget(
        sub.name, ((sub.platform, sub.channel),), topics=sub.topics, thread=sub.thread,
        max_stories=max_stories,
    )  # fmt: skip


def run_digest(
    store: Store,
    settings: Settings,
    subscription: Subscription,
    scheduled_for: datetime,
    *,
    now: datetime,
    owner: str,
    renderers: Mapping[str, Renderer],
) -> RunResult:
    """Claim one slot and queue its digest (no sending): ``deliver_digest`` without the sweep."""
    run_id = store.schedules.claim(subscription.id, scheduled_for, owner=owner, now=now)
    if run_id is None:
        return RunResult(None, "skipped")
    target = target_of(subscription, settings.digest_max_stories)
    return queue_digest(store, target, run_id, now=now, renderers=dict(renderers))


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
        slack_team_required: bool = False,
    ) -> None:
        """``slack_team_required``: Slack runs with OAuth installs, so a Slack subscription
        without a ``team_id`` has no token to post with and is not run."""
        self.store, self.settings = store, settings
        self.slack_team_required = slack_team_required
        self.renderers, self.senders = dict(renderers), senders
        self.owner, self.clock = owner, clock
        self.timings = timings
        # The one deliverer of this process: the 5-second job and every run share it.
        self.sweeper = Sweeper(
            store, senders, owner=owner, now=lambda: self.clock(), pacer=pacer, timings=timings
        )
        self.poll_sources = poll_sources
        # One fetcher for every poll job of this process: its per-host limit is process-wide.
        self._fetcher = fetcher
        self.poller: Poller | None = None
        self.on_poll = on_poll  # e.g. Metrics.poll_done (called from poll threads)
        self.grace = timedelta(seconds=settings.misfire_grace_seconds)
        # Digest runs composing at once. 1,000 subscriptions due together otherwise queue
        # 1,000 compose steps on the loop's few worker threads, and every outbox claim and
        # pace reservation of the sweeper waits behind all of them: nothing is sent until
        # the last digest is queued.
        self._composing = asyncio.Semaphore(RUN_THREADS)
        # ...and runs of one slot compose and render the same digest once (bot.digestcache).
        self.digests = DigestCache(rekey={"slack": slack_rekey, "slack:thread": slack_rekey})
        # Their database steps run in threads of their own: on the loop's shared threads
        # they queued behind the sweeper's (pace reservations, sent rows), and with
        # composing cached a run is mostly database round trips (docs/BENCHMARKS.md).
        self._runs = ThreadPoolExecutor(RUN_THREADS, thread_name_prefix="digest-run")
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

        With ``slack_team_required``, Slack ones naming no workspace are skipped (one warning).
        """
        now = self.clock()
        out = []
        skipped = [
            sub.name
            for sub in self.settings.subscriptions
            if self.slack_team_required and sub.platform == "slack" and not sub.team_id
        ]
        if skipped:
            log.warning(
                "config subscription(s) %s skipped: with OAuth installs (SLACK_CLIENT_ID) a Slack "
                "subscription in %s must name the workspace to post with, e.g. team_id = "
                '"T0123ABCD"',
                ", ".join(skipped),
                self.settings.config_dir / "subscriptions.toml",
            )
        for sub in self.settings.subscriptions:
            if sub.name in skipped:
                continue
            existing = self.store.schedules.get(sub.name)
            out.append(
                self.store.schedules.upsert(
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
        return out

    def runnable(self, sub: Subscription) -> bool:
        """This process can run ``sub``: enabled, a renderer for its platform and (OAuth
        installs) a workspace to post with."""
        if not sub.enabled or sub.platform not in self.renderers:
            return False
        return not (self.slack_team_required and sub.platform == "slack" and not sub.team_id)

    def schedule(self, sub: Subscription) -> None:
        """(Re)schedule a subscription's digest job, or drop it when it cannot run."""
        if not self.runnable(sub):
            self.unschedule(sub.name)
            return
        self.scheduler.add_job(
            self._digest_job,
            trigger_for(sub),
            args=[sub.name],
            id=f"digest:{sub.name}",
            name=f"digest {sub.name}",
            replace_existing=True,
        )

    def unschedule(self, name: str) -> None:
        """Remove a subscription's job if it is scheduled."""
        if self.scheduler.get_job(f"digest:{name}"):
            self.scheduler.remove_job(f"digest:{name}")

    # -- jobs ---------------------------------------------------------------------------------

    def _target(self, sub: Subscription) -> DigestTarget:
        return target_of(sub, self.settings.digest_max_stories)

    async def run_slot(self, name: str, now: datetime) -> RunResult | None:
        """Run the digest of ``name`` for its latest slot at ``now``, then sweep the outbox."""
        sub = await in_thread(self._runs, self.store.schedules.get, name)
        if sub is None or not self.runnable(sub):
            return None
        slot = latest_slot(sub, now, within=self.grace)
        if slot is None:
            return None
        return await deliver_digest(
            self.store, self._target(sub), now=lambda: now, renderers=self.renderers,
            sweeper=self.sweeper, owner=self.owner, slot=slot, gate=self._composing,
            cache=self.digests, executor=self._runs, subscription_id=sub.id,
        )  # fmt: skip

    async def _digest_job(self, name: str) -> None:
        await self.run_slot(name, self.clock())

    async def catch_up(self) -> list[RunResult]:
        """One run per subscription whose latest slot (within the grace window) is unclaimed."""
        now = self.clock()
        results = []
        for sub in await asyncio.to_thread(self.store.schedules.all, enabled_only=True):
            if self.runnable(sub):
                result = await self.run_slot(sub.name, now)
                if result is not None and result.run_id is not None:
                    log.info("catch-up digest for %s: %s", sub.name, result.status)
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
            self.store.schedules.take_over,
            owner=self.owner,
            now=now,
            stale=now - timedelta(seconds=self.timings.lease),
            since=now - self.grace,
        )
        results = []
        for run_id, name in taken:
            sub = await asyncio.to_thread(self.store.schedules.get, name)
            if sub is None or not sub.enabled or sub.platform not in self.renderers:
                await asyncio.to_thread(
                    self.store.schedules.finish_run, run_id, status="skipped", owner=self.owner
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
            await asyncio.to_thread(self.poller.tick)

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Sync config, schedule everything, catch up on missed slots, start the scheduler."""
        await asyncio.to_thread(self.sync_config)
        for sub in await asyncio.to_thread(self.store.schedules.all, enabled_only=True):
            if self.runnable(sub):
                self.schedule(sub)
        if self.poll_sources:
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
            )
            self.scheduler.add_job(
                self._poll_job,
                IntervalTrigger(seconds=self.poller.options.tick_seconds),
                id="poll",
                replace_existing=True,
                next_run_time=self.clock(),  # claim what is due at start, then every tick
            )
        self.scheduler.add_job(
            self.send_outbox,
            IntervalTrigger(seconds=self.timings.sweep_every),
            id="outbox",
            replace_existing=True,
        )
        self.scheduler.add_job(
            self.take_over_runs,
            IntervalTrigger(seconds=max(self.timings.lease / 3, self.timings.sweep_every)),
            id="runs",
            replace_existing=True,
        )
        await self.catch_up()
        self.scheduler.start()

    def shutdown(self) -> None:
        """Stop the scheduler without waiting for running jobs; hand back unfinished polls."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self.poller is not None:
            self.poller.close(wait=False)  # closes the fetcher too, unless it was passed in
            self.poller = None
        self._runs.shutdown(wait=False)
