"""Refused parts no digest will carry are kept DEAD_KEPT, not forever (query-plan audit).

A refused (dead) part stays until a digest of its subscription carries its articles; one queued
ad hoc (`digest --post-to`) or of a subscription removed since is never carried, so such rows
piled up forever, and every /healthz, `digestbot status` and /metrics scrape read and sorted all
of them (``failing()``, ``health()``: ``USE TEMP B-TREE FOR ORDER BY`` over every dead row).
Each refusal now deletes those queued more than DEAD_KEPT ago; a live or paused subscription's
are kept (their articles are still to be carried). Measured by the SQLite VM steps of the
delivery health read: the same for ten times more old refused rows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from bot.delivery_health import delivery_health
from digests.store import Store
from digests.store.outbox import DEAD_KEPT
from digests.store.schema import outbox
from testkit.sqlcount import sqlite_steps

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
OLD = NOW - DEAD_KEPT - timedelta(days=1)


def _refused(store: Store, key: str, *, subscription: str | None, at: datetime) -> dict:
    return {"digest_key": key, "part": 0, "platform": "slack", "channel": "C1",
            "payload": {"text": "x"}, "status": "dead", "attempts": 1, "next_attempt_at": at,
            "created_at": at, "last_error": f"refused {key}", "subscription": subscription,
            "article_ids": [1], "checks": 0}  # fmt: skip


def _store(tmp_path: Path, old: int) -> Store:
    """``old`` refused rows of each never-carried kind, queued past DEAD_KEPT; a live and a
    paused subscription's old refused row; then a part refused now."""
    store = Store.open(f"sqlite:///{tmp_path / str(old) / 'test.db'}")
    for name in ("live", "held"):
        store.subscriptions.upsert(name, platform="slack", channel="C1", topics=(),
                                   cron="0 8 * * *", timezone="UTC", origin="config", now=OLD)  # fmt: skip
    store.subscriptions.disable("held", "channel gone")
    rows = [_refused(store, f"adhoc:{i}", subscription=None, at=OLD) for i in range(old)]
    rows += [_refused(store, f"gone:{i}", subscription="removed", at=OLD) for i in range(old)]
    rows += [_refused(store, "live:old", subscription="live", at=OLD)]
    rows += [_refused(store, "held:old", subscription="held", at=OLD)]
    rows += [_refused(store, "adhoc:recent", subscription=None, at=NOW - DEAD_KEPT / 2)]
    with store.engine.begin() as conn:
        conn.execute(insert(outbox), rows)
    store.outbox.enqueue("run:now", [{"text": "y"}], platform="slack", channel="C2", now=NOW,
                         subscription="live", article_ids=[[2]])  # fmt: skip
    [claim] = store.outbox.claim(owner="t", now=NOW, lease=timedelta(seconds=45))
    assert store.outbox.dead(claim, error="refused run:now", now=NOW)
    return store


def _health_steps(store: Store) -> int:
    return sqlite_steps(store.engine, lambda: delivery_health(store, now=NOW))


def test_refusals_prune_only_the_old_rows_no_digest_will_carry(tmp_path: Path) -> None:
    store = _store(tmp_path, 20)
    with store.engine.connect() as conn:
        keys = set(conn.scalars(select(outbox.c.digest_key).where(outbox.c.status == "dead")))
    store.close()
    # Kept: a live subscription's (its next digest carries it), a paused one's (carried when
    # it is resumed), the recent ad hoc one, the one refused now.
    assert keys == {"live:old", "held:old", "adhoc:recent", "run:now"}


def test_delivery_health_reads_the_same_for_ten_times_more_old_refusals(tmp_path: Path) -> None:
    small, large = _store(tmp_path, 50), _store(tmp_path, 500)
    try:
        small_steps, large_steps = _health_steps(small), _health_steps(large)
        health = delivery_health(large, now=NOW)
    finally:
        small.close()
        large.close()
    assert small_steps > 0 and large_steps == small_steps
    assert health.dead == 3 and not health.ok  # live:old, adhoc:recent, run:now
    assert any("held" in p for p in health.paused)
