"""The exports' cost grows with what they list, not with its square (SQLite's planner).

`digestbot stories --topic economy` on a 50,000-article SQLite store (17,475 stories, 6,825 of
the articles tagged #economy) took 50 s where `digestbot stories` took 6 s: for every story it
read every #economy tag row (the tag index) and looked for one of the story's articles among
them. The cost is counted in SQLite virtual-machine steps (a progress handler), so the test
says how the work grows, not how fast one machine is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, insert

from digests.store import Store
from digests.store.export import articles_rows, stories_rows
from digests.store.schema import article_tags, articles, stories
from testkit.sqlcount import sqlite_steps
from tests.conftest import NOW

_STEP = 100  # VM instructions a progress-handler call stands for


def _store_of(tmp_path: Path, n: int) -> str:
    """A migrated SQLite store of ``n`` one-article stories, each article tagged #economy."""
    url = f"sqlite:///{tmp_path / f'{n}.db'}"
    Store.open(url).close()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            insert(stories),
            [
                {"id": i, "headline": f"Story {i}", "first_seen": NOW, "last_seen": NOW,
                 "article_count": 1, "profile": {}, "created_at": NOW}
                for i in range(1, n + 1)
            ],
        )  # fmt: skip
        conn.execute(
            insert(articles),
            [
                {"id": i, "locator": f"test://{i}", "body_hash": f"h{i}", "title": f"Story {i}",
                 "body": "Text.", "summary": [], "keyphrases": [], "ingested_at": NOW,
                 "story_id": i}
                for i in range(1, n + 1)
            ],
        )  # fmt: skip
        conn.execute(
            insert(article_tags),
            [{"article_id": i, "tag": "economy", "weight": 1} for i in range(1, n + 1)],
        )
    engine.dispose()
    return url


def _steps(url: str, export: Callable[[Engine], list[object]]) -> tuple[int, int]:
    """(rows the export gave, VM steps it took, in units of ``_STEP``)."""
    engine = create_engine(url)
    rows: list[object] = []
    counted = sqlite_steps(engine, lambda: rows.extend(export(engine)), every=_STEP)
    return len(rows), counted


@pytest.mark.parametrize("rows", [stories_rows, articles_rows], ids=["stories", "articles"])
def test_an_export_of_a_topic_costs_in_proportion_to_what_it_lists(
    tmp_path: Path, rows: Callable[..., Iterator[object]]
) -> None:
    small, large = _store_of(tmp_path, 400), _store_of(tmp_path, 1600)

    def export(engine: Engine) -> list[object]:
        return list(rows(engine, topics=("economy",)))

    (n_small, small_steps), (n_large, large_steps) = _steps(small, export), _steps(large, export)
    assert (n_small, n_large) == (400, 1600)
    # Four times the stories: about four times the work (stories: 15x before, 4x after).
    assert large_steps < 6 * small_steps, (small_steps, large_steps)
