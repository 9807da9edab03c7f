"""What story assignment costs: ingest rate against the code before it, and assignment time
and memory as the store grows.

    # ingest rate, this tree vs another checkout of the code before stories (interleaved)
    nice .venv/bin/python benchmarks/stories_cost.py rate --eval-dir ../shared/eval \\
        --before /tmp/digestbot-main --n 400 --rounds 3

    # assignment time per article at N stored articles, and the process's peak memory
    nice .venv/bin/python benchmarks/stories_cost.py scale --eval-dir ../shared/eval \\
        --n 100000 [--db sqlite:////tmp/stories-100k.db | postgresql+psycopg://...]

``rate``: the same ``--n`` generated JSON feed articles (benchmarks/corpus.py, seed 991) go
through ``digests.ingest.pipeline.run`` (extract, summarize, tag, store, and here: assign) into a
fresh SQLite store, in a subprocess whose ``PYTHONPATH`` is this tree or ``--before``; the
two arms alternate ``--rounds`` times, each reports every round and its best.

``scale``: ``--n`` generated articles are stored through ``store.articles.add_chunk`` (chunks
of 64, as ingest stores them) with a cheap stand-in for summarize and tag (lead-3, no tags:
the pipeline's per-article work is measured by ``rate``), so a 100k store is built in
minutes; every call of the assignment (``digests.store.stories._assign_one``) is timed.
Prints p50 / p95 / p99 per 10% of the run (the last decile is "at N stored"), the stories
made, and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_RATE = """
import sys, tempfile, time
sys.path.insert(0, {bench!r})
from corpus import NOW, Generator, load_pool
from pathlib import Path
from digests.config import load_settings
from digests.ingest.pipeline import PipelineOptions, run
from digests.store import Store
topics = load_settings({{}}, Path({config!r})).topics
gen = Generator(load_pool(Path({eval_dir!r}), Path({seeds!r}), topics), topics, seed=991, now=NOW)
docs = list(gen.documents(0, {n}))
with tempfile.TemporaryDirectory() as tmp:
    store = Store.open(f"sqlite:///{{tmp}}/b.db")
    began = time.perf_counter()
    report = run(store, docs, PipelineOptions(topics=tuple(topics)), now=NOW, workers={workers})
    took = time.perf_counter() - began
    print(len(report.added) / took)
"""


def rate(a: argparse.Namespace) -> None:
    """Interleaved ingest rounds: this tree vs ``--before``."""
    arms = {"stories": ROOT, "before": a.before.resolve()}
    results: dict[str, list[float]] = {k: [] for k in arms}
    code = _RATE.format(
        bench=str(ROOT / "benchmarks"),
        config=str(ROOT / "config"),
        eval_dir=str(a.eval_dir.resolve()),
        seeds=str(ROOT / "seeds"),
        n=a.n,
        workers=a.workers,
    )
    for r in range(a.rounds):
        for name, tree in arms.items():
            env = {**os.environ, "PYTHONPATH": str(tree)}
            out = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            )
            value = float(out.stdout.strip().splitlines()[-1])
            results[name].append(value)
            load = os.getloadavg()[0]
            print(f"round {r + 1} {name:8s} {value:6.1f} art/s (load {load:.1f})", flush=True)
    best = {k: max(v) for k, v in results.items()}
    med = {k: statistics.median(v) for k, v in results.items()}
    print(
        f"best: stories {best['stories']:.1f} vs before {best['before']:.1f} art/s "
        f"= {best['stories'] / best['before']:.2f}x; median {med['stories'] / med['before']:.2f}x"
    )


def scale(a: argparse.Namespace) -> None:
    """Fill a store with ``--n`` articles through add_chunk; time each assignment."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from corpus import NOW, Generator, load_pool

    from digests import stories as model
    from digests.config import load_settings
    from digests.models import Article, ProcessedArticle, Summary, Tagging
    from digests.sentences import split_sentences
    from digests.store import Store
    from digests.store import stories as story_store
    from digests.store.articles import ChunkItem
    from digests.store.export import stories_rows

    times: list[float] = []
    real = story_store._assign_one

    def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
        began = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            times.append(time.perf_counter() - began)

    story_store._assign_one = timed  # type: ignore[assignment]
    topics = load_settings({}, ROOT / "config").topics
    gen = Generator(load_pool(a.eval_dir, ROOT / "seeds", topics), topics, seed=991, now=NOW)
    tmp = tempfile.TemporaryDirectory()
    url = a.db or f"sqlite:///{tmp.name}/scale.db"
    store = Store.open(url)
    began = time.perf_counter()
    chunk: list[ChunkItem] = []
    for i in range(a.n):
        data = gen.article(i)
        body = str(data["text"])
        sentences = tuple(split_sentences(body))
        published = data["published"]
        article = Article(
            title=str(data["title"]),
            body=body,
            source=str(data["source"]),
            published=None if published is None else _parse(str(published)),
            url=str(data["url"]),
            locator=f"bench://scale/{i}",
        )
        item = ProcessedArticle(
            article,
            Summary(sentences[:3], "lead"),
            Tagging(()),
            sentences,
            model.profile(article.title, body),
        )
        chunk.append(ChunkItem(article.locator, f"h{i}", item))
        if len(chunk) == 64:
            store.articles.add_chunk(chunk, now=NOW)
            chunk = []
        if (i + 1) % (a.n // 10) == 0:
            recent = sorted(times[-(a.n // 10) :])
            print(
                f"{i + 1} stored, {time.perf_counter() - began:.0f} s; the last {len(recent)} "
                f"assignments p50 {1000 * recent[len(recent) // 2]:.2f} ms, p95 "
                f"{1000 * recent[int(len(recent) * 0.95)]:.2f} ms; peak RSS "
                f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB; "
                f"load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    if chunk:
        store.articles.add_chunk(chunk, now=NOW)
    took = time.perf_counter() - began
    decile = max(1, len(times) // 10)
    for d in range(10):
        part = sorted(times[d * decile : (d + 1) * decile])
        if part:
            print(
                f"articles {d * decile}-{(d + 1) * decile}: assignment p50 "
                f"{1000 * part[len(part) // 2]:.2f} ms, p95 {1000 * part[int(len(part) * 0.95)]:.2f}"
                f" ms, p99 {1000 * part[int(len(part) * 0.99)]:.2f} ms"
            )
    n_stories = sum(1 for _ in stories_rows(store.engine))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "stored": store.articles.count(),
                "stories": n_stories,
                "seconds": round(took),
                "peak_rss_mib": round(peak),
                "db": url.split("@")[-1],
                "load": round(os.getloadavg()[0], 1),
            }
        )
    )
    store.close()
    tmp.cleanup()


def _parse(value: str):  # type: ignore[no-untyped-def]
    from datetime import datetime

    return datetime.fromisoformat(value)


def main() -> None:
    """Run one of the two measurements."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    r = sub.add_parser("rate")
    r.add_argument("--eval-dir", type=Path, required=True)
    r.add_argument("--before", type=Path, required=True, help="a checkout of the code before")
    r.add_argument("--n", type=int, default=400)
    r.add_argument("--rounds", type=int, default=3)
    r.add_argument("--workers", type=int, default=1)
    s = sub.add_parser("scale")
    s.add_argument("--eval-dir", type=Path, required=True)
    s.add_argument("--n", type=int, default=100_000)
    s.add_argument("--db", help="SQLAlchemy URL (default: SQLite in a temp folder)")
    a = ap.parse_args()
    (rate if a.mode == "rate" else scale)(a)


if __name__ == "__main__":
    main()
