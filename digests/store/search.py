"""Full-text search in the database: FTS5 on SQLite, tsvector on PostgreSQL, one interface."""

from __future__ import annotations

import re

from sqlalchemy import Connection, TextClause, text

_TERM = re.compile(r"\w+", re.UNICODE)


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


def _postgres(conn: Connection, terms: list[str], limit: int) -> list[int]:
    sql = text(
        "SELECT id FROM articles, to_tsquery('english', :q) AS q WHERE search @@ q "
        "ORDER BY ts_rank(search, q) DESC, id DESC LIMIT :n"
    )
    # to_tsquery with our own & / | joins; terms are \w+ runs, so no tsquery syntax leaks in.
    return _all_then_any(conn, sql, terms, (" & ", " | "), limit)
