"""Deliver a digest: the one use case behind the scheduler, `digest --post`, `--post-discord`
and both chat front ends.

``deliver_digest(store, target, ...)``: claim a run, compose every article since the target
subscription's watermark (plus the articles of its parts that could never be delivered),
render and validate the messages, then in ONE transaction queue them in the outbox, move the
watermark and finish the run; then the process's :class:`~bot.sweep.Sweeper` sends them.

A digest that cannot be rendered into valid messages is never silent: the run is marked
``failed``, the watermark stays (its articles come with the next run) and the log says why.
A part the platform refuses for good goes ``dead`` and its articles join the next digest.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from bot.digestcache import DigestCache
from bot.render import RenderedPart
from bot.sweep import (
    MAX_ATTEMPTS,
    DeliveryReport,
    Pacer,
    Sender,
    Sweeper,
    Timings,
)
from digests.compose import compose, follow_up, updated_stories, with_story_sources
from digests.errors import ConfigError, DigestError
from digests.models import Digest, DigestItem, DigestSection, RunStatus
from digests.store import Store
from digests.store import stories as story_posts
from digests.store.export import story_sources
from digests.store.outbox import UNFINISHED
from digests.store.runs import RunLost

log = logging.getLogger(__name__)

# digest → validated messages; no outbox key in them: the sender adds it from the row.
Renderer = Callable[[Digest], list[RenderedPart]]
_T = TypeVar("_T")
DIGEST_LIMIT = 1000  # new articles per digest; the rest wait for the next one (watermark)

__all__ = [
    "MAX_ATTEMPTS", "DeliveryReport", "DigestTarget", "Pacer", "Renderer", "RunResult",
    "Sender", "Sweeper", "Timings", "claim_and_queue", "deliver_digest",
    "owner_id",
    "pending_digest",
    "queue_digest",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class DigestTarget:
    """Whose watermark a digest follows and where it goes.

    ``destinations`` are (platform, channel) pairs; the scheduler gives the subscription's own,
    the CLI whatever ``--post`` / ``--post-discord`` name (one digest, every destination).
    """

    subscription: str
    destinations: tuple[tuple[str, str], ...]
    topics: tuple[str, ...] = ()
    after: datetime | None = None  # only articles dated since (the CLI's --since)
    # A platform with a ``"{platform}:thread"`` renderer (Slack) gets a headline with the
    # stories as replies (the subscription's ``thread`` setting).
    thread: bool = False
    max_stories: int | None = None  # [digest] max_stories; None: every story (digest --all)
    # Only articles stored up to this id: the CLI's run covers the articles the terminal
    # showed, not one stored since (None: every article stored so far).
    upto: int | None = None


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one digest run did."""

    run_id: int | None  # None: another process (or an earlier run) owns this slot
    status: RunStatus
    key: str | None = None
    messages: int = 0
    articles: tuple[int, ...] = ()
    error: str | None = None
    keys: tuple[str, ...] = field(default=())  # one outbox key per destination
    skipped: int = 0  # pending articles dated before the target's ``after``, marked delivered


