"""Runs of one slot with the same watermark and topics compose and render once (real store)."""

from __future__ import annotations

from datetime import timedelta

from bot.deliver import DigestTarget, queue_digest
from bot.digestcache import DigestCache
from bot.platforms.slack.render import with_key
from bot.render import RenderedPart
from bot.serve import renderers
from digests.models import Digest
from digests.store import Store
from tests.bot.conftest import add_taiwan_articles
from tests.conftest import NOW, make_processed


def _queue(store: Store, name: str, channel: str, cache: DigestCache | None, now=NOW, calls=None,  # type: ignore[no-untyped-def]
           slot=NOW):  # fmt: skip
    if store.subscriptions.get(name) is None:
        store.subscriptions.upsert(name, platform="slack", channel=channel, topics=("taiwan",),
                               cron="0 8 * * *", timezone="UTC", origin="chat", now=NOW,
                               watermark=0, thread=True)  # fmt: skip
    sub = store.subscriptions.get(name)
    assert sub is not None
    real = renderers()

    def counted(digest: Digest) -> list[RenderedPart]:
        if calls is not None:
            calls.append(name)
        return real["slack:thread"](digest)

    run_id = store.runs.claim(sub.id, slot, owner="t", now=now)
    assert run_id is not None
    target = DigestTarget(name, (("slack", channel),), topics=("taiwan",), thread=True)
    return queue_digest(store, target, run_id, now=now, owner="t",
                        cache=None if cache is None else (cache, slot),
                        renderers={**real, "slack:thread": counted})  # fmt: skip


def _payloads(store: Store, key: str) -> list[dict]:
    return [m.payload for k in (key, f"{key}:thread") for m in store.outbox.messages(k)]


def test_runs_of_one_slot_share_one_rendering_with_their_own_keys(any_store: Store) -> None:
    ids = add_taiwan_articles(any_store)
    cache, calls = DigestCache(), []
    a = _queue(any_store, "a", "C1", cache, calls=calls)
    b = _queue(any_store, "b", "C2", cache, now=NOW + timedelta(seconds=20), calls=calls)
    alone = _queue(any_store, "c", "C3", None)
    assert [r.status for r in (a, b, alone)] == ["queued"] * 3
    assert calls == ["a"]  # b reused a's rendering
    assert a.articles == b.articles == alone.articles == tuple(sorted(ids))
    for result in (a, b):
        got = _payloads(any_store, result.key)
        want = _payloads(any_store, alone.key)
        assert len(got) == len(want) == 2
        assert got == want  # the rendering names no key: one memo serves every run
        rows = [
            m for k in (result.key, f"{result.key}:thread") for m in any_store.outbox.messages(k)
        ]
        assert {m.channel for m in rows} == {any_store.subscriptions.get("ab"[result is b]).channel}
        # The sender names each row's own key when it posts (Slack: message metadata).
        posted = [with_key(m.payload, m.digest_key, m.part) for m in rows]
        assert {p["metadata"]["event_payload"]["digest_key"] for p in posted} == {
            result.key, f"{result.key}:thread"
        }  # fmt: skip


def test_an_article_stored_during_a_slot_goes_to_the_next_digest(any_store: Store) -> None:
    ids = add_taiwan_articles(any_store)
    cache = DigestCache()
    assert _queue(any_store, "a", "C1", cache).status == "queued"
    later = any_store.articles.add(
        make_processed("Taiwan late story", "A late story about Taiwan trade. " * 3,
                       tags=(("taiwan", 3),), url="https://late.example/1"),
        now=NOW,
    )  # fmt: skip
    b = _queue(any_store, "b", "C2", cache, now=NOW + timedelta(seconds=30))
    assert b.articles == tuple(sorted(ids))  # the slot's snapshot
    sub = any_store.subscriptions.get("b")
    assert sub is not None and sub.watermark == max(ids)  # not past what it showed
    # The next slot (a cron every 2 s) is a new tick: b's next run has the late article.
    step = NOW + timedelta(seconds=2)
    nxt = _queue(any_store, "b", "C2", cache, now=NOW + timedelta(seconds=31), slot=step)
    assert nxt.articles == (later,)


def test_a_new_slot_composes_again(any_store: Store) -> None:
    add_taiwan_articles(any_store)
    cache, calls = DigestCache(), []
    _queue(any_store, "a", "C1", cache, calls=calls)
    step = NOW + timedelta(seconds=2)
    _queue(any_store, "b", "C2", cache, now=step, calls=calls, slot=step)
    assert len(calls) == 2
    assert cache.hits == 0
