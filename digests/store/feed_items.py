"""Feed entries already ingested, per source: so a re-dated or re-ordered feed posts nothing twice.

An entry that failed (its article page down, its text unreadable) has a row too, counting the
polls it failed (``failures``); it is not seen until it is ingested or given up, which
``digests.ingest.sources`` decides from that count (``digests.ingest.feeds.ENTRY_POLLS``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from digests.store.schema import articles, documents, feed_items, sources

# Retry rows one poll reads to prune (see FeedItems.prune): twice a feed's MAX_FEED_ENTRIES,
# so the rows of the entries it lists never fill a batch and every poll frees some.
PRUNE_BATCH = 2000


class FeedItems:
    """Rows of ``feed_items``: (source, entry identity) → the article it became, if any."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def seen(self, source_id: int, identities: Iterable[str]) -> set[str]:
        """Those of ``identities`` already ingested from this source (or given up)."""
        return set(self._rows(source_id, identities, pending=False))

    def failures(self, source_id: int, identities: Iterable[str]) -> dict[str, int]:
        """Those of ``identities`` not ingested yet that failed before: the polls they failed."""
        return self._rows(source_id, identities, pending=True)

    def _rows(self, source_id: int, identities: Iterable[str], *, pending: bool) -> dict[str, int]:
        wanted = list(dict.fromkeys(identities))
        failures = feed_items.c.failures
        found: dict[str, int] = {}
        with self._engine.connect() as conn:
            # Chunks keep the IN list under SQLite's bound-parameter limit.
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                query = select(feed_items.c.identity, failures).where(
                    feed_items.c.source_id == source_id,
                    feed_items.c.identity.in_(chunk),
                    failures.is_not(None) if pending else failures.is_(None),
                )
                found.update((row.identity, row.failures or 0) for row in conn.execute(query))
        return found

    def mark(self, source_id: int, identity: str, *, locator: str, now: datetime) -> None:
        """Remember an entry as ingested, linked to the article its document became."""
        self.mark_many(source_id, {locator: identity}, now=now)

    def mark_many(
        self,
        source_id: int,
        entries: Mapping[str, str],
        *,
        now: datetime,
        failed: Collection[str] = (),
    ) -> bool:
        """Remember entries (locator → identity) as ingested, and count one more failed poll
        for the entries (identities) ``failed``, in one transaction.

        Call it only after their articles are stored: its commit waits for the WAL flush, which
        makes those (committed without waiting) durable first (see digests.store.articles).
        An entry another replica or poll marked first stays as it is: seen either way.

        False, and nothing written, when the source is no longer there (`digestbot sources
        remove` while it was polled): its entries are not remembered for a source that is gone.
        """
        if not entries and not failed:
            return True
        try:
            with self._engine.begin() as conn:
                if not _source_held(conn, source_id):
                    return False
                if entries:
                    self._insert(conn, source_id, entries, now)
                if failed:
                    self._count_failed(conn, source_id, failed, now)
        except IntegrityError:
            # SQLite: removed between the look and the insert (its look takes no lock).
            with self._engine.connect() as conn:
                if not _source_held(conn, source_id):
                    return False
            raise
        return True

    def prune(self, source_id: int, listed: Collection[str]) -> int:
        """Forget this source's entries still being retried that its feed no longer lists
        (``listed``: the identities of the entries it lists now): a feed drops old entries,
        and an entry gone before it was ingested or given up would keep its row for ever.
        At most :data:`PRUNE_BATCH` rows are read, by the partial index on the retried ones
        (0022); a feed lists at most MAX_FEED_ENTRIES, so the rest go at the next polls.
        Returns how many rows went."""
        retried = (
            select(feed_items.c.id, feed_items.c.identity)
            .where(feed_items.c.source_id == source_id, feed_items.c.failures.is_not(None))
            .limit(PRUNE_BATCH)
        )
        with self._engine.begin() as conn:
            gone = [row.id for row in conn.execute(retried) if row.identity not in listed]
            for start in range(0, len(gone), 500):
                conn.execute(
                    delete(feed_items).where(
                        feed_items.c.id.in_(gone[start : start + 500]),
                        feed_items.c.failures.is_not(None),  # not ingested meanwhile
                    )
                )
        return len(gone)

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
        statement = _upsert(conn)
        statement = statement.on_conflict_do_update(  # an entry retried until now: ingested
            index_elements=[feed_items.c.source_id, feed_items.c.identity],
            set_={
                "article_id": statement.excluded.article_id,
                "seen_at": statement.excluded.seen_at,
                "failures": None,
            },
            where=feed_items.c.failures.is_not(None),
        )
        conn.execute(statement, list(rows.values()))

    @staticmethod
    def _count_failed(
        conn: Connection, source_id: int, identities: Collection[str], now: datetime
    ) -> None:
        statement = _upsert(conn)
        statement = statement.on_conflict_do_update(  # an entry ingested meanwhile stays so
            index_elements=[feed_items.c.source_id, feed_items.c.identity],
            set_={"failures": feed_items.c.failures + 1, "seen_at": statement.excluded.seen_at},
            where=feed_items.c.failures.is_not(None),
        )
        rows = [
            {"source_id": source_id, "identity": i, "failures": 1, "seen_at": now}
            for i in dict.fromkeys(identities)
        ]
        conn.execute(statement, rows)

    def entries(self, source_id: int, article_ids: Sequence[int]) -> list[tuple[int, str, str]]:
        """This source's entries that became (or copied) one of ``article_ids``: (article id,
        entry identity, the article's locator)."""
        out: list[tuple[int, str, str]] = []
        with self._engine.connect() as conn:
            for start in range(0, len(article_ids), 500):
                query = (
                    select(feed_items.c.article_id, feed_items.c.identity, articles.c.locator)
                    .join(articles, articles.c.id == feed_items.c.article_id)
                    .where(
                        feed_items.c.source_id == source_id,
                        feed_items.c.article_id.in_(list(article_ids[start : start + 500])),
                    )
                )
                out += [(int(a), str(i), str(loc)) for a, i, loc in conn.execute(query)]
        return out

    def carriers(self, article_ids: Sequence[int], *, besides: int) -> dict[int, list[int]]:
        """The other feed and page sources (not ``besides``) whose entries became or copied one
        of ``article_ids``: source id → those articles."""
        out: dict[int, list[int]] = {}
        with self._engine.connect() as conn:
            for start in range(0, len(article_ids), 500):
                query = select(feed_items.c.source_id, feed_items.c.article_id).where(
                    feed_items.c.article_id.in_(list(article_ids[start : start + 500])),
                    feed_items.c.source_id != besides,
                )
                for source_id, article_id in conn.execute(query.distinct()):
                    out.setdefault(int(source_id), []).append(int(article_id))
        return out

    def article_id(self, source_id: int, identity: str) -> int | None:
        """The article an entry became (None if unseen, failed or a duplicate of another)."""
        with self._engine.connect() as conn:
            return conn.scalar(
                select(feed_items.c.article_id).where(
                    feed_items.c.source_id == source_id, feed_items.c.identity == identity
                )
            )

    def count(self, source_id: int) -> int:
        """How many entries of this source have been ingested (or given up)."""
        with self._engine.connect() as conn:
            return int(
                conn.scalar(
                    select(func.count())
                    .select_from(feed_items)
                    .where(feed_items.c.source_id == source_id, feed_items.c.failures.is_(None))
                )
                or 0
            )


def _upsert(conn: Connection) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into feed_items that can say what a conflict does, in this dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(feed_items)
    return sqlite.insert(feed_items)


def _source_held(conn: Connection, source_id: int) -> bool:
    """Whether the source row exists; on PostgreSQL it is then held (``FOR KEY SHARE``) until
    the transaction ends, so a concurrent removal waits instead of breaking the foreign key."""
    query = select(sources.c.id).where(sources.c.id == source_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(key_share=True)
    return conn.execute(query).first() is not None
