"""Feed entries already ingested, per source: so a re-dated or re-ordered feed posts nothing twice."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from digests.store.schema import documents, feed_items


class FeedItems:
    """Rows of ``feed_items``: (source, entry identity) → the article it became, if any."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def seen(self, source_id: int, identities: Iterable[str]) -> set[str]:
        """Those of ``identities`` already ingested from this source."""
        wanted = list(dict.fromkeys(identities))
        found: set[str] = set()
        with self._engine.connect() as conn:
            # Chunks keep the IN list under SQLite's bound-parameter limit.
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                found.update(
                    conn.scalars(
                        select(feed_items.c.identity).where(
                            feed_items.c.source_id == source_id, feed_items.c.identity.in_(chunk)
                        )
                    )
                )
        return found

    def mark(self, source_id: int, identity: str, *, locator: str, now: datetime) -> None:
        """Remember an entry as ingested, linked to the article its document became."""
        with self._engine.begin() as conn:
            article_id = conn.scalar(
                select(documents.c.article_id).where(documents.c.locator == locator)
            )
            try:
                with conn.begin_nested():
                    conn.execute(
                        insert(feed_items).values(
                            source_id=source_id,
                            identity=identity,
                            article_id=article_id,
                            seen_at=now,
                        )
                    )
            except IntegrityError:
                pass  # another replica or poll got there first: the entry is seen either way

    def article_id(self, source_id: int, identity: str) -> int | None:
        """The article an entry became (None if unseen, failed or a duplicate of another)."""
        with self._engine.connect() as conn:
            return conn.scalar(
                select(feed_items.c.article_id).where(
                    feed_items.c.source_id == source_id, feed_items.c.identity == identity
                )
            )

    def count(self, source_id: int) -> int:
        """How many entries of this source have been ingested."""
        with self._engine.connect() as conn:
            return int(
                conn.scalar(
                    select(func.count())
                    .select_from(feed_items)
                    .where(feed_items.c.source_id == source_id)
                )
                or 0
            )
