"""In-process ``digests.brief.brief`` latency over a fixed list of topics, per store.

    .venv/bin/python benchmarks/brief.py data/bench/corpus-10k.db data/bench/corpus-100k.db \
        [--repeat 5] [--stages]

Each store (a SQLite path or a database URL, built by ``benchmarks/corpus.py``) is opened
once; every query runs once to warm the page cache, then ``--repeat`` timed rounds. The
list is fixed: configured topics and aliases (found through the tag index) and free text
(found through full-text search, including a query that matches nothing and falls back to
"any term"). Reports p50/p95/p99 in milliseconds for each kind and overall, and the
10k → 100k ratio of p95 when two stores are given. ``--stages`` adds where the time goes:
id lookup, article rows, sentences, ranking (``rank_for_query``) and the rest.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from corpus import NOW, db_url  # noqa: E402

import digests.brief as brief_module  # noqa: E402
from digests.config import load_settings  # noqa: E402
from digests.store import Store  # noqa: E402

CONFIGURED = (
    "taiwan", "china", "united states", "trade", "russia", "ukraine", "iran", "israel",
    "gaza", "lebanon", "south china sea", "japan", "defense", "economy", "diplomacy",
    "Taiwan Strait", "Kremlin", "Xi Jinping", "tariffs", "Hezbollah",
)  # fmt: skip
FREE_TEXT = (
    "election campaign", "interest rates", "football transfer", "climate change",
    "oil prices", "prime minister", "hospital waiting lists", "film festival", "tax cuts",
    "police investigation", "rugby six nations", "mobile phone", "chancellor budget",
    "record label music sales", "airline strike", "quantum zebra spaceship",
)  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


class _Stages:
    """Wraps the store calls and the ranker brief() makes, to split its time by stage."""

    def __init__(self, store: Store) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        arts = store.articles
        for name, label in (
            ("ids_for_tag", "ids"),
            ("search", "ids"),
            ("get", "rows"),
            ("sentences", "sentences"),
        ):
            setattr(arts, name, self._wrap(getattr(arts, name), label))
        brief_module.rank_for_query = self._wrap(brief_module.rank_for_query, "rank")

    def _wrap(self, fn: Callable, label: str) -> Callable:
        def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.spent[label] += time.perf_counter() - start

        return timed


def measure(url: str, repeat: int, stages: bool) -> dict[str, list[float]]:
    """Latencies (ms) by kind for one store; prints the table rows."""
    topics = load_settings({}, ROOT / "config").topics
    store = Store.open(url)
    count = store.articles.count()
    original_rank = brief_module.rank_for_query
    split = _Stages(store) if stages else None
    times: dict[str, list[float]] = {"configured": [], "free-text": []}
    per_query: dict[str, list[float]] = defaultdict(list)
    empty = set()
    try:
        for kind, queries in (("configured", CONFIGURED), ("free-text", FREE_TEXT)):
            for q in queries:  # warm-up round, not timed
                result = brief_module.brief(store, q, topics=topics, now=NOW)
                if not result.sentences:
                    empty.add(q)
            if split:
                split.spent.clear()
            for _ in range(repeat):
                for q in queries:
                    start = time.perf_counter()
                    brief_module.brief(store, q, topics=topics, now=NOW)
                    ms = (time.perf_counter() - start) * 1000
                    times[kind].append(ms)
                    per_query[q].append(ms)
            if split:
                total = sum(times[kind]) / 1000
                shares = ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(split.spent.items()))
                rest = 1 - sum(split.spent.values()) / total
                print(f"  {kind} stages: {shares}, other {rest:.0%}", file=sys.stderr)
    finally:
        brief_module.rank_for_query = original_rank
        store.close()
    slowest = sorted(per_query, key=lambda q: -statistics.median(per_query[q]))[:3]
    print(
        f"  {count} articles; slowest: "
        + ", ".join(f"{q!r} {statistics.median(per_query[q]):.0f} ms" for q in slowest)
        + (f"; no sentences for {sorted(empty)}" if empty else ""),
        file=sys.stderr,
    )
    times["all"] = times["configured"] + times["free-text"]
    for kind, values in times.items():
        print(
            f"| {count} | {kind} | {len(values)} | {percentile(values, 50):.0f} | "
            f"{percentile(values, 95):.0f} | {percentile(values, 99):.0f} | {max(values):.0f} |",
            flush=True,
        )
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stores", nargs="+", help="SQLite paths or database URLs, smallest first")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--stages", action="store_true", help="split the time by stage")
    args = ap.parse_args()
    print("| articles | queries | n | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|---|")
    results = [measure(db_url(s), args.repeat, args.stages) for s in args.stores]
    if len(results) > 1:
        first, last = results[0]["all"], results[-1]["all"]
        print(
            f"\np95 growth, first store -> last: "
            f"{percentile(last, 95) / percentile(first, 95):.2f}x "
            f"(p50 {percentile(last, 50) / percentile(first, 50):.2f}x)"
        )


if __name__ == "__main__":
    main()
