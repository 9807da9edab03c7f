"""Full-text search in the database: FTS5 on SQLite, tsvector on PostgreSQL, one interface.

On PostgreSQL the ranking is bounded (issue 14): ``ts_rank`` reads each row's tsvector, which
is TOASTed out of line, so ranking every match cost ~1.2 s for a common query at 100k articles
and grew with the corpus. Instead, the newest :data:`CANDIDATES` matches among the newest
:data:`RECENT` articles are ranked (the GIN index and the primary key are combined in one
bitmap, and only the candidates' vectors are read); only if that finds fewer than ``limit``
matches is the whole corpus searched, newest candidates first again. Briefs discount age
anyway, so the best matches of the recent past are what they want.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from digests.query import parse_query

RECENT = 50_000  # PostgreSQL: articles (newest ids) searched first
CANDIDATES = 500  # PostgreSQL: newest matches ranked by ts_rank


def match(conn: Connection, query: str, *, limit: int) -> list[int]:
    """Ids of the best-matching articles, ranked by BM25 (SQLite FTS5's ``bm25()``, PostgreSQL's
    ``ts_rank``): those with every word of one alternative (``EU OR NATO``: either;
    :mod:`digests.query`) first, then, to ``limit``, those with any word."""
    groups = [tuple(w.lower() for w in group) for group in parse_query(query).groups]
    if not groups:
        return []
    if conn.dialect.name == "sqlite":
        return _sqlite(conn, groups, limit)
    if conn.dialect.name == "postgresql":
        return _postgres(conn, groups, limit)
    return []


def _expressions(groups: list[tuple[str, ...]], and_: str, or_: str) -> tuple[str, str | None]:
    """The query (alternatives of required words) and its any-word fallback (None: the same)."""
    alternatives = [and_.join(g) if len(g) == 1 else f"({and_.join(g)})" for g in groups]
    every = [w for g in groups for w in g]
    fallback = or_.join(every) if len(every) > 1 and any(len(g) > 1 for g in groups) else None
    return or_.join(alternatives), fallback


def _sqlite(conn: Connection, groups: list[tuple[str, ...]], limit: int) -> list[int]:
    # Each word is quoted so user text can never be FTS5 syntax (NEAR, *, column filters);
    # words are \w+ runs, so they hold no quote.
    quoted = [tuple(f'"{w}"' for w in g) for g in groups]
    sql = text(
        "SELECT rowid FROM articles_fts WHERE articles_fts MATCH :q "
        "ORDER BY bm25(articles_fts, 4.0, 1.0) LIMIT :n"
    )
    q, fallback = _expressions(quoted, " AND ", " OR ")
    ids = [r[0] for r in conn.execute(sql, {"q": q, "n": limit})]
    if len(ids) < limit and fallback:
        ids = _top_up(ids, [r[0] for r in conn.execute(sql, {"q": fallback, "n": limit})], limit)
    return ids


def _top_up(ids: list[int], more: list[int], limit: int) -> list[int]:
    """The articles with every word first, then the best BM25 matches of any word: a title
    typed in full ("Global warming effects on agriculture") is rarely all in one article."""
    seen = set(ids)
    return (ids + [i for i in more if i not in seen])[:limit]


_PG_RANKED = text(
    "SELECT id FROM ("
    " SELECT id, search FROM articles"
    " WHERE search @@ to_tsquery('english', :q) AND id > :floor"
    " ORDER BY id DESC LIMIT :k"
    ") AS candidates "
    "ORDER BY ts_rank(search, to_tsquery('english', :q)) DESC, id DESC LIMIT :n"
)


def _postgres(conn: Connection, groups: list[tuple[str, ...]], limit: int) -> list[int]:
    # The planner prices ``search @@ q`` as cheap, so for common terms it walks the primary
    # key newest-first and filters row by row — reading (de-TOASTing) every vector it passes:
    # 2 s for one term at 100k. Bitmap scans only (for this transaction) keep it on the index.
    newest = int(conn.scalar(text("SELECT coalesce(max(id), 0) FROM articles")) or 0)
    conn.execute(text("SET LOCAL enable_indexscan = off"))
    # A common term matches ~10 % of a large corpus; at the default 4 MB the bitmap of its
    # matches within the recent window goes lossy and every row of a lossy page is rechecked
    # (its vector de-TOASTed): "prime minister" at 1M articles, 60 ms → 37 ms with 16 MB.
    conn.execute(text("SET LOCAL work_mem = '16MB'"))
    floor = max(0, newest - RECENT)

    def ranked(q: str, n: int) -> list[int]:
        ids = [
            r[0]
            for r in conn.execute(_PG_RANKED, {"q": q, "floor": floor, "k": CANDIDATES, "n": n})
        ]
        if len(ids) < n and floor > 0:  # a rare query: look further back
            ids = [
                r[0]
                for r in conn.execute(_PG_RANKED, {"q": q, "floor": 0, "k": CANDIDATES, "n": n})
            ]
        return ids

    # to_tsquery with our own & / | joins; words are \w+ runs, so no tsquery syntax leaks in.
    q, fallback = _expressions(groups, " & ", " | ")
    ids = ranked(q, limit)
    if len(ids) < limit and fallback:
        ids = _top_up(ids, ranked(fallback, limit), limit)
    return ids
