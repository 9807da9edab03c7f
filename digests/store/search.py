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

import re

from sqlalchemy import Connection, TextClause, text

_TERM = re.compile(r"\w+", re.UNICODE)
RECENT = 50_000  # PostgreSQL: articles (newest ids) searched first
CANDIDATES = 500  # PostgreSQL: newest matches ranked by ts_rank


def match(conn: Connection, query: str, *, limit: int) -> list[int]:
    """Ids of the best-matching articles: all terms first, else any term."""
    terms = _TERM.findall(query.lower())[:12]
    if not terms:
        return []
    if conn.dialect.name == "sqlite":
        return _sqlite(conn, terms, limit)
    if conn.dialect.name == "postgresql":
        return _postgres(conn, terms, limit)
    return []


def _all_then_any(
    conn: Connection, sql: TextClause, terms: list[str], ops: tuple[str, str], limit: int
) -> list[int]:
    """Run ``sql`` with every term required; if nothing matches, with any term."""
    all_of, any_of = ops
    ids = [r[0] for r in conn.execute(sql, {"q": all_of.join(terms), "n": limit})]
    if not ids and len(terms) > 1:
        ids = [r[0] for r in conn.execute(sql, {"q": any_of.join(terms), "n": limit})]
    return ids


def _sqlite(conn: Connection, terms: list[str], limit: int) -> list[int]:
    # Each term is quoted so user text can never be FTS5 syntax (NEAR, *, column filters).
    quoted = ['"' + t.replace('"', "") + '"' for t in terms]
    sql = text(
        "SELECT rowid FROM articles_fts WHERE articles_fts MATCH :q "
        "ORDER BY bm25(articles_fts, 4.0, 1.0) LIMIT :n"
    )
    return _all_then_any(conn, sql, quoted, (" AND ", " OR "), limit)


_PG_RANKED = text(
    "SELECT id FROM ("
    " SELECT id, search FROM articles"
    " WHERE search @@ to_tsquery('english', :q) AND id > :floor"
    " ORDER BY id DESC LIMIT :k"
    ") AS candidates "
    "ORDER BY ts_rank(search, to_tsquery('english', :q)) DESC, id DESC LIMIT :n"
)


def _postgres(conn: Connection, terms: list[str], limit: int) -> list[int]:
    # The planner prices ``search @@ q`` as cheap, so for common terms it walks the primary
    # key newest-first and filters row by row — reading (de-TOASTing) every vector it passes:
    # 2 s for one term at 100k. Bitmap scans only (for this transaction) keep it on the index.
    newest = int(conn.scalar(text("SELECT coalesce(max(id), 0) FROM articles")) or 0)
    conn.execute(text("SET LOCAL enable_indexscan = off"))
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

    # to_tsquery with our own & / | joins; terms are \w+ runs, so no tsquery syntax leaks in.
    ids = ranked(" & ".join(terms), limit)
    if not ids and len(terms) > 1:
        ids = ranked(" | ".join(terms), limit)
    return ids
