"""Articles, their tags and sentences, and the document hashes that make ingest incremental.

Ingest stores a pipeline chunk at a time (:meth:`Articles.add_chunk`): one transaction and
one multi-row statement per table, so a chunk of 64 costs PostgreSQL about ten round trips, where
one article at a time cost ~26 per article (:meth:`Articles.add` remains for single articles
and for a chunk that failed). What ordering and durability rest on:

* An article and its document row commit together (one transaction). Article and document
  writes do not wait for the WAL flush on PostgreSQL (:func:`_no_flush_wait`); a feed entry is
  marked seen (``store.feed_items.mark``) only after ``pipeline.run`` has returned, in a
  transaction that does wait, and PostgreSQL's WAL is one sequence, so that flush makes every
  article stored before it durable first: an entry is never seen without its article.
* Article ids become visible in id order, because digests are watermarks over ids
  (``since(watermark)``): were a higher id visible while a lower one is still uncommitted, a
  digest run in between would move its watermark past the lower one, which no digest would
  then ever carry. SQLite has one writer at a time; on PostgreSQL every transaction that
  inserts articles first takes one transaction-scoped advisory lock (:data:`_ID_ORDER`), so
  ids are drawn and committed by one transaction at a time. The lock is held from the insert to
  the commit of a chunk (tens of milliseconds), while extract, summarize and tag run in
  parallel outside it.
* The same text is stored once (unique ``body_hash``), also when processes ingest the same
  inputs at once: ``INSERT ... ON CONFLICT DO NOTHING`` counts a duplicate. The id-order lock
  also means two chunks sharing articles queue instead of deadlocking on each other's rows.
  An input whose text the other stored from the same locator (the same new file, read by
  both) keeps the article's own document row (``added``), not one calling it a copy of itself.

The rows a chunk writes, and the lock and flush rule above, are ``article_writes``; this
module reads articles and holds the transactions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, exists, func, select
from sqlalchemy.exc import SQLAlchemyError

from digests import stories as story_model
from digests.models import ProcessedArticle, StoredArticle
from digests.store import search
from digests.store._faults import first_line, once_more_on_disconnect, store_error
from digests.store.article_writes import (
    _STATEMENTS,
    ChunkItem,
    _document_row,
    _held_by,
    _hold_id_order,
    _insert_articles,
    _no_flush_wait,
    _remove_replaced,
    _status,
    _stored_as,
    body_hash,
)
from digests.store.schema import (
    article_tags,
    article_time,
    articles,
    as_utc,
    documents,
    sentences,
)

if TYPE_CHECKING:
    from digests.store.topics import FeedbackTrust


@dataclass(frozen=True, slots=True)
class DocumentState:
    """What is recorded about a file/URL: its content hash and how ingesting it went."""

    content_hash: str
    status: str  # added | duplicate | failed
    error: str | None


class Articles:
    """Article rows and everything hanging off them."""

    story_window = story_model.WINDOW  # [stories] window_days (set by whoever opens the store)
    # Whose corrections count (Topics.trust_in, set by the Store); None: every one does.
    trust: Callable[[Connection], FeedbackTrust] | None = None

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- documents: what was seen, so unchanged files are skipped ---------------------------

    def documents(self, locators: Iterable[str]) -> dict[str, DocumentState]:
        """What is recorded about each of ``locators`` (those never seen are left out)."""
        wanted = list(dict.fromkeys(locators))
        out: dict[str, DocumentState] = {}
        if not wanted:
            return out
        cols = documents.c
        try:
            with self._engine.connect() as conn:
                # Chunks keep the IN list under SQLite's bound-parameter limit.
                for start in range(0, len(wanted), 500):
                    query = select(cols.locator, cols.content_hash, cols.status, cols.error)
                    query = query.where(cols.locator.in_(wanted[start : start + 500]))
                    for row in conn.execute(query):
                        out[row.locator] = DocumentState(row.content_hash, row.status, row.error)
        except SQLAlchemyError as exc:
            raise store_error(f"could not read document hashes: {first_line(exc)}", exc) from exc
        return out

    def record_document(
        self,
        locator: str,
        content_hash: str,
        *,
        status: str,
        now: datetime,
        error: str | None = None,
        article_id: int | None = None,
        source: str | None = None,
    ) -> None:
        """Remember a document's hash and outcome (added, duplicate, failed), and the source
        its text came under (a duplicate's own, which its article does not hold)."""

        @once_more_on_disconnect
        def write() -> None:
            with self._engine.begin() as conn:
                _no_flush_wait(conn)
                held_at = (
                    conn.scalar(select(articles.c.locator).where(articles.c.id == article_id))
                    if status == "duplicate" and article_id is not None
                    else None
                )
                # Its own text, stored meanwhile by another ingester: the article's own row.
                own = "added" if held_at == locator else status
                row = _document_row(locator, content_hash, own, now, error, article_id, source)
                conn.execute(_STATEMENTS[conn.dialect.name][1], [row])

        try:
            write()
        except SQLAlchemyError as exc:
            raise store_error(f"could not record {locator}: {first_line(exc)}", exc) from exc

    # -- articles ---------------------------------------------------------------------------

    def add(
        self, item: ProcessedArticle, *, now: datetime, replaces: str | None = None
    ) -> int | None:
        """Store an article with its sentences and tags; None if the same text is already stored.

        ``replaces``: the locator of a document whose earlier article this one supersedes
        (a changed file): the old article is removed so it is not digested twice.
        """

        @once_more_on_disconnect
        def write() -> int | None:
            with self._engine.begin() as conn:
                _no_flush_wait(conn)
                _hold_id_order(conn)
                if replaces is not None:
                    _remove_replaced(conn, [replaces])
                return _insert_articles(conn, [item], now, self.story_window, self.trust)[0]

        try:
            return write()
        except (SQLAlchemyError, UnicodeError) as exc:
            what = f"could not store {item.article.locator}: {first_line(exc)}"
            raise store_error(what, exc) from exc

    def add_chunk(self, items: Sequence[ChunkItem], *, now: datetime) -> list[int | None]:
        """Store a chunk of ingested inputs in one transaction: articles and document rows.

        Returns, per item, the new article's id, or None (a failure, or text already stored
        — also earlier in the same chunk). If the transaction fails nothing of it is stored
        and StoreError is raised: the caller stores the items one by one to find the bad one.
        """

        @once_more_on_disconnect  # rolled back whole: safe to run again on a new connection
        def write() -> list[int | None]:
            results: list[int | None] = [None] * len(items)
            with self._engine.begin() as conn:
                _no_flush_wait(conn)
                _hold_id_order(conn)
                _remove_replaced(conn, [i.locator for i in items if i.replaces])
                stored = [
                    (n, i.result) for n, i in enumerate(items) if not isinstance(i.result, str)
                ]
                ids = _insert_articles(
                    conn, [p for _, p in stored], now, self.story_window, self.trust
                )
                for (n, _), article_id in zip(stored, ids, strict=True):
                    results[n] = article_id
                # A duplicate's document row names the article holding its text.
                copies = _stored_as(
                    conn, [p.article.body for (n, p) in stored if results[n] is None]
                )
                # One row per locator, the last one winning (as storing one by one would).
                rows = {
                    i.locator: _document_row(
                        i.locator,
                        i.content_hash,
                        _status(i, article_id, copies),
                        now,
                        i.result if isinstance(i.result, str) else None,
                        _held_by(i, article_id, copies),
                        None if isinstance(i.result, str) else i.result.article.source,
                    )
                    for i, article_id in zip(items, results, strict=True)
                }
                if rows:
                    # Sorted: two chunks upserting the same locators lock them in one order.
                    statement = _STATEMENTS[conn.dialect.name][1]
                    conn.execute(statement, [rows[k] for k in sorted(rows)])
            return results

        try:
            return write()
        except (SQLAlchemyError, UnicodeError) as exc:
            what = f"could not store {len(items)} inputs together: {first_line(exc)}"
            raise store_error(what, exc) from exc

    def stored_as(self, body: str) -> int | None:
        """The id of the article holding this text (what a duplicate document is a copy of)."""
        try:
            with self._engine.connect() as conn:
                held = _stored_as(conn, [body]).get(body_hash(body))
                return None if held is None else held[0]
        except SQLAlchemyError as exc:
            raise store_error(f"could not look up a stored text: {first_line(exc)}", exc) from exc

    def get(self, ids: Sequence[int], *, with_body: bool = False) -> list[StoredArticle]:
        """Articles by id, in the order given (unknown ids are left out), each with the
        sources of its copies (:func:`_copy_sources`)."""
        if not ids:
            return []
        cols = [articles.c[n] for n in _COLUMNS] + ([articles.c.body] if with_body else [])
        with self._engine.connect() as conn:
            rows = conn.execute(select(*cols).where(articles.c.id.in_(list(ids)))).mappings().all()
            found = [r["id"] for r in rows]
            tags = self._tags(conn, found)
            copies = _copy_sources(conn, found)
        by_id = {
            r["id"]: _to_article(r, tags.get(r["id"], ()), copies.get(r["id"], ())) for r in rows
        }
        return [by_id[i] for i in ids if i in by_id]

    def since(
        self,
        watermark: int,
        *,
        topics: Sequence[str] = (),
        after: datetime | None = None,
        limit: int = 1000,
        upto: int | None = None,
    ) -> list[StoredArticle]:
        """Articles stored after ``watermark`` (an article id), oldest first.

        ``topics`` keeps those carrying any of the tags; ``after`` those dated (published,
        else ingested) at or after that time; ``upto`` those whose id is at most that.
        """
        query = select(articles.c.id).where(articles.c.id > watermark)
        if upto is not None:
            query = query.where(articles.c.id <= upto)
        if after is not None:
            query = query.where(article_time >= after)
        if topics:
            query = query.where(_carrying(topics))
        with self._engine.connect() as conn:
            ids = list(conn.scalars(query.order_by(articles.c.id).limit(limit)))
        return self.get(ids)

    def dated_before(
        self, watermark: int, upto: int, before: datetime, *, topics: Sequence[str] = ()
    ) -> int:
        """How many articles stored after ``watermark`` up to id ``upto``, carrying any of
        ``topics``, are dated (published, else ingested) before ``before``: what a
        `digest --since` that moved its watermark from one to the other skipped."""
        query = (
            select(func.count())
            .select_from(articles)
            .where(articles.c.id > watermark, articles.c.id <= upto, article_time < before)
        )
        if topics:
            query = query.where(_carrying(topics))
        with self._engine.connect() as conn:
            return int(conn.scalar(query) or 0)

    def latest_id(self) -> int:
        """The newest article id (0 when empty): the watermark of "everything so far"."""
        with self._engine.connect() as conn:
            return int(conn.scalar(select(func.max(articles.c.id))) or 0)

    def ids_for_tag(self, tag: str, *, limit: int) -> list[int]:
        """Ids of the newest articles carrying ``tag``."""
        when = article_time
        tagged = select(article_tags.c.article_id).where(article_tags.c.tag == tag)
        with self._engine.connect() as conn:
            sample = select(func.count()).select_from(tagged.limit(_WALK_BY_DATE).subquery())
            if (conn.scalar(sample) or 0) >= _WALK_BY_DATE:
                # A common tag: walk ix_articles_dated newest first, stop at ``limit`` hits.
                query = select(articles.c.id).where(
                    exists(tagged.where(article_tags.c.article_id == articles.c.id))
                )
            else:
                # A rare tag: sorting its few articles beats walking the whole date index.
                query = (
                    select(articles.c.id)
                    .join(article_tags, article_tags.c.article_id == articles.c.id)
                    .where(article_tags.c.tag == tag)
                )
            query = query.order_by(when.desc(), articles.c.id.desc()).limit(limit)
            return list(conn.scalars(query))

    def search(self, text: str, *, limit: int) -> list[int]:
        """Ids of the articles that best match free text (database full-text search)."""
        with self._engine.connect() as conn:
            return search.match(conn, text, limit=limit)

    def sentences(self, article_ids: Iterable[int]) -> dict[int, list[str]]:
        """Every stored sentence of each article, in order."""
        ids = list(article_ids)
        out: dict[int, list[str]] = defaultdict(list)
        if not ids:
            return out
        query = (
            select(sentences.c.article_id, sentences.c.text)
            .where(sentences.c.article_id.in_(ids))
            .order_by(sentences.c.article_id, sentences.c.position)
        )
        with self._engine.connect() as conn:
            for article_id, text in conn.execute(query):
                out[article_id].append(text)
        return out

    def tag_counts(self) -> dict[str, int]:
        """How many stored articles carry each tag."""
        query = select(article_tags.c.tag, func.count()).group_by(article_tags.c.tag)
        with self._engine.connect() as conn:
            return {tag: int(n) for tag, n in conn.execute(query)}

    def untagged(self, tags: Sequence[str]) -> int:
        """How many stored articles carry none of ``tags``."""
        tagged = select(article_tags.c.article_id).where(
            article_tags.c.article_id == articles.c.id, article_tags.c.tag.in_(list(tags))
        )
        query = select(func.count()).select_from(articles).where(~tagged.exists())
        with self._engine.connect() as conn:
            return int(conn.scalar(query) or 0)

    def count(self) -> int:
        """Number of stored articles."""
        with self._engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(articles)) or 0)

    @staticmethod
    def _tags(conn, ids: Sequence[int]) -> dict[int, tuple[str, ...]]:  # type: ignore[no-untyped-def]
        out: dict[int, list[str]] = defaultdict(list)
        if ids:
            query = (
                select(article_tags.c.article_id, article_tags.c.tag)
                .where(article_tags.c.article_id.in_(list(ids)))
                .order_by(
                    article_tags.c.article_id, article_tags.c.weight.desc(), article_tags.c.tag
                )
            )
            for article_id, tag in conn.execute(query):
                out[article_id].append(tag)
        return {k: tuple(v) for k, v in out.items()}


