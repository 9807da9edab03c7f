"""Scheduling: subscriptions → APScheduler cron jobs, one source-poll job, the outbox job.

Schedules live in our tables, not in APScheduler's job store (ARCHITECTURE.md): the
in-memory AsyncIOScheduler is rebuilt from the ``subscriptions`` table at every start, so
several replicas may each run one; the database claim per (subscription, slot) decides who
posts.

Slots and DST. A run's slot is the trigger's fire time, normalized to the *first* instant of
that wall-clock time in the subscription's timezone. APScheduler 3.11 behaves like this on
Europe/London DST days for ``30 1 * * *`` (checked in tests/bot/test_schedule.py):

* spring forward (01:30 does not exist): it fires once, at 01:30 UTC = 02:30 BST — no day
  is missed;
* fall back (01:30 happens twice): it fires at 00:30 UTC and again at 01:30 UTC; both map
  to the slot 00:30 UTC, so the second claim fails and nothing is posted twice.

Sources: one interval job (every ``[poll] tick_seconds``) asks ``digests.polling.Poller`` to
claim due sources from the database, however many sources there are; the database decides
which replica polls which source (docs/ARCHITECTURE.md, "Work shared through the database").

Catch-up: on start, a subscription whose latest slot lies within ``misfire_grace_seconds``
and is unclaimed gets exactly one run (older missed slots are folded into it: the watermark
makes that digest hold every article since the last delivered one).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.deliver import DeliveryReport, Pacer, Sender, deliver
from digests.compose import compose
from digests.config import Settings
from digests.errors import ConfigError
from digests.fetch import Fetcher
from digests.models import Digest
from digests.pipeline import IngestReport
from digests.polling import Poller
from digests.store import Store
from digests.store.schedules import Subscription

log = logging.getLogger(__name__)

Renderer = Callable[[Digest, str], list[dict]]  # (digest, outbox key) → platform messages
OUTBOX_SECONDS = 5  # how often the outbox is swept for due (and retried) messages
_DIGEST_LIMIT = 1000  # articles per digest; the rest wait for the next one (watermark)


def trigger_for(sub: Subscription) -> CronTrigger:
    """The cron trigger of a subscription, in its own timezone."""
    return CronTrigger.from_crontab(sub.cron, timezone=ZoneInfo(sub.timezone))


def normalize_slot(fire_time: datetime, timezone: str) -> datetime:
    """The slot (UTC) of a fire time: the first instant of that wall-clock time (see module doc)."""
    local = fire_time.astimezone(ZoneInfo(timezone)).replace(fold=0)
    return local.astimezone(UTC)


def latest_slot(sub: Subscription, now: datetime, *, within: timedelta) -> datetime | None:
    """The newest slot at or before ``now`` and no older than ``within``, or None."""
    trigger = trigger_for(sub)
    start = (now - within).astimezone(UTC)
    latest: datetime | None = None
    t = trigger.get_next_fire_time(None, start)
    while t is not None and t <= now:
        latest = t
        # Step in UTC: wall-clock arithmetic on an aware datetime drops ``fold``.
        t = trigger.get_next_fire_time(t, t.astimezone(UTC) + timedelta(seconds=1))
    return normalize_slot(latest, sub.timezone) if latest else None


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one digest run did."""

    run_id: int | None  # None: another process (or an earlier run) owns this slot
    status: str  # skipped | empty | queued
    key: str | None = None
    messages: int = 0


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
    """Claim one slot, compose everything since the watermark, queue it in the outbox."""
    del settings  # part of the run signature: per-run options (limits) come from here later
    renderer = renderers.get(subscription.platform)
    if renderer is None:
        raise ConfigError(f"no renderer for platform {subscription.platform!r}")
    run_id = store.schedules.claim(subscription.id, scheduled_for, owner=owner, now=now)
    if run_id is None:
        return RunResult(None, "skipped")
    try:
        fresh = store.schedules.get(subscription.name) or subscription  # watermark as of now
        articles = store.articles.since(fresh.watermark, topics=fresh.topics, limit=_DIGEST_LIMIT)
        digest = compose(articles, now=now, topics=fresh.topics)
        if digest.empty:
            store.schedules.finish_run(run_id, status="empty")
            return RunResult(run_id, "empty")
        key = f"run:{run_id}"
        parts = renderer(digest, key)
        store.outbox.enqueue(
            key, parts, platform=fresh.platform, channel=fresh.channel, now=now,
            team_id=fresh.team_id,  # whose token posts it (OAuth installs)
        )  # fmt: skip
        # Queued is as good as delivered for the watermark: the outbox never drops a row.
        store.schedules.advance(fresh.name, max(digest.article_ids))
        store.schedules.finish_run(
            run_id, status="queued", first=min(digest.article_ids), last=max(digest.article_ids)
        )
        return RunResult(run_id, "queued", key, len(parts))
    except BaseException:
        store.schedules.finish_run(run_id, status="failed")
        raise


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
    ) -> None:
        self.store, self.settings = store, settings
        self.renderers, self.senders = renderers, senders
        self.owner, self.clock = owner, clock
        self.pacer = pacer or Pacer()
        self.poll_sources = poll_sources
        # One fetcher for every poll job of this process: its per-host limit is process-wide.
        self._fetcher = fetcher
        self.poller: Poller | None = None
        self.on_poll = on_poll  # e.g. Metrics.poll_done (called from poll threads)
        self.grace = timedelta(seconds=settings.misfire_grace_seconds)
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
        """Write config subscriptions into the store (``origin="config"``); new ones start now."""
        now = self.clock()
        out = []
        for sub in self.settings.subscriptions:
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
                )
            )
        return out

    def schedule(self, sub: Subscription) -> None:
        """(Re)schedule a subscription's digest job, or drop it when disabled."""
        if not sub.enabled:
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

    async def run_slot(self, name: str, now: datetime) -> RunResult | None:
        """Run the digest of ``name`` for its latest slot at ``now``, then sweep the outbox."""
        sub = await asyncio.to_thread(self.store.schedules.get, name)
        if sub is None or not sub.enabled:
            return None
        slot = latest_slot(sub, now, within=self.grace)
        if slot is None:
            return None
        result = await asyncio.to_thread(
            run_digest, self.store, self.settings, sub, slot,
            now=now, owner=self.owner, renderers=self.renderers,
        )  # fmt: skip
        if result.status == "queued":
            await self.send_outbox()
        return result

    async def _digest_job(self, name: str) -> None:
        await self.run_slot(name, self.clock())

    async def catch_up(self) -> list[RunResult]:
        """One run per subscription whose latest slot (within the grace window) is unclaimed."""
        now = self.clock()
        results = []
        for sub in await asyncio.to_thread(self.store.schedules.all, enabled_only=True):
            if sub.platform in self.renderers:
                result = await self.run_slot(sub.name, now)
                if result is not None and result.run_id is not None:
                    log.info("catch-up digest for %s: %s", sub.name, result.status)
                    results.append(result)
        return results

    async def send_outbox(self) -> DeliveryReport:
        """Deliver what is due in the outbox."""
        return await deliver(self.store, self.senders, now=self.clock, pacer=self.pacer)

    async def _poll_job(self) -> None:
        """Claim due sources for this process's free poll workers (they run in threads)."""
        if self.poller is not None:
            await asyncio.to_thread(self.poller.tick)

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Sync config, schedule everything, catch up on missed slots, start the scheduler."""
        await asyncio.to_thread(self.sync_config)
        for sub in await asyncio.to_thread(self.store.schedules.all, enabled_only=True):
            if sub.platform in self.renderers:
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
            IntervalTrigger(seconds=OUTBOX_SECONDS),
            id="outbox",
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
