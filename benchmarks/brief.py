"""In-process ``digests.brief.brief`` latency over a fixed list of topics, per store.

    B=/tmp/digestbot-bench
    .venv/bin/python -m benchmarks.brief $B/corpus-10k.db $B/corpus-100k.db [--repeat 5] [--stages]

Each store (a SQLite path or a database URL, built by ``-m benchmarks.corpus``) is opened
once; every query runs once to warm the page cache (reported apart as "cold"), then
``--repeat`` timed rounds, each query on every store in turn, so that other load on the
machine hits all stores alike. Wall time is the latency; CPU time (``process_time``) is
shown too, as it is steadier on a shared machine. The
list is fixed: configured topics and aliases (found through the tag index) and free text
(found through full-text search, including a query that matches nothing and falls back to
"any term"). Reports p50/p95/p99 in milliseconds for each kind and overall, and the
first → last store growth of p95 and p50 when several are given. ``--stages`` adds where the time goes:
id lookup, article rows, sentences, ranking (the multidoc engine, ``summarize_sources``) and the rest.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import digests.brief as brief_module
from benchmarks.corpus import NOW, db_url
from digests.config import Topic, load_settings
from digests.store import Store

ROOT = Path(__file__).resolve().parents[1]

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

    active: _Stages | None = None  # the run whose brief is executing (rank is module-global)

    def __init__(self, store: Store) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        arts = store.articles
        for name, label in (
            ("ids_for_tag", "ids"),
            ("search", "ids"),
            ("get", "rows"),
            ("sentences", "sentences"),
        ):
            setattr(arts, name, self._wrap(getattr(arts, name), label, self))

    @staticmethod
    def _wrap(fn: Callable, label: str, owner: _Stages | None = None) -> Callable:
        def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
            split = owner or _Stages.active
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                if split:
                    split.spent[label] += time.perf_counter() - start

        return timed


class _Run:
    """One store under test and what was measured on it."""

    def __init__(self, url: str, stages: bool) -> None:
        self.store = Store.open(url)
        self.count = self.store.articles.count()
        self.split = _Stages(self.store) if stages else None
        self.wall: dict[str, list[float]] = {"configured": [], "free-text": []}
        self.cpu: dict[str, list[float]] = {"configured": [], "free-text": []}
        self.spent: dict[str, dict[str, float]] = {}
        self.per_query: dict[str, list[float]] = defaultdict(list)
        self.cold: list[float] = []
        self.empty: set[str] = set()

    def once(self, query: str, topics: Sequence[Topic]) -> tuple[float, float, bool]:
        _Stages.active = self.split
        wall, cpu = time.perf_counter(), time.process_time()
        result = brief_module.brief(self.store, query, topics=topics, now=NOW)
        return (
            (time.perf_counter() - wall) * 1000,
            (time.process_time() - cpu) * 1000,
            bool(result.sentences),
        )


def measure(urls: Sequence[str], repeat: int, stages: bool) -> list[_Run]:
    """Run every query on every store, interleaved so machine noise hits all stores alike."""
    topics = load_settings({}, ROOT / "config").topics
    original_rank = brief_module.summarize_sources
    brief_module.summarize_sources = _Stages._wrap(original_rank, "rank")
    runs = [_Run(url, stages) for url in urls]
    try:
        for run in runs:  # first round: cold caches, reported apart from the table
            for q in CONFIGURED + FREE_TEXT:
                ms, _, found = run.once(q, topics)
                run.cold.append(ms)
                if not found:
                    run.empty.add(q)
        for kind, queries in (("configured", CONFIGURED), ("free-text", FREE_TEXT)):
            for run in runs:
                if run.split:
                    run.split.spent.clear()
            for _ in range(repeat):
                for q in queries:
                    for run in runs:
                        ms, cpu, _ = run.once(q, topics)
                        run.wall[kind].append(ms)
                        run.cpu[kind].append(cpu)
                        run.per_query[q].append(ms)
            for run in runs:
                if run.split:
                    run.spent[kind] = dict(run.split.spent)
    finally:
        brief_module.summarize_sources = original_rank
        _Stages.active = None
        for run in runs:
            run.store.close()
    return runs


def report(run: _Run) -> None:
    """Table rows (stdout) and notes (stderr) for one store."""
    for kind, spent in run.spent.items():
        total = sum(run.wall[kind]) / 1000
        shares = ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(spent.items()))
        rest = 1 - sum(spent.values()) / total
        print(f"  {run.count}: {kind} stages: {shares}, other {rest:.0%}", file=sys.stderr)
    slowest = sorted(run.per_query, key=lambda q: -statistics.median(run.per_query[q]))[:3]
    print(
        f"  {run.count} articles; slowest: "
        + ", ".join(f"{q!r} {statistics.median(run.per_query[q]):.0f} ms" for q in slowest)
        + (f"; no sentences for {sorted(run.empty)}" if run.empty else "")
        + f"; cold first round p50 {percentile(run.cold, 50):.0f} ms, max {max(run.cold):.0f} ms",
        file=sys.stderr,
    )
    run.wall["all"] = run.wall["configured"] + run.wall["free-text"]
    run.cpu["all"] = run.cpu["configured"] + run.cpu["free-text"]
    for kind, values in run.wall.items():
        cpu = run.cpu[kind]
        print(
            f"| {run.count} | {kind} | {len(values)} | {percentile(values, 50):.0f} | "
            f"{percentile(values, 95):.0f} | {percentile(values, 99):.0f} | {max(values):.0f} "
            f"| {percentile(cpu, 50):.0f} | {percentile(cpu, 95):.0f} |",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stores", nargs="+", help="SQLite paths or database URLs, smallest first")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--stages", action="store_true", help="split the time by stage")
    args = ap.parse_args()
    runs = measure([db_url(s) for s in args.stores], args.repeat, args.stages)
    print("| articles | queries | n | p50 ms | p95 ms | p99 ms | max ms | CPU p50 | CPU p95 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for run in runs:
        report(run)
    if len(runs) > 1:
        first, last = runs[0], runs[-1]
        for label, a, b in (("wall", first.wall["all"], last.wall["all"]),
                            ("CPU", first.cpu["all"], last.cpu["all"])):  # fmt: skip
            print(
                f"\n{label} growth {first.count} -> {last.count}: p95 "
                f"{percentile(b, 95) / percentile(a, 95):.2f}x, p50 "
                f"{percentile(b, 50) / percentile(a, 50):.2f}x"
            )


if __name__ == "__main__":
    main()
