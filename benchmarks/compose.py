"""Digest composition for the newest ``--new`` articles of a store (default 1,000).

    .venv/bin/python -m benchmarks.compose /tmp/digestbot-bench/corpus-10k.db [more stores] \
        [--new 1000] [--repeat 5]

Sets the watermark ``--new`` articles before the newest, then times, best and median of
``--repeat`` rounds: ``store.articles.since`` (fetching the new articles with their tags),
``digests.compose.compose`` alone (grouping by tag, merging near-duplicate wire copies), and
both together, which is what a scheduled digest does before rendering. Also with a topic
filter (``--topic``, repeatable; default taiwan, china, trade) as a channel subscription
would. The target is fetch + compose <= 1 s for 1,000 new articles.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import TypeVar

from benchmarks.corpus import NOW, db_url
from digests.compose import compose
from digests.store import Store

T = TypeVar("T")


def _timed(fn: Callable[..., T], repeat: int) -> tuple[float, float, T]:
    runs: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        runs.append((time.perf_counter() - start) * 1000)
    return min(runs), statistics.median(runs), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stores", nargs="+")
    ap.add_argument("--new", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--topic", action="append", dest="topics")
    args = ap.parse_args()
    filtered = args.topics or ["taiwan", "china", "trade"]
    print("| articles | filter | new | items | sections | fetch ms | compose ms | total ms |")
    print("|---|---|---|---|---|---|---|---|")
    for path in args.stores:
        store = Store.open(db_url(path))
        total = store.articles.count()
        mark = max(0, store.articles.latest_id() - args.new)
        for topics in ([], filtered):
            store.articles.since(mark, topics=topics, limit=args.new)  # warm the cache

            def fetch(store=store, mark=mark, topics=topics):  # type: ignore[no-untyped-def]
                return store.articles.since(mark, topics=topics, limit=args.new)

            _, fetch_ms, new = _timed(fetch, args.repeat)
            _, compose_ms, digest = _timed(
                lambda new=new, topics=topics: compose(new, now=NOW, topics=topics), args.repeat
            )
            _, both_ms, _ = _timed(
                lambda fetch=fetch, topics=topics: compose(fetch(), now=NOW, topics=topics),
                args.repeat,
            )
            items = sum(len(s.items) for s in digest.sections)
            label = ",".join(topics) or "all"
            print(
                f"| {total} | {label} | {len(new)} | {items} | {len(digest.sections)} | "
                f"{fetch_ms:.0f} | {compose_ms:.0f} | {both_ms:.0f} |",
                flush=True,
            )
        store.close()


if __name__ == "__main__":
    main()
