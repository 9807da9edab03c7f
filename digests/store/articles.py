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
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, delete, exists, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from digests import stories as story_model
from digests.models import ProcessedArticle, StoredArticle
from digests.store import search
from digests.store import stories as story_store
from digests.store._faults import first_line, once_more_on_disconnect, store_error
from digests.store.schema import (
    article_tags,
    article_time,
    articles,
    as_utc,
    documents,
    sentences,
    topic_feedback,
)

if TYPE_CHECKING:
    from digests.store.topics import FeedbackTrust


def body_hash(body: str) -> str:
    """Identity of an article's text: whitespace- and case-insensitive."""
    return hashlib.sha256(" ".join(body.lower().split()).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class DocumentState:
    """What is recorded about a file/URL: its content hash and how ingesting it went."""

    content_hash: str
    status: str  # added | duplicate | failed
    error: str | None


@dataclass(frozen=True, slots=True)
class ChunkItem:
    """One input of a chunk to store: its document, and its article or why it failed."""

    locator: str
    content_hash: str  # "" for an input that could not be read
    result: ProcessedArticle | str  # the article, or a one-line reason it failed
    replaces: bool = False  # the locator was ingested before: its earlier article goes


# Built once per dialect: a statement with literal .values() is rebuilt and re-keyed for the
# compiled cache on every call, which cost more than SQLite's own work per stored article.
_INSERT_SENTENCES = insert(sentences)
_INSERT_TAGS = insert(article_tags)
# PostgreSQL: all of a chunk's sentences (or tags) in one statement from arrays. An
# executemany runs one INSERT per row (~20 per article), and multi-row VALUES with thousands
# of parameters costs more to build and plan than it saves; unnest measured 2.5x faster.
_UNNEST_SENTENCES = text(
    "INSERT INTO sentences (article_id, position, text) SELECT * FROM unnest("
    "CAST(:article_id AS bigint[]), CAST(:position AS integer[]), CAST(:text AS text[]))"
)
_UNNEST_TAGS = text(
    "INSERT INTO article_tags (article_id, tag, weight, declared_by) SELECT * FROM unnest("
    "CAST(:article_id AS bigint[]), CAST(:tag AS varchar[]), CAST(:weight AS integer[]), "
    "CAST(:declared_by AS varchar[]))"
)
_DOCUMENT_COLUMNS = ("content_hash", "status", "error", "article_id", "seen_at", "source")
# PostgreSQL advisory lock key held by the transaction inserting articles, until it commits
# (any constant: "article ids in order").
_ID_ORDER = 0x61727469636C6573
_LOCK_ID_ORDER = text("SELECT pg_advisory_xact_lock(:key)")


def _statements(dialect: str) -> tuple[Any, Any]:
    """(insert an article unless its text is stored, upsert a document row) for a dialect."""
    upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    article = (
        upsert(articles)
        .on_conflict_do_nothing(index_elements=[articles.c.body_hash])
        .returning(articles.c.id, articles.c.body_hash)
    )
    stmt = upsert(documents)
    document = stmt.on_conflict_do_update(
        index_elements=[documents.c.locator],
        set_={c: stmt.excluded[c] for c in _DOCUMENT_COLUMNS},
    )
    return article, document


_STATEMENTS = {name: _statements(name) for name in ("postgresql", "sqlite")}


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


def _insert_articles(
    conn: Connection,
    items: Sequence[ProcessedArticle],
    now: datetime,
    window: timedelta,
    trust: Callable[[Connection], FeedbackTrust] | None = None,
) -> list[int | None]:
    """Insert articles with their sentences and tags: each one's id, None for text stored."""
    out: list[int | None] = [None] * len(items)
    rows: dict[str, tuple[int, dict[str, object]]] = {}
    for n, item in enumerate(items):
        a = item.article
        digest = body_hash(a.body)
        if digest in rows:
            continue  # the same text earlier in this chunk: a duplicate
        rows[digest] = (
            n,
            {
                "locator": a.locator,
                "body_hash": digest,
                "title": a.title,
                "source": a.source,
                "author": a.author,
                "published": a.published,
                "url": a.url,
                "body": a.body,
                "summary": list(item.summary.sentences),
                "keyphrases": list(item.tagging.keyphrases),
                "ingested_at": now,
            },
        )
    if not rows:
        return out
    inserted = conn.execute(
        _STATEMENTS[conn.dialect.name][0], [row for _, row in rows.values()]
    ).all()
    # Text already stored (or stored meanwhile by another process) returns no row.
    for article_id, digest in inserted:
        out[rows[digest][0]] = int(article_id)
    sentence_rows: list[dict[str, object]] = []
    tag_rows: list[dict[str, object]] = []
    for item, article_id in zip(items, out, strict=True):
        if article_id is None:
            continue
        sentence_rows += [
            {"article_id": article_id, "position": i, "text": s}
            for i, s in enumerate(item.sentences)
        ]
        by, declared = item.tagging.declared_by, item.tagging.declared
        tag_rows += [
            {
                "article_id": article_id,
                "tag": t,
                "weight": w,
                "declared_by": by if t in declared else None,
            }
            for t, w in item.tagging.tags
        ]
    _insert_many(conn, _INSERT_SENTENCES, _UNNEST_SENTENCES, sentence_rows)
    _insert_many(conn, _INSERT_TAGS, _UNNEST_TAGS, tag_rows)
    _declare_on_copied(conn, items, out, {d: n for d, (n, _) in rows.items()}, trust)
    new = []
    for item, article_id in zip(items, out, strict=True):
        if article_id is None:
            continue
        profile, names = _story_terms(item)
        when, dated = item.article.published or now, item.article.published is not None
        new.append(
            story_store.NewArticle(article_id, item.article.title, profile, when, dated, names)
        )
    story_store.assign(conn, new, window=window, now=now)
    return out


def _declare_on_copied(
    conn: Connection,
    items: Sequence[ProcessedArticle],
    out: Sequence[int | None],
    first: dict[str, int],
    trust: Callable[[Connection], FeedbackTrust] | None,
) -> None:
    """A copy (its text stored already, or earlier in this chunk) whose source declares tags:
    the article holding its text carries them too, each declared by that source, as it would
    had this source stored it first (a text two feeds carry has both feeds' tags). A tag the
    article has is left as it is, but declared by the source when nothing declared it yet
    (a keyword or learned tag); none a reader refused on it ("Not #tag", the newest word of
    those that count: ``trust``, [topics] feedback_workspaces)."""
    wanted = [
        (body_hash(item.article.body), item)
        for item, article_id in zip(items, out, strict=True)
        if article_id is None and item.tagging.declared_by and item.tagging.declared
    ]
    if not wanted:
        return
    held = {d: out[first[d]] for d, _ in wanted if first.get(d) is not None}
    stored = _stored_as(conn, [i.article.body for d, i in wanted if held.get(d) is None])
    held.update((d, found[0]) for d, found in stored.items())
    declared: dict[tuple[int, str], tuple[str, int]] = {}
    for digest, item in wanted:
        if (article_id := held.get(digest)) is None:
            continue  # (stored meanwhile and deleted: nothing holds it)
        weights = dict(item.tagging.tags)
        for name in item.tagging.declared:
            pair = (article_id, name)
            by = str(item.tagging.declared_by)
            declared.setdefault(pair, (by, weights.get(name, 1)))  # (tag() gives it one)
    ids = sorted({a for a, _ in declared})
    c, f = article_tags.c, topic_feedback.c
    refused: dict[tuple[int, str], str] = {}
    existing: dict[tuple[int, str], str | None] = {}
    counts: Callable[[str], bool] | None = None
    for start in range(0, len(ids), 500):  # under SQLite's bound-parameter limit
        chunk = ids[start : start + 500]
        words = select(f.article_id, f.topic, f.kind, f.workspace).where(f.article_id.in_(chunk))
        for a, topic, kind, workspace in conn.execute(
            words.order_by(f.created_at.desc(), f.id.desc())
        ):
            if counts is None:  # read once, when a copied text has a correction at all
                counts = trust(conn).allows if trust is not None else (lambda _: True)
            if counts(str(workspace)):
                refused.setdefault((int(a), str(topic)), str(kind))
        rows = select(c.article_id, c.tag, c.declared_by).where(c.article_id.in_(chunk))
        existing.update(((int(a), str(t)), by) for a, t, by in conn.execute(rows))
    new: list[dict[str, object]] = []
    for (article_id, name), (by, weight) in sorted(declared.items()):
        if refused.get((article_id, name)) == "not":
            continue
        if (article_id, name) not in existing:
            new.append({"article_id": article_id, "tag": name, "weight": weight, "declared_by": by})
        elif existing[article_id, name] is None:
            conn.execute(
                update(article_tags)
                .where(c.article_id == article_id, c.tag == name, c.declared_by.is_(None))
                .values(declared_by=by)
            )
    _insert_many(conn, _INSERT_TAGS, _UNNEST_TAGS, new)


def _story_terms(item: ProcessedArticle) -> tuple[dict[str, float], frozenset[str]]:
    """An article's story profile and names: as the pipeline made them, else made now."""
    if item.profile and item.names is not None:
        return item.profile, item.names
    profile, names = story_model.terms(item.article.title, item.article.body)
    return item.profile or profile, names


def _insert_many(
    conn: Connection, rows_at_once: Any, arrays: Any, rows: list[dict[str, object]]
) -> None:
    """Insert rows: one statement of arrays on PostgreSQL, an executemany elsewhere."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(arrays, {key: [row[key] for row in rows] for key in rows[0]})
    else:  # SQLite runs an executemany as one prepared statement, in process
        conn.execute(rows_at_once, rows)


def _stored_as(conn: Connection, bodies: Sequence[str]) -> dict[str, tuple[int, str]]:
    """body hash → (id, locator) of the stored article with that text, for the texts already
    stored."""
    hashes = sorted({body_hash(b) for b in bodies})
    found: dict[str, tuple[int, str]] = {}
    for start in range(0, len(hashes), 500):  # under SQLite's bound-parameter limit
        query = select(articles.c.body_hash, articles.c.id, articles.c.locator).where(
            articles.c.body_hash.in_(hashes[start : start + 500])
        )
        found.update((h, (int(i), str(loc))) for h, i, loc in conn.execute(query))
    return found


def _held_by(
    item: ChunkItem, article_id: int | None, copies: dict[str, tuple[int, str]]
) -> int | None:
    """The article a document's row names: the one it became, or (a duplicate) the one
    holding its text; None for a failure."""
    if article_id is not None or isinstance(item.result, str):
        return article_id
    held = copies.get(body_hash(item.result.article.body))
    return None if held is None else held[0]


def _remove_replaced(conn: Connection, locators: Sequence[str]) -> None:
    """Delete the articles these documents became before (changed files are re-ingested).

    Only what a document added: a duplicate's row names the article it copied, which stays.
    The copies of a deleted article lose their rows, so the next run reads them again and
    stores their text (now held nowhere else) as an article of its own.
    """
    if not locators:
        return
    old = select(documents.c.article_id).where(
        documents.c.locator.in_(list(locators)),
        documents.c.article_id.is_not(None),
        documents.c.status == "added",
    )
    gone = [int(i) for i in conn.scalars(old)]
    if not gone:
        return
    copies = (documents.c.article_id.in_(gone)) & (documents.c.status == "duplicate")
    conn.execute(delete(documents).where(copies))
    story_store.forget(conn, gone)
    conn.execute(delete(articles).where(articles.c.id.in_(gone)))


def _document_row(
    locator: str,
    content_hash: str,
    status: str,
    now: datetime,
    error: str | None,
    article_id: int | None,
    source: str | None,
) -> dict[str, object]:
    return {
        "locator": locator,
        "content_hash": content_hash,
        "status": status,
        "error": error,
        "article_id": article_id,
        "seen_at": now,
        "source": source,
    }


def _status(item: ChunkItem, article_id: int | None, copies: dict[str, tuple[int, str]]) -> str:
    if isinstance(item.result, str):
        return "failed"
    if article_id is not None:
        return "added"
    held = copies.get(body_hash(item.result.article.body))
    # Text stored under this very locator (another ingester stored the same new file while
    # this one read it): the article's own document, not a copy of itself.
    return "added" if held is not None and held[1] == item.locator else "duplicate"


def _hold_id_order(conn: Connection) -> None:
    """PostgreSQL: wait for, then hold until commit, the lock of transactions that store
    articles (module docstring). Taken first, before any row lock, so it cannot deadlock with
    a replaced article's delete or a conflicting insert."""
    if conn.dialect.name == "postgresql":
        conn.execute(_LOCK_ID_ORDER, {"key": _ID_ORDER})


def _no_flush_wait(conn: Connection) -> None:
    """PostgreSQL: this transaction's commit does not wait for its WAL flush.

    Ingest once committed twice per article, and waiting for each fsync made PostgreSQL ingest
    half as fast as SQLite (which, in WAL mode with ``synchronous=NORMAL``, does not wait
    either); a chunk commits once, but a slow disk's fsync would still be paid per chunk.
    A crash can lose the last fraction of a second of stored articles, never corrupt them:
    their documents are then simply ingested again. Other writes (outbox, runs) still wait.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
