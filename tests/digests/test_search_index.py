"""SQLite's full-text index follows an article's title and body, and only those (0017)."""

from __future__ import annotations

from sqlalchemy import text

from digests.store import Store
from tests.conftest import NOW, make_processed


def _changes(store: Store, statement: str, **params: object) -> int:
    """Rows written by ``statement``, those of the triggers it fires included."""
    with store.engine.begin() as conn:
        before = conn.exec_driver_sql("SELECT total_changes()").scalar()
        conn.execute(text(statement), params)
        after = conn.exec_driver_sql("SELECT total_changes()").scalar()
    assert isinstance(before, int) and isinstance(after, int)
    return after - before


def test_setting_a_story_does_not_rewrite_the_search_index_and_a_new_title_is_found(
    store: Store,
) -> None:
    article = store.articles.add(
        make_processed("Lighthouse keeper retires", "The lighthouse keeper retires today."),
        now=NOW,
    )
    assert article is not None
    # Story assignment sets story_id on every stored article: one row, no index rewrite
    # (the 0001 trigger deleted and re-tokenized title and body: the index's own rows, 9 here).
    assert (
        _changes(store, "UPDATE articles SET story_id = story_id WHERE id = :id", id=article) == 1
    )
    assert store.articles.search("lighthouse", limit=5) == [article]
    # A change of the text itself still reaches the index.
    changed = _changes(
        store, "UPDATE articles SET title = 'Harbour master retires' WHERE id = :id", id=article
    )
    assert changed > 1  # the index's rows too
    assert store.articles.search("harbour", limit=5) == [article]