# Tags on at least this many articles are looked up through the date index (see ids_for_tag):
# walking it costs ~limit * articles / tagged steps, sorting the tagged rows ~tagged steps.
_WALK_BY_DATE = 1000

_COLUMNS = (
    "id",
    "title",
    "source",
    "author",
    "published",
    "url",
    "summary",
    "keyphrases",
    "ingested_at",
    "story_id",
)


def _carrying(topics: Sequence[str]) -> Any:
    """An article row carries any of ``topics``. A correlated EXISTS: the id range drives the
    scan and each row probes the tag key; "id IN (all articles with these tags)" grew with the
    corpus, not with the digest."""
    return exists(
        select(article_tags.c.article_id).where(
            article_tags.c.article_id == articles.c.id, article_tags.c.tag.in_(list(topics))
        )
    )


def _to_article(row, tags: tuple[str, ...], copies: tuple[str, ...] = ()) -> StoredArticle:  # type: ignore[no-untyped-def]
    return StoredArticle(
        id=int(row["id"]),
        title=row["title"],
        source=row["source"],
        author=row["author"],
        published=as_utc(row["published"]),
        url=row["url"],
        summary=tuple(row["summary"]),
        tags=tags,
        keyphrases=tuple(row["keyphrases"]),
        ingested_at=as_utc(row["ingested_at"]) or row["ingested_at"],
        body=row.get("body", "") or "",
        story=int(row["story_id"]) if row.get("story_id") is not None else None,
        copy_sources=tuple(s for s in copies if s != row["source"]),
    )


