"""What one refresh of the store-size metrics costs (``digestbot_outbox_messages{status}``,
``digestbot_articles_stored``), as the store grows.

    .venv/bin/python -m benchmarks.metrics_counts [--rows 100000] [--db URL] [--rounds 5]

Fills a fresh store (SQLite in a temporary folder, or the empty PostgreSQL database ``--db``
names) with ``--rows`` bare articles and ``--rows`` sent outbox parts (plus a few pending and
refused ones), then times the refresh the /metrics background thread runs (best and median of
``--rounds``, each on a new connection) and prints what it reported.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text

from bot.metrics import _SizeCounts
from digests.store import Store
from digests.store.schema import articles, outbox

NOW = datetime.now(UTC)
_CHUNK = 10_000


def _fill(store: Store, rows: int) -> None:
    for start in range(0, rows, _CHUNK):
        n = range(start, min(rows, start + _CHUNK))
        with store.engine.begin() as conn:
            conn.execute(insert(articles), [
                {"locator": f"a{i}.txt", "body_hash": f"{i:064x}", "title": f"t{i}", "body": "b",
                 "summary": [], "keyphrases": [], "ingested_at": NOW} for i in n
            ])  # fmt: skip
            conn.execute(insert(outbox), [
                {"digest_key": f"k{i}", "part": 0, "platform": "slack", "channel": f"C{i % 50}",
                 "payload": {"text": "x"}, "status": "sent", "attempts": 1,
                 "next_attempt_at": NOW - timedelta(seconds=rows - i),
                 "created_at": NOW - timedelta(seconds=rows - i), "checks": 0} for i in n
            ])  # fmt: skip
    for i in range(3):
        store.outbox.enqueue(f"new{i}", [{"text": "y"}], platform="slack", channel="C1", now=NOW)
    if store.engine.dialect.name == "postgresql":
        with store.engine.begin() as conn:  # what autovacuum does after a load this size
            conn.execute(text("ANALYZE articles"))
            conn.execute(text("ANALYZE outbox"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--db", default="")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'metrics.db'}"
        store = Store.open(url)
        started = time.perf_counter()
        _fill(store, args.rows)
        print(
            f"filled {args.rows:,} articles and sent parts in {time.perf_counter() - started:.0f} s"
        )
        sizes = _SizeCounts(store, lambda: NOW)
        took = []
        for _ in range(args.rounds):
            store.engine.dispose()
            started = time.perf_counter()
            got = sizes._count(NOW)
            took.append((time.perf_counter() - started) * 1000)
        print(f"{store.engine.dialect.name}, {args.rows:,} rows: refresh best {min(took):.1f} ms, "
              f"median {statistics.median(took):.1f} ms; reported {got}")  # fmt: skip
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
