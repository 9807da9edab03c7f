"""EXPLAIN ANALYZE of the PostgreSQL full-text query ``digests.store.search`` runs, as it runs it.

    .venv/bin/python -m benchmarks.explain_search postgresql+psycopg://postgres@127.0.0.1:5432/DB \
        ["mobile phone" ...] [--whole]

Same statement, same parameters (``RECENT`` window, ``CANDIDATES`` cap) and the same
``SET LOCAL enable_indexscan = off``; ``--whole`` shows the old query instead (every match
ranked by ``ts_rank``), for comparison. Each query runs once first to warm the cache.
"""

from __future__ import annotations

import argparse
import re

from sqlalchemy import create_engine, text

from digests.store import search

_OLD = (
    "SELECT id FROM articles, to_tsquery('english', :q) AS q WHERE search @@ q "
    "ORDER BY ts_rank(search, q) DESC, id DESC LIMIT :n"
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url")
    ap.add_argument("queries", nargs="*", default=["mobile phone", "united states", "oil"])
    ap.add_argument("--whole", action="store_true", help="the old query: rank every match")
    ap.add_argument("--limit", type=int, default=40)
    args = ap.parse_args()
    engine = create_engine(args.url)
    for query in args.queries:
        q = " & ".join(re.findall(r"\w+", query.lower()))
        with engine.connect() as conn:
            newest = int(conn.scalar(text("SELECT coalesce(max(id), 0) FROM articles")) or 0)
            params = {
                "q": q,
                "n": args.limit,
                "floor": max(0, newest - search.RECENT),
                "k": search.CANDIDATES,
            }
            sql = _OLD if args.whole else str(search._PG_RANKED)
            if not args.whole:
                conn.execute(text("SET LOCAL enable_indexscan = off"))
            conn.execute(text(sql), params).all()  # warm
            plan = conn.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + sql), params).scalars()
            matches = conn.scalar(
                text("SELECT count(*) FROM articles WHERE search @@ to_tsquery('english', :q)"),
                {"q": q},
            )
            print(f"-- {query!r}: {matches} matching articles of {newest}")
            print("\n".join(plan))
            print()


if __name__ == "__main__":
    main()