def owner_id() -> str:
    """Who claims runs and outbox rows in the database: host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def pending_digest(
    store: Store, target: DigestTarget, *, now: datetime, limit: int = DIGEST_LIMIT
) -> Digest:
    """What the target's next digest holds: articles since its watermark, plus those of its
    parts that could never be delivered (the terminal shows the same digest a post sends)."""
    sub = store.subscriptions.get(target.subscription)
    if sub is None:
        raise ConfigError(f"no subscription {target.subscription!r}")
    return _pending(store, target, sub.watermark, now, limit)[0]


def _pending(
    store: Store,
    target: DigestTarget,
    watermark: int,
    now: datetime,
    limit: int,
    cache: tuple[DigestCache, datetime] | None = None,
) -> tuple[Digest, int, dict[int, tuple[int, ...]], list[int]]:
    dead = store.outbox.dead_parts(target.subscription)

    def fresh_digest(carried: dict[int, tuple[int, ...]]) -> tuple[Digest, int, list[int]]:
        # With a date bound (`digest --since`), the pending articles dated before it are
        # skipped: all of them, not only those stored before the newest one shown (which
        # made what was skipped depend on the order articles were stored in). Read first: an
        # article stored meanwhile is in ``fresh`` or dated before the bound.
        skipped_to = store.articles.latest_id() if target.after is not None else watermark
        if target.upto is not None:
            skipped_to = min(skipped_to, max(watermark, target.upto))
        fresh = store.articles.since(
            watermark, topics=target.topics, after=target.after, limit=limit, upto=target.upto
        )
        fresh_ids = {a.id for a in fresh}
        carried_ids = sorted({a for ids in carried.values() for a in ids} - fresh_ids)
        articles = [*store.articles.get(carried_ids), *fresh]
        digest = compose(articles, now=now, topics=target.topics, max_stories=target.max_stories)
        if len(fresh) >= limit:  # more than one digest holds: the rest come with the next one
            skipped_to = watermark
        return digest, max([watermark, skipped_to, *fresh_ids]), carried_ids

    if cache is not None and not dead and target.after is None and target.upto is None:
        # The same digest as every other run of this slot with this watermark and topics.
        digest, new_watermark = cache[0].digest(
            watermark, target.topics, limit, cache[1], lambda: fresh_digest({})[:2]
        )
        return _followed(store, target, digest), new_watermark, dead, []
    digest, new_watermark, carried_ids = fresh_digest(dead)
    return _followed(store, target, digest, set(carried_ids)), new_watermark, dead, carried_ids


def _followed(
    store: Store, target: DigestTarget, digest: Digest, carried: set[int] | None = None
) -> Digest:
    """The digest as this subscription sees it: stories it was shown come back as updates
    (not those whose articles come back from a part that could never be delivered)."""
    shown = [i for s in digest.sections for i in s.items]
    # The stories past the cap too: one may take the place of a story with nothing new.
    items = [i for i in (*shown, *(item for _, item in digest.held)) if i.story is not None]
    unsent = {
        i.story for i in items if carried and carried & {i.article.id, *(a.id for a in i.also)}
    }
    stories = {i.story for i in items if i.story is not None} - unsent
    if not stories:
        return digest
    seen = story_posts.posted(store.engine, target.subscription, stories)
    followed = follow_up(digest, {k: v.sentences for k, v in seen.items()})
    # An update names all its story's sources, not only its new articles' (README: JSON);
    # read for the updates shown alone (a digest may hold thousands of stories past its cap).
    if updates := updated_stories(followed):
        return with_story_sources(followed, story_sources(store.engine, updates))
    return followed


def queue_digest(
    store: Store,
    target: DigestTarget,
    run_id: int,
    *,
    now: datetime,
    renderers: dict[str, Renderer],
    limit: int = DIGEST_LIMIT,
    owner: str | None = None,
    cache: tuple[DigestCache, datetime] | None = None,
) -> RunResult:
    """Compose since the watermark, render, and queue + advance + finish in one transaction.

    ``owner``: the run's claimer; when another replica took the run over meanwhile
    (``Subscriptions.take_over``) nothing is queued and the status is ``lost``. ``cache``: the
    scheduler's digests and the run's slot (:mod:`bot.digestcache`).
    """
    try:
        return _queue(
            store, target, run_id, now=now, renderers=renderers, limit=limit, owner=owner,
            cache=cache,
        )  # fmt: skip
    except RunLost:
        log.warning("digest %s (run %d) was taken over by another replica", target.subscription,
                    run_id)  # fmt: skip
        return RunResult(run_id, RunStatus.LOST)
    except DigestError as exc:
        store.runs.finish_run(run_id, status=RunStatus.FAILED, owner=owner)
        log.error("digest %s (run %d) failed, watermark kept: %s", target.subscription, run_id, exc)
        return RunResult(run_id, RunStatus.FAILED, error=str(exc))
    except BaseException:
        store.runs.finish_run(run_id, status=RunStatus.FAILED, owner=owner)
        raise


def claim_and_queue(
    store: Store,
    target: DigestTarget,
    subscription_id: int,
    slot: datetime,
    *,
    now: datetime,
    renderers: dict[str, Renderer],
    owner: str,
    cache: DigestCache | None = None,
) -> RunResult:
    """Claim the run of ``slot`` and queue its digest at once (one thread step).

    Claiming every due run first and queueing them later (1,000 subscriptions due together
    queue for seconds) left a replica killed meanwhile holding hundreds of claimed, unqueued
    runs; now at most one per worker thread is between the two steps.
    """
    run_id = store.runs.claim(subscription_id, slot, owner=owner, now=now)
    if run_id is None:
        return RunResult(None, RunStatus.SKIPPED)
    shared = (cache, slot) if cache is not None else None
    return queue_digest(
        store, target, run_id, now=now, renderers=renderers, owner=owner, cache=shared
    )


def _queue(
    store: Store,
    target: DigestTarget,
    run_id: int,
    *,
    now: datetime,
    renderers: dict[str, Renderer],
    limit: int,
    owner: str | None,
    cache: tuple[DigestCache, datetime] | None = None,
) -> RunResult:
    sub = store.subscriptions.get(target.subscription)
    if sub is None:
        raise ConfigError(f"no subscription {target.subscription!r}")
    for platform, _ in target.destinations:
        if platform not in renderers:
            raise ConfigError(f"no renderer for platform {platform!r}")
    watermark = sub.watermark
    multi = len(target.destinations) > 1
    cache = None if multi else cache
    digest, new_watermark, dead, carried_ids = _pending(store, target, watermark, now, limit, cache)
    if not store.topics.trust(also=((sub.platform, sub.team_id),)).allows(sub.team_id):
        # Topic corrections from this workspace do not count: its digest offers none (the
        # shared cache's render has the buttons).
        digest, cache = replace(digest, correctable=frozenset()), None
    keys = [f"run:{run_id}" + (f".{i}" if multi else "") for i in range(len(target.destinations))]
    rendered: list[Sequence[RenderedPart]] = []
    shows = bool(digest.sections or digest.more)  # an update with nothing new shows nothing
    if shows:
        for platform, channel in target.destinations:
            threaded = renderers.get(f"{platform}:thread") if target.thread else None
            name = f"{platform}:thread" if threaded else platform
            render = threaded or renderers[platform]
            here = _with_earlier(store, target.subscription, digest, platform, channel)
            if cache is not None and here is digest:  # several runs' digest: rendered once
                rendered.append(cache[0].render(name, digest, cache[1], render))
            else:
                rendered.append(render(here))  # validated, or DeliveryError

    def work(conn) -> None:  # type: ignore[no-untyped-def]
        # Every destination's queue at once, in one order, before the first insert.
        store.outbox.lock_channels(conn, target.destinations if rendered else ())
        for (platform, channel), key, parts in zip(
            target.destinations, keys, rendered, strict=False
        ):
            heads = [p for p in parts if p.thread_head]
            # A thread: the headline first; its replies wait for it (parent_id) and are
            # handed out with its ts. Order per channel keeps them after it.
            for part_key, group in ((key, heads or parts), (f"{key}:thread", parts[len(heads) :])):
                if not group or (not heads and part_key != key):
                    continue
                parent = store.outbox.row_id(key, 0, conn=conn) if part_key != key else None
                store.outbox.enqueue(
                    part_key,
                    [p.payload for p in group],
                    platform=platform,
                    channel=channel,
                    now=now,
                    subscription=target.subscription,
                    article_ids=[p.article_ids for p in group],
                    team_id=sub.team_id,  # whose token posts it (OAuth installs)
                    parent_id=parent,
                    conn=conn,
                    locked=True,  # every destination, above
                )
        store.outbox.mark_carried(dead.keys(), conn)
        _follow_stories(store, conn, target, digest, keys, rendered, renderers, now, sub.team_id)

    status = RunStatus.QUEUED if shows else RunStatus.EMPTY
    ids = digest.article_ids
    committed = store.runs.commit_run(
        run_id,
        subscription=target.subscription,
        expected_watermark=watermark,
        watermark=new_watermark,
        status=status,
        first=min(ids) if ids else None,
        last=max(ids) if ids else None,
        work=work,
        owner=owner,
    )
    if not committed:  # another run of this subscription moved the watermark meanwhile
        store.runs.finish_run(run_id, status=RunStatus.SKIPPED, owner=owner)
        return RunResult(run_id, RunStatus.SKIPPED)
    if carried_ids:
        log.info("digest %s carries %d article(s) of undeliverable parts", target.subscription,
                 len(carried_ids))  # fmt: skip
    skipped = 0
    if target.after is not None and new_watermark > watermark:
        skipped = store.articles.dated_before(
            watermark, new_watermark, target.after, topics=target.topics
        )
    return RunResult(
        run_id,
        status,
        keys[0] if rendered else None,
        sum(len(p) for p in rendered),
        tuple(ids),
        keys=tuple(keys) if rendered else (),
        skipped=skipped,
    )


def _follow_stories(  # type: ignore[no-untyped-def]
    store: Store,
    conn,
    target: DigestTarget,
    digest: Digest,
    keys: Sequence[str],
    rendered: Sequence[Sequence[RenderedPart]],
    renderers: dict[str, Renderer],
    now: datetime,
    team_id: str | None,
) -> None:
    """In the run's transaction: remember what each story was shown with and where, and post
    each update also as a reply under the message that showed the story before (a platform
    with an ``"{platform}:update"`` renderer: Slack's thread_ts, Mattermost's root_id; only
    when that message went out with a platform id, so not a Mattermost webhook's post), with
    the subscription's workspace (``team_id``: whose token posts it, as for the digest's own
    parts)."""
    items = [i for s in digest.sections for i in s.items if i.story is not None]
    if not items:
        return
    earlier = story_posts.posted(
        store.engine, target.subscription, [i.story for i in items if i.story is not None]
    )
    shown: dict[int, tuple[list[str], dict[str, int]]] = {
        i.story: ([c.text for c in i.sentences], {}) for i in items if i.story is not None
    }
    for (platform, channel), key, parts in zip(target.destinations, keys, rendered, strict=False):
        where = story_posts.destination(platform, channel)
        threaded = bool(parts) and parts[0].thread_head
        head = store.outbox.row_id(key, 0, conn=conn) if threaded else None
        replies = [p for p in parts if not p.thread_head]
        for item in items:
            assert item.story is not None
            n = next((k for k, p in enumerate(replies) if item.article.id in p.article_ids), None)
            row = head
            if row is None and n is not None:
                row = store.outbox.row_id(key, n, conn=conn)
            if row is not None:
                shown[item.story][1][where] = row
            reply = renderers.get(f"{platform}:update")
            before = earlier.get(item.story)
            parent = before.messages.get(where) if before else None
            if not (item.update and target.thread and reply and parent):
                continue
            if not store.outbox.was_sent(parent, conn=conn):
                continue  # the earlier message never went out: no thread to reply in
            update_key = f"{key}:update.{item.story}"
            store.outbox.enqueue(
                update_key,
                [p.payload for p in reply(_one_item(digest, item))],
                platform=platform,
                channel=channel,
                now=now,
                subscription=target.subscription,
                article_ids=[()],
                team_id=team_id,  # whose token posts it (OAuth installs)
                parent_id=parent,
                conn=conn,
                locked=True,
            )
    story_posts.record_posts(conn, target.subscription, shown, now=now)


def _with_earlier(
    store: Store, subscription: str, digest: Digest, platform: str, channel: str
) -> Digest:
    """``digest`` with each update naming the message that showed its story here before."""
    updates = [i for s in digest.sections for i in s.items if i.update and i.story is not None]
    if not updates:
        return digest
    where = story_posts.destination(platform, channel)
    seen = story_posts.posted(store.engine, subscription, [i.story for i in updates if i.story])
    rows = {s: p.messages[where] for s, p in seen.items() if where in p.messages}
    sent = store.outbox.remote_ids(list(rows.values()))
    refs = {story: sent[row] for story, row in rows.items() if row in sent}
    if not refs:
        return digest
    sections = tuple(
        DigestSection(
            s.tag,
            tuple(
                replace(i, earlier=refs[i.story]) if i.update and i.story in refs else i
                for i in s.items
            ),
        )
        for s in digest.sections
    )
    return replace(digest, sections=sections)


def _one_item(digest: Digest, item: DigestItem) -> Digest:
    section = next(s for s in digest.sections if item in s.items)
    ids = (item.article.id, *(a.id for a in item.also))
    one = Digest(digest.generated_at, (DigestSection(section.tag, (item,)),), ids)
    return replace(one, correctable=digest.correctable)


async def deliver_digest(
    store: Store,
    target: DigestTarget,
    *,
    now: Callable[[], datetime],
    renderers: dict[str, Renderer],
    sweeper: Sweeper,
    owner: str,
    slot: datetime | None = None,
    wait: float = 0.0,
    gate: asyncio.Semaphore | None = None,
    cache: DigestCache | None = None,
    executor: Executor | None = None,
    subscription_id: int | None = None,
    on_queued: Callable[[RunResult], None] | None = None,
) -> RunResult:
    """Claim a run (of ``slot``, or an ad-hoc one now), queue the digest, and deliver it.

    ``wait``: keep sweeping up to that many seconds until every part is sent or refused
    (the CLI); 0 sweeps once (the scheduler's 5-second sweep does the rest). ``gate``: how
    many runs may compose at once (the scheduler's; see ``DigestScheduler``). ``executor``:
    the threads that claim and queue (default: the loop's, shared with sending).
    ``subscription_id``: the target subscription's id when the caller has just read it.
    ``on_queued``: called with the queued run before its parts are swept (the run's log line
    comes before its parts' ``sent`` lines).
    """
    if subscription_id is None:
        sub = await in_thread(executor, store.subscriptions.get, target.subscription)
        if sub is None:
            raise ConfigError(f"no subscription {target.subscription!r}")
        subscription_id = sub.id
    async with gate or contextlib.nullcontext():
        at = now()
        result = await in_thread(
            executor, claim_and_queue, store, target, subscription_id, slot or at, now=at,
            renderers=renderers, owner=owner, cache=cache,
        )  # fmt: skip
    if result.status != RunStatus.QUEUED:
        return result
    if on_queued is not None:
        on_queued(result)
    await sweeper.sweep()
    deadline = time.monotonic() + wait
    while wait and time.monotonic() < deadline:
        rows = [
            m for key in result.keys for m in await asyncio.to_thread(store.outbox.messages, key)
        ]
        waiting = [m for m in rows if m.status in UNFINISHED]
        if not waiting:
            break
        pause = min((m.next_attempt_at - now()).total_seconds() for m in waiting)
        if pause > deadline - time.monotonic():
            break
        await asyncio.sleep(max(0.05, pause))
        await sweeper.sweep()
    return result


async def in_thread(
    executor: Executor | None, fn: Callable[..., _T], *args: object, **kwargs: object
) -> _T:
    """``fn(*args, **kwargs)`` in ``executor``'s threads (None: the loop's default ones)."""
    if executor is None:
        return await asyncio.to_thread(fn, *args, **kwargs)
    call = functools.partial(fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(executor, call)
