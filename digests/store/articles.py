"""Articles, their tags and sentences, and the document hashes that make ingest incremental."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection, Engine, bindparam, delete, exists, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from digests.errors import StoreError
from digests.models import ProcessedArticle, StoredArticle
from digests.store import search
from digests.store._engine import as_utc
from digests.store.schema import article_tags, articles, documents, sentences


def body_hash(body: str) -> str:
    """Identity of an article's text: whitespace- and case-insensitive."""
    return hashlib.sha256(" ".join(body.lower().split()).encode()).hexdigest()


# Built once: a statement with literal .values() is rebuilt and re-keyed for the compiled
# cache on every call, which cost more than SQLite's own work per stored article.
_FIND_BODY = select(articles.c.id).where(articles.c.body_hash == bindparam("hash"))
_INSERT_ARTICLE = insert(articles)
_INSERT_SENTENCES = insert(sentences)
_INSERT_TAGS = insert(article_tags)
_INSERT_DOCUMENT = insert(documents)
_UPDATE_DOCUMENT = update(documents).where(documents.c.locator == bindparam("key"))


class Articles:
    """Article rows and everything hanging off them."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- documents: what was seen, so unchanged files are skipped ---------------------------

    def document_hash(self, locator: str) -> str | None:
        """The content hash recorded for a file/URL, or None if never seen."""
        with self._engine.connect() as conn:
            return conn.scalar(
                select(documents.c.content_hash).where(documents.c.locator == locator)
            )

    def document_failure(self, locator: str, content_hash: str) -> str | None:
        """Why this very content of a file/URL failed last time (None: it did not fail)."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(documents.c.status, documents.c.error).where(
                    documents.c.locator == locator, documents.c.content_hash == content_hash
                )
            ).first()
        if row is None or row.status != "failed":
            return None
        return str(row.error or "failed before")

    def record_document(
        self,
        locator: str,
        content_hash: str,
        *,
        status: str,
        now: datetime,
        error: str | None = None,
        article_id: int | None = None,
    ) -> None:
        """Remember a document's hash and outcome (added, duplicate, failed)."""
        values = {
            "content_hash": content_hash,
            "status": status,
            "error": error,
            "article_id": article_id,
            "seen_at": now,
        }
        with self._engine.begin() as conn:
            _no_flush_wait(conn)
            done = conn.execute(_UPDATE_DOCUMENT, {"key": locator, **values})
            if not done.rowcount:
                conn.execute(_INSERT_DOCUMENT, {"locator": locator, **values})

    # -- articles ---------------------------------------------------------------------------

    def add(
        self, item: ProcessedArticle, *, now: datetime, replaces: str | None = None
    ) -> int | None:
        """Store an article with its sentences and tags; None if the same text is already stored.

        ``replaces``: the locator of a document whose earlier article this one supersedes
        (a changed file): the old article is removed so it is not digested twice.
        """
        a = item.article
        digest = body_hash(a.body)
        try:
            with self._engine.begin() as conn:
                _no_flush_wait(conn)
                if replaces is not None:
                    old = conn.scalar(
                        select(documents.c.article_id).where(documents.c.locator == replaces)
                    )
                    if old is not None:
                        conn.execute(delete(articles).where(articles.c.id == old))
                if conn.scalar(_FIND_BODY, {"hash": digest}):
                    return None
                key = conn.execute(
                    _INSERT_ARTICLE,
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
                ).inserted_primary_key
                assert key is not None  # an INSERT of one row always has one
                article_id = key[0]
                if item.sentences:
                    conn.execute(
                        _INSERT_SENTENCES,
                        [
                            {"article_id": article_id, "position": i, "text": s}
                            for i, s in enumerate(item.sentences)
                        ],
                    )
                if item.tagging.tags:
                    conn.execute(
                        _INSERT_TAGS,
                        [
                            {"article_id": article_id, "tag": t, "weight": w}
                            for t, w in item.tagging.tags
                        ],
                    )
                return int(article_id)
        except SQLAlchemyError as exc:
            raise StoreError(f"could not store {a.locator}: {exc}") from exc

    def get(self, ids: Sequence[int], *, with_body: bool = False) -> list[StoredArticle]:
        """Articles by id, in the order given (unknown ids are left out)."""
        if not ids:
            return []
        cols = [articles.c[n] for n in _COLUMNS] + ([articles.c.body] if with_body else [])
        with self._engine.connect() as conn:
            rows = conn.execute(select(*cols).where(articles.c.id.in_(list(ids)))).mappings().all()
            tags = self._tags(conn, [r["id"] for r in rows])
        by_id = {r["id"]: _to_article(r, tags.get(r["id"], ())) for r in rows}
        return [by_id[i] for i in ids if i in by_id]

    def since(
        self,
        watermark: int,
        *,
        topics: Sequence[str] = (),
        after: datetime | None = None,
        limit: int = 1000,
    ) -> list[StoredArticle]:
        """Articles stored after ``watermark`` (an article id), oldest first.

        ``topics`` keeps those carrying any of the tags; ``after`` those dated (published,
        else ingested) at or after that time.
        """
        query = select(articles.c.id).where(articles.c.id > watermark)
        if after is not None:
            query = query.where(
                func.coalesce(articles.c.published, articles.c.ingested_at) >= after
            )
        if topics:
            # Correlated EXISTS: the id range drives the scan and each row probes the tag key;
            # "id IN (all articles with these tags)" grew with the corpus, not with the digest.
            tagged = select(article_tags.c.article_id).where(
                article_tags.c.article_id == articles.c.id,
                article_tags.c.tag.in_(list(topics)),
            )
            query = query.where(exists(tagged))
        with self._engine.connect() as conn:
            ids = list(conn.scalars(query.order_by(articles.c.id).limit(limit)))
        return self.get(ids)

    def latest_id(self) -> int:
        """The newest article id (0 when empty): the watermark of "everything so far"."""
        with self._engine.connect() as conn:
            return int(conn.scalar(select(func.max(articles.c.id))) or 0)

    def ids_for_tag(self, tag: str, *, limit: int) -> list[int]:
        """Ids of the newest articles carrying ``tag``."""
        when = func.coalesce(articles.c.published, articles.c.ingested_at)
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
)


def _to_article(row, tags: tuple[str, ...]) -> StoredArticle:  # type: ignore[no-untyped-def]
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
    )


def _no_flush_wait(conn: Connection) -> None:
    """PostgreSQL: this transaction's commit does not wait for its WAL flush.

    Ingest commits twice per article; waiting for each fsync made PostgreSQL ingest half as
    fast as SQLite (which, in WAL mode with ``synchronous=NORMAL``, does not wait either).
    A crash can lose the last fraction of a second of stored articles, never corrupt them:
    their documents are then simply ingested again. Other writes (outbox, runs) still wait.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
