"""Sent outbox rows are kept ``[digest] sent_kept_days``, not forever (Outbox.prune_finished).

Every sent part stayed in the outbox for good, so the table (and whatever read it) grew with
the bot's age. Finished rows queued past the retention are deleted a batch at a time, and
nothing delivery still reads goes: unfinished and refused rows, the parent of a reply still
to send, and the table's newest row (SQLite would hand its id out again).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, event, insert, select

from digests.config import load_settings
from digests.errors import ConfigError
from digests.store import Store
from digests.store.schema import outbox
from testkit.sqlcount import sqlite_steps

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
KEPT = timedelta(days=90)
OLD = NOW - KEPT - timedelta(days=1)


def _row(key: str, status: str, at: datetime, parent: int | None = None) -> dict:
    return {"digest_key": key, "part": 0, "platform": "slack", "channel": "C1",
            "payload": {"text": key}, "status": status, "attempts": 1, "next_attempt_at": at,
            "created_at": at, "remote_id": "1.0" if status == "sent" else None,
            "subscription": "news", "article_ids": [1], "checks": 0, "parent_id": parent}  # fmt: skip


def _insert(store: Store, rows: list[dict]) -> None:
    with store.engine.begin() as conn:
        conn.execute(insert(outbox), rows)


def _keys(store: Store) -> set[str]:
    with store.engine.connect() as conn:
        return set(conn.scalars(select(outbox.c.digest_key)))


def test_old_finished_rows_go_and_what_delivery_reads_stays(any_store: Store) -> None:
    store = any_store
    _insert(store, [_row(f"old:{i}", "sent", OLD) for i in range(5)])
    _insert(store, [_row("old:carried", "carried", OLD), _row("old:unverified", "unverified", OLD),
                    _row("old:dead", "dead", OLD), _row("old:pending", "pending", OLD),
                    _row("old:parent", "sent", OLD)])  # fmt: skip
    parent = store.outbox.row_id("old:parent", 0)
    _insert(store, [_row("reply", "pending", NOW, parent=parent),
                    _row("recent", "sent", NOW - KEPT + timedelta(hours=1)),
                    _row("newest", "sent", NOW)])  # fmt: skip
    assert store.outbox.prune_finished(NOW, kept=KEPT, limit=3) == 3  # one bounded batch
    assert store.outbox.prune_finished(NOW, kept=KEPT) == 4
    assert store.outbox.prune_finished(NOW, kept=KEPT) == 0
    # Kept: refused (its articles go into the next digest), unfinished, the parent of a reply
    # still to send, and everything queued within the retention.
    assert _keys(store) == {"old:dead", "old:pending", "old:parent", "reply", "recent", "newest"}


def test_the_newest_row_is_kept_however_old_so_ids_are_never_handed_out_again(
    any_store: Store,
) -> None:
    store = any_store
    _insert(store, [_row("a", "sent", OLD), _row("b", "sent", OLD)])
    newest = store.outbox.row_id("b", 0)
    assert store.outbox.prune_finished(NOW, kept=KEPT) == 1
    assert _keys(store) == {"b"}
    store.outbox.enqueue("c", [{"text": "c"}], platform="slack", channel="C1", now=NOW)
    assert (store.outbox.row_id("c", 0) or 0) > (newest or 0)


def test_a_refusal_keeps_the_newest_row_too_so_pruned_ids_are_never_handed_out_again(
    any_store: Store,
) -> None:
    """The retention keeps the table's newest row; a refusal's own clean-up (refused parts of
    no subscription past DEAD_KEPT) deleted it when it was that row: a part queued ad hoc
    before serve was stopped for weeks, refused when it came back. SQLite then handed out the
    ids of sent rows the retention had deleted below it, which story_posts still names."""
    store = any_store
    _insert(store, [_row("shown", "sent", OLD), _row("between", "sent", OLD)])
    shown = store.outbox.row_id("shown", 0) or 0
    weeks_ago = NOW - timedelta(days=40)
    store.outbox.enqueue("ad-hoc", [{"text": "x"}], platform="slack", channel="C1", now=weeks_ago)
    newest = store.outbox.row_id("ad-hoc", 0) or 0
    assert store.outbox.prune_finished(NOW, kept=KEPT) == 2
    [claim] = store.outbox.claim(owner="t", now=NOW, lease=timedelta(minutes=1))
    assert store.outbox.dead(claim, error="channel_not_found", now=NOW)
    store.outbox.enqueue("next", [{"text": "y"}], platform="slack", channel="C1", now=NOW)
    assert (store.outbox.row_id("next", 0) or 0) > newest > shown


def _queue_reply(store: Store, parent: int, conn: Connection) -> bool:
    """What a delivery does for a story's update (bot/deliver.py, _follow_stories), in its run's
    transaction: its channel held, the digest's part queued, then the reply under the message
    that showed the story, if that one went out; whether a reply was queued."""
    store.outbox.lock_channels(conn, [("slack", "C1")])
    store.outbox.enqueue(
        "digest", [{"text": "digest"}], platform="slack", channel="C1", now=NOW, conn=conn
    )
    if not store.outbox.was_sent(parent, conn=conn):
        return False  # no thread to reply in: the update is in the digest alone
    store.outbox.enqueue(
        "digest:update.7",
        [{"text": "update"}],
        platform="slack",
        channel="C1",
        now=NOW,
        parent_id=parent,
        conn=conn,
        locked=True,
    )
    return True


def _started(
    store: Store, work: Callable[[], object], *, writes: tuple[str, ...]
) -> threading.Thread:
    """``work`` in a thread, once one of its ``writes`` statements has started and then either
    waited half a second (for a lock the caller holds) or finished."""
    began = threading.Event()

    def seen(_conn, _cursor, statement: str, *_rest: object) -> None:  # type: ignore[no-untyped-def]
        if threading.current_thread() is thread and statement.lstrip().startswith(writes):
            began.set()

    thread = threading.Thread(target=work)
    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        thread.start()
        assert began.wait(10), "the statement never ran"
        thread.join(0.5)
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    return thread


def test_a_reply_queued_as_its_parent_is_pruned_keeps_its_parent(any_store: Store) -> None:
    """The prune read the old rows, then deleted them by id: a reply queued (and committed)
    in between under one of them lost its parent, and was posted top-level. The prune now
    chooses its rows in its one statement: after the queueing transaction (SQLite: one
    writer), or past the parent that transaction holds (PostgreSQL: locked by was_sent)."""
    store = any_store
    _insert(store, [_row("shown", "sent", OLD), _row("other", "sent", OLD),
                    _row("newest", "sent", NOW)])  # fmt: skip
    parent = store.outbox.row_id("shown", 0) or 0
    pruned: list[int] = []
    with store.engine.begin() as conn:
        assert _queue_reply(store, parent, conn)
        pruning = _started(
            store,
            lambda: pruned.append(store.outbox.prune_finished(NOW, kept=KEPT)),
            writes=("DELETE",),
        )
    pruning.join(30)
    assert pruned == [1]  # "other"
    assert _keys(store) == {"shown", "newest", "digest", "digest:update.7"}
    [digest] = store.outbox.claim(owner="t", now=NOW, lease=timedelta(minutes=1))
    assert store.outbox.sent(digest, remote_id="2.0", now=NOW)
    [reply] = store.outbox.claim(owner="t", now=NOW, lease=timedelta(minutes=1))
    assert reply.message.digest_key == "digest:update.7"
    assert reply.parent_remote_id == "1.0"  # in the thread, not top-level
    assert store.outbox.sent(reply, remote_id="3.0", now=NOW)
    assert store.outbox.prune_finished(NOW, kept=KEPT) == 1  # the parent, its reply gone out
    assert "shown" not in _keys(store)


def test_a_parent_pruned_as_a_reply_is_queued_gets_no_reply(any_store: Store) -> None:
    """The other order: the prune deletes the parent first. The queueing transaction read it
    as sent (PostgreSQL: the delete not yet committed) and queued a reply under a row then
    gone, posted top-level. It now waits for the prune and queues no reply."""
    store = any_store
    _insert(store, [_row("shown", "sent", OLD), _row("newest", "sent", NOW)])
    parent = store.outbox.row_id("shown", 0) or 0
    deleted, go = threading.Event(), threading.Event()

    def hold(_conn, _cursor, statement: str, *_rest: object) -> None:  # type: ignore[no-untyped-def]
        if threading.current_thread() is pruning and statement.lstrip().startswith("DELETE"):
            deleted.set()
            go.wait(30)  # the parent deleted, not yet committed

    queued: list[bool] = []

    def queue() -> None:
        with store.engine.begin() as conn:
            queued.append(_queue_reply(store, parent, conn))

    pruning = threading.Thread(target=lambda: store.outbox.prune_finished(NOW, kept=KEPT))
    event.listen(store.engine, "after_cursor_execute", hold)
    try:
        pruning.start()
        assert deleted.wait(10), "the prune deleted nothing"
        queueing = _started(store, queue, writes=("INSERT",))
        go.set()
        pruning.join(30)
        queueing.join(30)
    finally:
        go.set()
        event.remove(store.engine, "after_cursor_execute", hold)
    assert queued == [False] and _keys(store) == {"newest", "digest"}


def _config(config_dir: Path, text: str) -> None:
    (config_dir / "digestbot.toml").write_text(text)


def test_the_retention_must_outlast_a_storys_look_back(config_dir: Path) -> None:
    assert load_settings({}, config_dir).sent_kept_days == 90  # the default
    _config(config_dir, "[digest]\nsent_kept_days = 89\n")
    with pytest.raises(ConfigError, match=r"digest\.sent_kept_days: 89 .* at least 90"):
        load_settings({}, config_dir)
    # A longer story window makes a story's update come later: the floor follows it.
    _config(config_dir, "[stories]\nwindow_days = 100\n")
    with pytest.raises(ConfigError, match=r"at least 130 with stories\.window_days = 100"):
        load_settings({}, config_dir)
    _config(config_dir, "[stories]\nwindow_days = 100\n[digest]\nsent_kept_days = 130\n")
    assert load_settings({}, config_dir).sent_kept_days == 130


def _prune_steps(path: Path, recent: int) -> int:
    """SQLite VM steps (in hundreds) of one prune: 20 old sent rows among ``recent`` kept."""
    store = Store.open(f"sqlite:///{path}")
    _insert(store, [_row(f"old:{i}", "sent", OLD) for i in range(20)])
    _insert(store, [_row(f"new:{i}", "sent", NOW - timedelta(days=1)) for i in range(recent)])
    pruned: list[int] = []
    steps = sqlite_steps(
        store.engine, lambda: pruned.append(store.outbox.prune_finished(NOW, kept=KEPT)), every=100
    )
    assert pruned == [20]
    store.close()
    return steps


def test_a_prune_reads_the_old_rows_not_every_sent_row(tmp_path: Path) -> None:
    """By ``ix_outbox_status_created`` (0025), not a pass over every sent row: ten times the
    rows within the retention cost (about) the same."""
    small, large = _prune_steps(tmp_path / "a.db", 300), _prune_steps(tmp_path / "b.db", 3000)
    assert large < 2 * small, (small, large)
