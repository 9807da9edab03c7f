"""Hot-path queries read what they return (or their window), not the whole store.

Each test runs the production call on a store of many old rows and a few that matter, and
looks at the plan of the SQL the call ran (PostgreSQL: ``EXPLAIN`` after ``ANALYZE``) or at
the work SQLite did (virtual-machine steps, counted by a progress handler): never at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, text

from digests.store import Store
from digests.store.export import articles_rows, stories_rows
from digests.store.schema import articles, stories
from testkit.sqlcount import sqlite_steps, statements
from tests.conftest import NOW

_STEP = 100  # SQLite VM instructions a progress-handler call stands for


def _old_articles(store: Store, n: int, *, first: int = 0, at: datetime) -> None:
    """``n`` bare article rows stored at ``at`` (what the queries read, nothing else)."""
    with store.engine.begin() as conn:
        conn.execute(
            insert(articles),
            [
                {"locator": f"test://{i}", "body_hash": f"h{i}", "title": f"Old {i}",
                 "body": "Text.", "summary": [], "keyphrases": [], "ingested_at": at}
                for i in range(first, first + n)
            ],
        )  # fmt: skip


def _pg_plan(store: Store, call: Callable[[], object], table: str) -> str:
    """The PostgreSQL plans of the statements ``call`` runs that read ``table``."""
    with statements(store.engine) as ran:
        call()
    plans = []
    with store.engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        for sql, params, _thread in ran:
            if sql.lstrip().upper().startswith("SELECT") and f"FROM {table}" in sql:
                cursor.execute("EXPLAIN " + sql, params)
                plans.append("\n".join(row[0] for row in cursor.fetchall()))
    assert plans, f"no statement read {table}"
    return "\n".join(plans)


# -- a re-tag's last week of undelivered articles (refit, a topic added, a source's tags) -----


def _recent(store: Store) -> list[int]:
    return store.topics.recent_undelivered(NOW - timedelta(days=7), limit=50_000)


def test_the_retag_week_costs_what_the_week_holds_not_the_store(tmp_path: Path) -> None:
    """``ingested_at >= since ORDER BY id DESC`` walked every article when the week held fewer
    than the limit (always): ten times the old articles cost ten times the work."""

    def steps(old: int) -> int:
        store = Store.open(f"sqlite:///{tmp_path / f'{old}.db'}")
        _old_articles(store, old, at=NOW - timedelta(days=60))
        _old_articles(store, 20, first=old, at=NOW)  # the week
        assert len(_recent(store)) == 20
        counted = sqlite_steps(store.engine, lambda: _recent(store), every=_STEP)
        store.close()
        return counted

    small, large = steps(300), steps(3000)
    assert large < 2 * small, (small, large)


def test_the_retag_week_is_read_by_its_index_on_postgresql(pg_store: Store) -> None:
    _old_articles(pg_store, 5000, at=NOW - timedelta(days=60))
    _old_articles(pg_store, 20, first=5000, at=NOW)
    with pg_store.engine.begin() as conn:
        conn.execute(text("ANALYZE articles"))
    plan = _pg_plan(pg_store, lambda: _recent(pg_store), "articles")
    assert "ix_articles_ingested_at" in plan and "Seq Scan" not in plan, plan
    assert len(_recent(pg_store)) == 20


# -- the exports' --since (`digestbot articles --since`, `digestbot stories --since`) ---------


def _dated_store(path: Path, old: int) -> Store:
    """``old`` one-article stories of two months ago, then 20 of today (the week's)."""
    store = Store.open(f"sqlite:///{path}")
    with store.engine.begin() as conn:
        for first, n, at in ((0, old, NOW - timedelta(days=60)), (old, 20, NOW)):
            numbers = range(first + 1, first + n + 1)
            conn.execute(
                insert(stories),
                [
                    {"id": i, "headline": f"Story {i}", "first_seen": at, "last_seen": at,
                     "article_count": 1, "profile": {}, "created_at": at}
                    for i in numbers
                ],
            )  # fmt: skip
            conn.execute(
                insert(articles),
                [
                    {"id": i, "locator": f"test://{i}", "body_hash": f"h{i}", "title": f"Story {i}",
                     "body": "Text.", "summary": [], "keyphrases": [], "published": at,
                     "ingested_at": at, "story_id": i}
                    for i in numbers
                ],
            )  # fmt: skip
    return store


@pytest.mark.parametrize("rows", [articles_rows, stories_rows], ids=["articles", "stories"])
def test_an_export_since_a_date_costs_what_it_lists_not_the_store(
    tmp_path: Path, rows: Callable[..., Iterator[object]]
) -> None:
    """``--since 7d`` walked every row by id from the first ever stored, keeping the week's:
    ten times the old rows cost about ten times the work for the same 20 lines."""

    def steps(old: int) -> int:
        store = _dated_store(tmp_path / f"{old}.db", old)

        def export() -> int:
            return sum(1 for _ in rows(store.engine, since=NOW - timedelta(days=7), page=8))

        assert export() == 20
        counted = sqlite_steps(store.engine, export, every=_STEP)
        store.close()
        return counted

    small, large = steps(300), steps(3000)
    assert large < 2 * small, (small, large)


def test_an_export_since_a_date_reads_the_window_by_its_index_on_postgresql(
    pg_store: Store,
) -> None:
    _old_articles(pg_store, 5000, at=NOW - timedelta(days=60))
    _old_articles(pg_store, 20, first=5000, at=NOW)
    with pg_store.engine.begin() as conn:
        conn.execute(text("ANALYZE articles"))
    since = NOW - timedelta(days=7)
    plan = _pg_plan(pg_store, lambda: list(articles_rows(pg_store.engine, since=since)), "articles")
    assert "ix_articles_dated" in plan and "Seq Scan" not in plan, plan
