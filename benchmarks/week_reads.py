"""What the reads of "the last week" cost on a big store: a re-tag's undelivered articles
(``Topics.recent_undelivered``) and the exports' ``--since`` (``digestbot articles``/``stories``).

    .venv/bin/python -m benchmarks.week_reads /tmp/digestbot-bench/corpus-100k.db \
        [postgresql+psycopg://...] [--days 7] [--repeat 3]

For each store and read: rows, best wall time of ``--repeat`` and, on SQLite, the virtual-machine
steps of the best round (thousands; a progress handler: work done, whatever the machine's load).
The week ends at the corpus's ``NOW`` (``benchmarks.corpus``). Opening a store applies pending
migrations first (outside the timing).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import event

from benchmarks.corpus import NOW, db_url
from digests.refit import RETAG_LIMIT
from digests.store import Store
from digests.store.export import articles_rows, stories_rows


def _reads(store: Store, days: float) -> dict[str, Callable[[], int]]:
    since = NOW - timedelta(days=days)
    return {
        "retag week": lambda: len(store.topics.recent_undelivered(since, limit=RETAG_LIMIT)),
        "articles --since": lambda: sum(1 for _ in articles_rows(store.engine, since=since)),
        "stories --since": lambda: sum(1 for _ in stories_rows(store.engine, since=since)),
    }


def _measure(store: Store, days: float, repeat: int) -> None:
    steps = [0]

    def tick() -> int:
        steps[0] += 1
        return 0  # go on

    def count(dbapi_conn: Any, _record: object) -> None:
        dbapi_conn.set_progress_handler(tick, 1000)

    sqlite = store.engine.dialect.name == "sqlite"
    if sqlite:
        event.listen(store.engine, "connect", count)
        store.engine.dispose()
    for name, read in _reads(store, days).items():
        best, best_steps, rows = float("inf"), 0, 0
        for _ in range(repeat):
            steps[0] = 0
            started = time.perf_counter()
            rows = read()
            took = time.perf_counter() - started
            if took < best:
                best, best_steps = took, steps[0]
        work = f", {best_steps:,}k VM steps" if sqlite else ""
        print(f"  {name}: {rows:,} rows, {best * 1000:.1f} ms (best of {repeat}){work}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stores", nargs="+", help="SQLite files or database URLs")
    ap.add_argument("--days", type=float, default=7)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    for target in args.stores:
        store = Store.open(db_url(target))
        print(f"{target}:")
        _measure(store, args.days, args.repeat)
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
