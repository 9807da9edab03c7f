"""Queue order per channel on PostgreSQL when digests of one channel are queued concurrently.

Outbox ids come from a sequence when a row is inserted, but rows become visible when their
transaction commits. Two digests of one channel queued together (two subscriptions, one
minute, two replicas) could commit in the opposite order of their ids: a deliverer then saw
the newer digest as the channel's head, sent it, and the older one's rows, committed a moment
later, became a second head of the same channel — two sends in flight to one channel and
the older digest after the newer. :meth:`Outbox.lock_channels` (taken by every enqueue)
makes one channel's queueing transactions commit in id order.
"""

from __future__ import annotations

import threading
from datetime import timedelta

from digests.store import Store
from tests.conftest import NOW

LEASE = timedelta(seconds=45)


def test_a_digest_queued_first_commits_first_so_the_channel_has_one_head(pg_store: Store) -> None:
    outbox = pg_store.outbox
    older_inserted = threading.Event()
    release_older = threading.Event()
    newer_done = threading.Event()

    def older() -> None:  # the first digest's transaction: ids first, commit late
        with pg_store.engine.begin() as conn:
            outbox.enqueue("run:1", [{"text": "a0"}, {"text": "a1"}], platform="slack",
                           channel="C1", now=NOW, conn=conn)  # fmt: skip
            older_inserted.set()
            release_older.wait(10)

    def newer() -> None:
        older_inserted.wait(10)
        outbox.enqueue("run:2", [{"text": "b0"}], platform="slack", channel="C1", now=NOW)
        newer_done.set()

    threads = [threading.Thread(target=older), threading.Thread(target=newer)]
    for t in threads:
        t.start()
    # The newer digest waits for the older one's transaction (one channel, one queue order) ...
    newer_done.wait(1.0)
    claimed = [c.message.digest_key for c in outbox.claim(owner="r1", now=NOW, lease=LEASE)]
    release_older.set()
    for t in threads:
        t.join(10)
    claimed += [c.message.digest_key for c in outbox.claim(owner="r2", now=NOW, lease=LEASE)]
    # ... so a deliverer only ever sees the older digest's first part as the channel's head.
    assert claimed == ["run:1"]
    rows = outbox.waiting()
    assert [(m.digest_key, m.part) for m in rows] == [("run:1", 0), ("run:1", 1), ("run:2", 0)]
