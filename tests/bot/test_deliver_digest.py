"""The deliver_digest use case against the Slack stand-in: one transaction, nothing silent."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from bot.deliver import DigestTarget, deliver_digest, queue_digest
from bot.platforms.slack.render import digest_parts
from bot.platforms.slack.sender import SlackSender, make_sender_client
from bot.render import RenderedPart
from bot.settings import BotSettings
from bot.sweep import Pacer, Sweeper
from digests.errors import DeliveryError
from digests.store import Store
from testkit.slack_stub import SlackStub
from tests.bot.conftest import add_taiwan_articles
from tests.conftest import NOW, make_processed

RENDERERS = {"slack": digest_parts}


def _subscribe(store: Store, name: str = "news", channel: str = "C1") -> DigestTarget:
    store.subscriptions.upsert(name, platform="slack", channel=channel, topics=(), cron="0 8 * * *",
                           timezone="UTC", origin="config", now=NOW)  # fmt: skip
    return DigestTarget(name, (("slack", channel),))


def _sweeper(store: Store, settings: BotSettings, at=NOW) -> Sweeper:  # type: ignore[no-untyped-def]
    sender = SlackSender(make_sender_client(settings, timeout=5))
    return Sweeper(store, {"slack": sender}, owner="t", now=lambda: at, pacer=Pacer(0))


def _delivered_articles(stub: SlackStub, store: Store, channel: str) -> Counter[int]:
    """Per-article accounting: which stored articles the channel shows, how often."""
    ids: Counter[int] = Counter()
    for message in stub.posted(channel):
        key = message["metadata"]["event_payload"]
        [row] = [m for m in store.outbox.messages(key["digest_key"]) if m.part == key["part"]]
        ids.update(row.article_ids)
    return ids


def test_a_digest_is_queued_watermarked_and_finished_in_one_transaction(store: Store) -> None:
    ids = add_taiwan_articles(store)
    target = _subscribe(store)
    sub = store.subscriptions.get("news")
    assert sub is not None
    run_id = store.runs.claim(sub.id, NOW, owner="t", now=NOW)
    assert run_id is not None

    def broken(digest):  # type: ignore[no-untyped-def]
        raise DeliveryError("Slack would refuse the message: block 3 (context): needs 1–10")

    failed = queue_digest(store, target, run_id, now=NOW, renderers={"slack": broken})
    assert failed.status == "failed" and "block 3" in (failed.error or "")
    # Nothing half-done: no row queued, watermark where it was; the articles come next time.
    assert store.outbox.waiting() == [] and store.subscriptions.get("news").watermark == 0
    assert store.runs.runs_with_status("failed", since=NOW) == [("news", NOW)]
    later = store.runs.claim(sub.id, NOW + timedelta(days=1), owner="t", now=NOW)
    assert later is not None
    ok = queue_digest(store, target, later, now=NOW, renderers=RENDERERS)
    assert ok.status == "queued" and set(ok.articles) == set(ids)
    assert store.subscriptions.get("news").watermark == max(ids)


def test_a_watermark_moved_by_another_run_rolls_the_whole_run_back(store: Store) -> None:
    add_taiwan_articles(store)
    target = _subscribe(store)
    sub = store.subscriptions.get("news")
    assert sub is not None
    run_id = store.runs.claim(sub.id, NOW, owner="t", now=NOW)
    assert run_id is not None

    def racing(digest):  # type: ignore[no-untyped-def]
        store.subscriptions.advance("news", 2)  # another run committed meanwhile
        return digest_parts(digest)

    result = queue_digest(store, target, run_id, now=NOW, renderers={"slack": racing})
    assert result.status == "skipped" and store.outbox.waiting() == []


def test_a_refused_part_hands_its_articles_to_the_next_digest(
    store: Store, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    ids = add_taiwan_articles(store)
    target = _subscribe(store)
    slack_stub.fail("chat.postMessage", 200, {"ok": False, "error": "msg_too_long"})
    first = asyncio.run(deliver_digest(store, target, now=lambda: NOW, renderers=RENDERERS,
                                       sweeper=_sweeper(store, bot_settings), owner="t"))  # fmt: skip
    assert first.status == "queued" and slack_stub.posted("C1") == []
    health = store.outbox.health(NOW)
    assert health.dead == 1 and "msg_too_long" in (health.last_error or "")
    late = store.articles.add(make_processed("Late news", "Something else happened. Twice."),
                              now=NOW)  # fmt: skip
    later = NOW + timedelta(minutes=1)
    second = asyncio.run(deliver_digest(store, target, now=lambda: later, renderers=RENDERERS,
                                        sweeper=_sweeper(store, bot_settings, later), owner="t"))  # fmt: skip
    assert second.status == "queued" and set(second.articles) == {*ids, late}
    assert store.outbox.health(NOW).dead == 0  # handed on: no longer counted as lost
    assert _delivered_articles(slack_stub, store, "C1") == Counter({*ids, late})


def test_concurrent_sweeps_in_one_process_post_each_part_once(
    store: Store, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    for k in range(3):
        store.outbox.enqueue(f"run:{k}", [{"text": f"{k}.{i}"} for i in range(3)],
                             platform="slack", channel="C1", now=NOW)  # fmt: skip
    sweeper = _sweeper(store, bot_settings)

    async def both():  # type: ignore[no-untyped-def]
        return await asyncio.gather(sweeper.sweep(), sweeper.sweep(), sweeper.sweep())

    reports = asyncio.run(both())
    assert sum(r.sent for r in reports) == 9
    assert [m["text"] for m in slack_stub.posted("C1")] == [f"{k}.{i}" for k in range(3)
                                                             for i in range(3)]  # fmt: skip


def test_untagged_and_tagged_articles_all_arrive_in_a_strict_channel(
    store: Store, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    slack_stub.strict = True
    ids = add_taiwan_articles(store)
    for i in range(3):  # match no topic: no tags at all
        ids.append(store.articles.add(make_processed(f"Plain {i}", f"Word{i} other{i}. End{i}."),
                                      now=NOW))  # fmt: skip
    target = _subscribe(store)
    asyncio.run(deliver_digest(store, target, now=lambda: NOW, renderers=RENDERERS,
                               sweeper=_sweeper(store, bot_settings), owner="t"))  # fmt: skip
    assert slack_stub.refused == []
    assert _delivered_articles(slack_stub, store, "C1") == Counter(ids)


def test_rendered_parts_are_what_gets_queued(store: Store) -> None:
    add_taiwan_articles(store)
    target = _subscribe(store)
    sub = store.subscriptions.get("news")
    assert sub is not None
    seen: list[RenderedPart] = []

    def spy(digest):  # type: ignore[no-untyped-def]
        seen.extend(digest_parts(digest))
        return seen

    run_id = store.runs.claim(sub.id, NOW, owner="t", now=NOW)
    assert run_id is not None
    result = queue_digest(store, target, run_id, now=NOW, renderers={"slack": spy})
    rows = store.outbox.messages(result.key or "")
    assert [r.payload for r in rows] == [p.payload for p in seen]
    assert [r.article_ids for r in rows] == [p.article_ids for p in seen]
    assert all(r.subscription == "news" for r in rows)


def test_a_run_left_claimed_by_a_dead_replica_is_taken_over_and_queued_once(
    any_store: Store, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    store = any_store
    ids = add_taiwan_articles(store)
    target = _subscribe(store)
    sub = store.subscriptions.get("news")
    assert sub is not None
    # The dead replica claimed the slot and died before queueing anything.
    run_id = store.runs.claim(sub.id, NOW, owner="dead", now=NOW)
    assert run_id is not None
    lease = timedelta(seconds=45)
    later = NOW + timedelta(seconds=30)
    # Within the lease the claim stands (the claimer may just be slow).
    assert store.runs.take_over(owner="r2", now=later, stale=later - lease, since=NOW) == []
    later = NOW + timedelta(seconds=50)
    taken = store.runs.take_over(owner="r2", now=later, stale=later - lease, since=NOW)
    assert taken == [(run_id, "news")]
    # One taker only.
    assert store.runs.take_over(owner="r3", now=later, stale=later, since=NOW) == []
    # The old claimer, were it alive after all, can no longer queue the run ...
    late = queue_digest(store, target, run_id, now=later, renderers=RENDERERS, owner="dead")
    assert late.status == "lost" and store.outbox.waiting() == []
    # ... the taker does, once.
    result = queue_digest(store, target, run_id, now=later, renderers=RENDERERS, owner="r2")
    assert result.status == "queued" and set(result.articles) == set(ids)
    asyncio.run(_sweeper(store, bot_settings, at=later).sweep())
    assert _delivered_articles(slack_stub, store, "C1") == Counter(ids)


def test_a_stale_run_older_than_the_grace_window_is_not_taken_over(store: Store) -> None:
    add_taiwan_articles(store)
    _subscribe(store)
    sub = store.subscriptions.get("news")
    assert sub is not None
    assert store.runs.claim(sub.id, NOW, owner="dead", now=NOW) is not None
    later = NOW + timedelta(hours=2)
    since = later - timedelta(hours=1)  # the misfire grace: that slot's digest is history
    assert store.runs.take_over(owner="r2", now=later, stale=later, since=since) == []
