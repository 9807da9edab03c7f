"""The chat service: what `/brief` and its subcommands mean, answered once for every platform.

A platform (``bot/platforms/<name>/``) only parses its request into a call here and renders
the neutral result it gets back. So every platform's ``/brief <topic>`` runs in the same
bounded :class:`~bot.workpool.WorkPool` (beyond its capacity the platform answers "busy" at
once) and is timed by the same ``digestbot_brief_latency_seconds{platform=…}`` histogram;
topic counts, a channel's status and the source-health lines are built here once, and
subscribe / unsubscribe apply the same rule (``bot/subscribe.py``) and reschedule the
running scheduler the same way.

    platform route ──parse──▶ ChatService.brief / topics / status / subscribe / unsubscribe
                                   │ (pool, metrics, store, live schedule)
    platform render ◀──neutral result (Brief, TopicCount, Status, Subscription)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from bot.metrics import Metrics
from bot.render import counted
from bot.subscribe import SubscribeRequest, subscribe
from bot.workpool import WorkPool
from digests.brief import brief as make_brief
from digests.config import Settings, Topic
from digests.models import Brief
from digests.net.util import redact
from digests.store import Store
from digests.store.subscriptions import Subscription
from digests.subscribable import source_tag_note, source_tags, subscribable

BUSY = "Busy answering other requests — try again shortly."  # the pool is full
SHOWN_FAILING_SOURCES = 10  # failing sources listed by name; the rest are counted
SOURCE_ERROR_CHARS = 200  # a failing source's last error, cut to this


class LiveSchedule(Protocol):
    """The running scheduler's (re)scheduling, so a chat subscription applies at once."""

    def schedule(self, sub: Subscription) -> None: ...

    def unschedule(self, name: str) -> None: ...


@dataclass(frozen=True, slots=True)
class TopicCount:
    """A topic a subscription may name and how many stored articles carry it; ``note``: a
    source tag's mark (:func:`digests.subscribable.source_tag_note`), shown after it."""

    name: str
    articles: int
    note: str = ""


@dataclass(frozen=True, slots=True)
class FailingSource:
    """A source whose last polls failed."""

    name: str
    failures: int
    error: str  # its last error, at most SOURCE_ERROR_CHARS characters


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """How many sources are fine, and the failing ones (worst first, at most a few by name)."""

    total: int
    failing: tuple[FailingSource, ...]
    more_failing: int = 0  # failing sources beyond those listed

    @property
    def healthy(self) -> int:
        """Sources whose last poll worked."""
        return self.total - len(self.failing) - self.more_failing

    def lines(
        self, *, bold: Callable[[str], str], quote: Callable[[str], str], warn: str
    ) -> list[str]:
        """The source-health lines every platform shows, in its own markup (``bold``,
        ``quote`` for text taken from sources, ``warn`` the warning sign)."""
        out = [f"{bold('Sources')}: {self.healthy} of {self.total} healthy"]
        out += [
            f"• {warn} {quote(s.name)} — {counted(s.failures, 'failure')} in a row: "
            f"{quote(s.error)}"
            for s in self.failing
        ]
        if self.more_failing:
            out.append(f"• … and {self.more_failing} more failing")
        return out


@dataclass(frozen=True, slots=True)
class Status:
    """A channel's digests and the sources' health."""

    subscriptions: tuple[Subscription, ...]
    sources: SourceHealth


def topic_counts(store: Store, core: Settings) -> list[TopicCount]:
    """Every topic a subscription may name with its stored article count: the configured
    topics in configuration order, then the source tags (as `digestbot topics` lists them)."""
    counts = store.articles.tag_counts()
    tags = source_tags(core, store)  # read once: subscribable() is the topics, then these
    return [TopicCount(t.name, counts.get(t.name, 0)) for t in core.topics] + [
        TopicCount(tag, counts.get(tag, 0), source_tag_note(by)) for tag, by in tags.items()
    ]