# The copies' sources read per article, at most: a story's "N sources" (digests, ranking) counts
# up to this many beyond its articles' own. However many files hold one text, the database
# aggregates them (distinct sources, through ix_documents_article_id) and returns this many.
COPY_SOURCES = 50


def _copy_sources(conn: Connection, ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    """Article id → the distinct sources its duplicate documents came under (the same text
    carried by other sites or feeds), first seen first, at most :data:`COPY_SOURCES` each.
    Copies without a known source (recorded before migration 0015) are left out."""
    if not ids:
        return {}
    d = documents.c
    first = func.min(d.id)
    named = (
        select(
            d.article_id,
            d.source,
            first.label("first"),
            func.row_number().over(partition_by=d.article_id, order_by=first).label("n"),
        )
        .where(d.article_id.in_(list(ids)), d.status == "duplicate", d.source.is_not(None))
        .group_by(d.article_id, d.source)
        .subquery()
    )
    query = (
        select(named.c.article_id, named.c.source)
        .where(named.c.n <= COPY_SOURCES)
        .order_by(named.c.article_id, named.c.first)
    )
    out: dict[int, list[str]] = defaultdict(list)
    for article_id, source in conn.execute(query):
        if source:
            out[int(article_id)].append(source)
    return {k: tuple(v) for k, v in out.items()}
