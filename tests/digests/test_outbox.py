"""Outbox claims on SQLite and PostgreSQL: leases, status guards, per-channel order, accounting."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest

from digests.store import Store
from tests.conftest import NOW

LEASE = timedelta(seconds=45)


def _queue(store: Store, key: str, n: int, channel: str = "C1", **kw: object) -> None:
    parts = [{"text": f"{key} part {i}"} for i in range(n)]
    assert store.outbox.enqueue(key, parts, platform="slack", channel=channel, now=NOW, **kw) == n  # type: ignore[arg-type]


def _texts(claims) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.message.payload["text"] for c in claims]


def test_lifecycle_and_duplicate_keys(any_store: Store) -> None:
    _queue(any_store, "run:1", 2)
    assert any_store.outbox.enqueue("run:1", [{"text": "x"}], platform="slack", channel="C1",
                                    now=NOW) == 0  # fmt: skip
    [first] = any_store.outbox.claim(owner="a", now=NOW, lease=LEASE)
    assert not first.unknown and first.message.attempts == 1
    assert any_store.outbox.claim(owner="b", now=NOW, lease=LEASE) == []  # part 1 waits
    assert any_store.outbox.sent(first, remote_id="1.1", now=NOW)
    [second] = any_store.outbox.claim(owner="a", now=NOW, lease=LEASE)
    assert any_store.outbox.retry(second, error="rate limited", at=NOW + timedelta(seconds=30))
    assert any_store.outbox.claim(owner="a", now=NOW, lease=LEASE) == []
    [again] = any_store.outbox.claim(owner="a", now=NOW + timedelta(seconds=30), lease=LEASE)
    assert not again.unknown and again.message.last_error == "rate limited"
    assert [m.status for m in any_store.outbox.messages("run:1")] == ["sent", "sending"]


def test_per_channel_order_is_queue_order_numeric_keys_and_parts_contiguous(
    any_store: Store,
) -> None:
    _queue(any_store, "run:9", 2)
    _queue(any_store, "run:10", 1)  # "run:10" < "run:9" as text: order must not be by key
    _queue(any_store, "run:11", 1, channel="C2")
    order: list[str] = []
    at = NOW
    while claims := any_store.outbox.claim(owner="a", now=at, lease=LEASE):
        assert len({c.message.channel for c in claims}) == len(claims)  # one head per channel
        for c in claims:
            order.append(c.message.payload["text"])
            any_store.outbox.sent(c, remote_id="x", now=at)
    c1 = [t for t in order if not t.startswith("run:11")]
    assert c1 == ["run:9 part 0", "run:9 part 1", "run:10 part 0"]
    assert "run:11 part 0" in order


def test_after_an_outage_the_oldest_digest_goes_first(any_store: Store) -> None:
    _queue(any_store, "run:1", 1)
    [old] = any_store.outbox.claim(owner="a", now=NOW, lease=LEASE)
    any_store.outbox.retry(old, error="Slack answered 503", at=NOW + timedelta(hours=1))
    _queue(any_store, "run:2", 1)  # the next slot's digest, queued during the outage
    # The new digest does not overtake the old one that is backing off.
    assert any_store.outbox.claim(owner="a", now=NOW + timedelta(minutes=5), lease=LEASE) == []
    [first] = any_store.outbox.claim(owner="a", now=NOW + timedelta(hours=1), lease=LEASE)
    assert first.message.digest_key == "run:1"


def test_a_lease_keeps_a_row_from_a_second_deliverer_until_it_lapses(any_store: Store) -> None:
    _queue(any_store, "run:1", 1)
    [mine] = any_store.outbox.claim(owner="a", now=NOW, lease=LEASE)
    assert any_store.outbox.claim(owner="b", now=NOW + timedelta(seconds=44), lease=LEASE) == []
    # "a" died mid-send: after the lease the row is handed out as "outcome unknown".
    [theirs] = any_store.outbox.claim(owner="b", now=NOW + LEASE, lease=LEASE)
    assert theirs.unknown and theirs.token != mine.token
    # The late original can neither record nor reset the row now.
    assert not any_store.outbox.sent(mine, remote_id="late", now=NOW)
    assert not any_store.outbox.retry(mine, error="late", at=NOW)
    assert any_store.outbox.sent(theirs, remote_id="1.2", now=NOW)
    # Nor can a stale claim reset a row another pass marked sent (the old `retry` bug).
    assert not any_store.outbox.retry(theirs, error="again", at=NOW)
    [row] = any_store.outbox.messages("run:1")
    assert (row.status, row.remote_id) == ("sent", "1.2")


def test_an_unknown_outcome_stays_unknown_until_reconciled(any_store: Store) -> None:
    _queue(any_store, "run:1", 1)
    [claim] = any_store.outbox.claim(owner="a", now=NOW, lease=LEASE)
    any_store.outbox.retry(claim, error="timeout", at=NOW + timedelta(seconds=15), unknown=True)
    health = any_store.outbox.health(NOW + timedelta(seconds=20))
    assert health.unknown == 1 and health.waiting == 1 and health.overdue_seconds == 5
    [check] = any_store.outbox.claim(owner="a", now=NOW + timedelta(seconds=15), lease=LEASE)
    assert check.unknown


def test_parent_rows_hand_out_the_parents_remote_id(any_store: Store) -> None:
    _queue(any_store, "run:1", 1)
    [parent] = any_store.outbox.claim(owner="a", now=NOW, lease=LEASE)
    _queue(any_store, "run:1:reply", 1, parent_id=parent.message.id)
    any_store.outbox.sent(parent, remote_id="100.1", now=NOW)
    [reply] = any_store.outbox.claim(owner="a", now=NOW, lease=LEASE)
    assert reply.parent_remote_id == "100.1" == reply.message.parent_remote_id


def test_dead_parts_hand_their_articles_on_once(any_store: Store) -> None:
    any_store.subscriptions.upsert("news", platform="slack", channel="C1", topics=(),
                                   cron="0 8 * * *", timezone="UTC", origin="config", now=NOW)  # fmt: skip
    _queue(any_store, "run:1", 2, subscription="news", article_ids=[[1, 2], [3]])
    [first] = any_store.outbox.claim(owner="a", now=NOW, lease=LEASE)
    any_store.outbox.dead(first, error="Slack chat.postMessage: invalid_blocks", now=NOW)
    assert any_store.outbox.dead_parts("news") == {first.message.id: (1, 2)}
    health = any_store.outbox.health(NOW)
    assert health.dead == 1 and "invalid_blocks" in (health.last_error or "")
    with any_store.engine.begin() as conn:
        assert any_store.outbox.mark_carried([first.message.id], conn) == 1
    assert any_store.outbox.dead_parts("news") == {}
    assert any_store.outbox.health(NOW).dead == 0


@pytest.mark.parametrize("threads", [6])
def test_concurrent_deliverers_claim_each_row_exactly_once(any_store: Store, threads: int) -> None:
    for k in range(12):
        _queue(any_store, f"run:{k}", 3, channel=f"C{k % 4}")
    taken: list[str] = []
    lock = threading.Lock()

    def deliverer(name: str) -> None:
        idle = 0
        while idle < 3:
            claims = any_store.outbox.claim(owner=name, now=NOW, lease=LEASE, limit=2)
            idle = 0 if claims else idle + 1
            for c in claims:
                with lock:
                    taken.append(c.message.payload["text"])
                assert any_store.outbox.sent(c, remote_id=name, now=NOW)

    workers = [threading.Thread(target=deliverer, args=(f"d{i}",)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert Counter(taken) == Counter(f"run:{k} part {i}" for k in range(12) for i in range(3))
    for k in range(12):  # and still in order within each digest
        assert [m.status for m in any_store.outbox.messages(f"run:{k}")] == ["sent"] * 3
