"""What storing articles writes, a chunk in one transaction (``Articles.add_chunk``): the
articles with their sentences, tags and story terms, the documents' rows, the articles their
locators replace removed; and the two rules each such transaction starts with (the id-order
lock, no wait for the WAL flush). Why they hold: the docstring of ``digests.store.articles``."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from digests import stories as story_model
from digests.models import ProcessedArticle
from digests.store import stories as story_store
from digests.store.schema import (
    article_tags,
    articles,
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
