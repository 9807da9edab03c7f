"""PostgreSQL full-text ranking is bounded: newest candidates of the recent window first."""

from __future__ import annotations

import pytest

from digests.store import Store, search
from tests.conftest import NOW, make_processed


def test_ranking_reads_a_recent_window_then_looks_further_back(
    pg_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "RECENT", 4)
    monkeypatch.setattr(search, "CANDIDATES", 3)
    add = pg_store.articles.add
    rare = add(
        make_processed("Lighthouse keeper retires", "The lighthouse keeper retires."), now=NOW
    )
    ids = [
        add(
            make_processed(f"Harbour news {i}", f"Harbour works {i} continue. Port {i} open."),
            now=NOW,
        )
        for i in range(8)
    ]
    # "harbour" matches 8 articles; only the 3 newest of the newest 4 articles are ranked.
    found = pg_store.articles.search("harbour", limit=2)
    assert len(found) == 2 and set(found) <= set(ids[-3:])
    # Too few matches in the window: the whole corpus is searched (still newest-first capped).
    assert pg_store.articles.search("lighthouse keeper", limit=2) == [rare]
    assert set(pg_store.articles.search("harbour", limit=5)) <= set(ids[-3:])  # the cap holds
    # Any term, when all of them match nothing; the planner setting ends with the transaction.
    assert pg_store.articles.search("lighthouse zebra", limit=5) == [rare]
    with pg_store.engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW enable_indexscan").scalar() == "on"
