"""Feed entries already ingested, per source: so a re-dated or re-ordered feed posts nothing twice."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from digests.store.schema import documents, feed_items, sources


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
        self.mark_many(source_id, {locator: identity}, now=now)

    def mark_many(self, source_id: int, entries: Mapping[str, str], *, now: datetime) -> bool:
        """Remember entries (locator → identity) as ingested, in one transaction.

        Call it only after their articles are stored: its commit waits for the WAL flush, which
        makes those (committed without waiting) durable first (see digests.store.articles).
        An entry another replica or poll marked first stays as it is: seen either way.

        False, and nothing written, when the source is no longer there (`digestbot sources
        remove` while it was polled): its entries are not remembered for a source that is gone.
        """
        if not entries:
            return True
        try:
            with self._engine.begin() as conn:
                if not _source_held(conn, source_id):
                    return False
                self._insert(conn, source_id, entries, now)
        except IntegrityError:
            # SQLite: removed between the look and the insert (its look takes no lock).
            with self._engine.connect() as conn:
                if not _source_held(conn, source_id):
                    return False
            raise
        return True

    @staticmethod
    def _insert(
        conn: Connection, source_id: int, entries: Mapping[str, str], now: datetime
    ) -> None:
        locators = list(entries)
        became: dict[str, int | None] = {}
        # Chunks keep the IN list under SQLite's bound-parameter limit.
        for start in range(0, len(locators), 500):
            query = select(documents.c.locator, documents.c.article_id).where(
                documents.c.locator.in_(locators[start : start + 500])
            )
            became.update((row.locator, row.article_id) for row in conn.execute(query))
        rows: dict[str, dict[str, object]] = {}
        for locator, identity in entries.items():
            rows.setdefault(  # two locators of one entry: the first is what it became
                identity,
                {
                    "source_id": source_id,
                    "identity": identity,
                    "article_id": became.get(locator),
                    "seen_at": now,
                },
            )
        upsert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        statement = upsert(feed_items).on_conflict_do_nothing(
            index_elements=[feed_items.c.source_id, feed_items.c.identity]
        )
        conn.execute(statement, list(rows.values()))

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


def _source_held(conn: Connection, source_id: int) -> bool:
    """Whether the source row exists; on PostgreSQL it is then held (``FOR KEY SHARE``) until
    the transaction ends, so a concurrent removal waits instead of breaking the foreign key."""
    query = select(sources.c.id).where(sources.c.id == source_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(key_share=True)
    return conn.execute(query).first() is not None
