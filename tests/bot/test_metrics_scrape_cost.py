"""A /metrics scrape costs the same whatever the store's size (query-plan audit).

Each scrape counted every outbox row (``SCAN outbox USING COVERING INDEX``) and every
article: tens of milliseconds at 100k rows on PostgreSQL, more at 1M, every 15 s on every
replica. The counts that grow with the store are now read at most once a minute in a
background thread; a scrape shows the latest. Measured by the SQLite VM steps the scraping
thread runs (a progress handler on every connection): the same for a store ten times larger.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, insert, text

from bot.metrics import SIZES_EVERY, Metrics
from digests.store import Store
from digests.store.schema import articles, outbox
from testkit.sqlcount import statements

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


class _Steps:
    """SQLite VM steps run by one thread, on any connection of the engine."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()
        self.count = 0

    def install(self, dbapi: sqlite3.Connection, _record: object) -> None:
        dbapi.set_progress_handler(self._step, 1)

    def _step(self) -> int:
        if threading.get_ident() == self.thread:
            self.count += 1
        return 0


def _fill(store: Store, n: int) -> None:
    """``n`` stored articles and ``n`` sent outbox rows, one pending."""
    with store.engine.begin() as conn:
        conn.execute(insert(articles), [
            {"locator": f"a{i}.txt", "body_hash": f"{i:064x}", "title": f"t{i}", "body": "b",
             "summary": [], "keyphrases": [], "ingested_at": NOW} for i in range(n)
        ])  # fmt: skip
        conn.execute(insert(outbox), [
            {"digest_key": f"k{i}", "part": 0, "platform": "slack", "channel": "C1",
             "payload": {"text": "x"}, "status": "sent", "attempts": 1, "next_attempt_at": NOW,
             "created_at": NOW, "sent_at": NOW, "checks": 0} for i in range(n)
        ])  # fmt: skip
    store.outbox.enqueue("new", [{"text": "y"}], platform="slack", channel="C1", now=NOW)


@pytest.fixture
def sized(tmp_path: Path) -> Iterator[callable]:  # type: ignore[valid-type]
    opened: list[Store] = []

    def make(n: int) -> Store:
        s = Store.open(f"sqlite:///{tmp_path / f'{n}' / 'test.db'}")
        opened.append(s)
        _fill(s, n)
        return s

    yield make
    for s in opened:
        s.close()


def _scrape_steps(store: Store) -> tuple[int, str]:
    """VM steps of a scrape made once the counts were read (within SIZES_EVERY)."""
    now = [NOW]
    metrics = Metrics(store, clock=lambda: now[0])
    first = metrics.render().decode()  # the first scrape of a process counts inline
    assert f"digestbot_articles_stored {store.articles.count()}.0" in first
    steps = _Steps()
    event.listen(store.engine, "connect", steps.install)
    store.engine.dispose()  # new connections, each with the handler
    now[0] += SIZES_EVERY / 2
    text = metrics.render().decode()
    event.remove(store.engine, "connect", steps.install)
    return steps.count, text


def test_a_scrape_costs_the_same_for_a_ten_times_larger_store(sized) -> None:  # type: ignore[no-untyped-def]
    small, small_text = _scrape_steps(sized(200))
    large, large_text = _scrape_steps(sized(2000))
    assert small > 0
    assert large == small
    assert 'digestbot_outbox_messages{status="sent"} 2000.0' in large_text
    assert 'digestbot_outbox_messages{status="pending"} 1.0' in large_text
    assert "digestbot_articles_stored 2000.0" in large_text
    assert "digestbot_articles_stored 200.0" in small_text


def test_counts_are_read_again_in_the_background_after_a_minute(store: Store) -> None:
    now = [NOW]
    metrics = Metrics(store, clock=lambda: now[0])
    assert 'digestbot_outbox_messages{status="pending"} 0.0' in metrics.render().decode()
    store.outbox.enqueue("k", [{"text": "x"}], platform="slack", channel="C1", now=NOW)
    now[0] += timedelta(seconds=30)  # within the minute: the count read before
    assert 'digestbot_outbox_messages{status="pending"} 0.0' in metrics.render().decode()
    now[0] += timedelta(seconds=30)  # a minute old: counted again off the scrape
    metrics.render()
    for thread in threading.enumerate():
        if thread.name == "metrics-sizes":
            thread.join(timeout=30)
    assert 'digestbot_outbox_messages{status="pending"} 1.0' in metrics.render().decode()


def test_a_large_postgresql_store_is_sized_from_its_estimate_not_counted(
    pg_store: Store,
) -> None:
    """Each refresh counted every article and every outbox row (37 ms for the articles at
    100k, growing with the store). Past ``exact_below`` rows a PostgreSQL table's size is
    the planner's estimate (one pg_class row), said by digestbot_store_sizes_estimated; the
    outbox statuses but sent are still exact, read by their index."""
    _fill(pg_store, 300)
    with pg_store.engine.begin() as conn:
        conn.execute(text("ANALYZE articles"))
        conn.execute(text("ANALYZE outbox"))
    with statements(pg_store.engine) as statements_ran:
        large = Metrics(pg_store, clock=lambda: NOW, exact_below=100).render().decode()
    ran = [" ".join(r.sql.split()) for r in statements_ran]
    assert not [sql for sql in ran if "FROM articles" in sql], ran  # no count of them
    assert "digestbot_articles_stored 300.0" in large  # ANALYZE saw them all
    assert 'digestbot_outbox_messages{status="sent"} 300.0' in large
    assert 'digestbot_outbox_messages{status="pending"} 1.0' in large
    assert "digestbot_store_sizes_estimated 1.0" in large
    exact = Metrics(pg_store, clock=lambda: NOW).render().decode()  # below 100k: counted
    assert "digestbot_store_sizes_estimated 0.0" in exact
    assert "digestbot_articles_stored 300.0" in exact