def source_health(store: Store, *, shown: int = SHOWN_FAILING_SOURCES) -> SourceHealth:
    """The sources' health from the store: failing ones worst first, ``shown`` by name."""
    states = store.sources.all()
    failing = sorted(
        (s for s in states if s.consecutive_failures),
        key=lambda s: (-s.consecutive_failures, s.name),
    )
    listed = tuple(
        FailingSource(
            redact(s.name),  # a name an older version gave: its URL, secrets included
            s.consecutive_failures,
            redact(" ".join((s.last_error or "unknown error").split()))[:SOURCE_ERROR_CHARS],
        )
        for s in failing[:shown]
    )
    return SourceHealth(len(states), listed, max(0, len(failing) - shown))


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ChatService:
    """The one implementation of the chat commands, shared by every platform of a process."""

    def __init__(
        self,
        store: Store,
        core: Settings,
        *,
        pool: WorkPool | None = None,
        metrics: Metrics | None = None,
        schedule: LiveSchedule | None = None,
        clock: Callable[[], datetime] = _utcnow,
        brief: Callable[[str, datetime], Brief] | None = None,
    ) -> None:
        """``brief`` replaces how one brief is made (default: ``digests.brief`` over the
        store with the configured topics and sentence count)."""
        self.store, self.core = store, core
        self.pool = pool or WorkPool()
        self.metrics, self.schedule, self.clock = metrics, schedule, clock
        self._make = brief or self._default_brief

    def _default_brief(self, topic: str, now: datetime) -> Brief:
        # The topics and the sources' tags: a tag is briefed by its articles, and a brief about
        # nothing lists every one with articles (as `/brief topics` and subscribe do).
        return make_brief(
            self.store, topic, topics=subscribable(self.core, self.store), now=now,
            sentences=self.core.brief_sentences,
        )  # fmt: skip

    # -- /brief <topic>: bounded pool, one latency metric ----------------------------------

    def admit(self, key: str, team: str | None = None, *, waited: float = 0.0) -> bool:
        """Reserve a place in the pool for request ``key`` of ``team`` (teams are served in
        turn; ``waited``: seconds the request already spent before it reached the app);
        False: its answer would come too late, answer "busy" at once."""
        return self.pool.admit(key, team, waited=waited)

    def admitted(self, key: str) -> bool:
        """Whether request ``key`` holds a place (its brief should be made)."""
        return self.pool.admitted(key)

    def release(self, key: str) -> None:
        """Give back request ``key``'s place when its brief will not be made."""
        self.pool.release(key)

    async def brief(self, key: str, topic: str, *, platform: str) -> Brief:
        """The brief for the admitted request ``key``, made on a pool thread and timed under
        ``platform`` (DigestError for a user-facing failure)."""
        return await self.pool.run(key, self._timed, topic, self.clock(), platform)

    def _timed(self, topic: str, now: datetime, platform: str) -> Brief:
        # Right after start-up a brief waits for the first ingest of the folders (the
        # scheduler's), so it sees what is being stored.
        first_ingest = getattr(self.schedule, "wait_ingested", None)
        if first_ingest is not None:
            first_ingest()
        if self.metrics is None:
            return self._make(topic, now)
        with self.metrics.timer(platform):
            return self._make(topic, now)

    # -- the store-backed subcommands -------------------------------------------------------

    async def topics(self) -> list[TopicCount]:
        """The topics and source tags with their article counts (empty: none of either)."""
        return await asyncio.to_thread(topic_counts, self.store, self.core)

    async def subscribable(self) -> tuple[Topic, ...]:
        """What a subscription may name now (read each time: `sources add --tags` may have
        added a tag since serve started): :func:`digests.subscribable.subscribable`."""
        return await asyncio.to_thread(subscribable, self.core, self.store)

    async def status(self, subscriptions: Callable[[], Sequence[Subscription]]) -> Status:
        """The channel's subscriptions (``subscriptions()``, a platform's lookup, run off the
        loop) and the sources' health."""

        def read() -> Status:
            return Status(tuple(subscriptions()), source_health(self.store))

        return await asyncio.to_thread(read)

    async def subscribe(
        self,
        request: SubscribeRequest,
        *,
        name: str,
        platform: str,
        channel: str,
        team_id: str | None = None,
    ) -> Subscription:
        """Create or update chat subscription ``name`` and schedule it in this process."""
        sub = await asyncio.to_thread(
            subscribe, self.store, request, name=name, platform=platform, channel=channel,
            now=self.clock(), team_id=team_id, limit=self.core.team_subscriptions,
        )  # fmt: skip
        if self.schedule is not None:
            self.schedule.schedule(sub)
        return sub

    async def feedback(
        self,
        *,
        action: str,
        value: object,
        user: str,
        workspace: str,
        platform: str,
    ) -> str:
        """Store a reader's topic correction ("Not #topic", "More like this") for the next
        refit; the confirmation to show (DigestError: what was wrong with it)."""
        from bot import topic_feedback

        return await asyncio.to_thread(
            topic_feedback.record, self.store, self.core, action=action, value=value,
            user=user, workspace=workspace, platform=platform, now=self.clock(),
        )  # fmt: skip

    async def unsubscribe(self, name: str) -> Subscription | None:
        """Remove chat subscription ``name`` (and its job); the removed row, or None."""
        sub = await asyncio.to_thread(self.store.subscriptions.get, name)
        if sub is None or not await asyncio.to_thread(self.store.subscriptions.remove, name):
            return None
        if self.schedule is not None:
            self.schedule.unschedule(name)
        return sub
