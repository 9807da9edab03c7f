"""Ingest rate on PostgreSQL against SQLite: the same pipeline, the same articles, interleaved.

    nice .venv/bin/python -m benchmarks.ingest_pg --eval-dir /work/shared/eval [--n 600] \
        [--workers 2] [--rounds 3] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test] \
        [--db-prefix digestbot_ingest]

``--n`` generated JSON feed articles (``-m benchmarks.corpus``'s generator) go through
``digests.ingest.pipeline.run`` (extract, summarize, tag, store, document hashes) into a fresh SQLite
file and into a fresh PostgreSQL database (made next to ``--pg``, dropped after), on 1 process
and on ``--workers``. Arms alternate; each reports its best of ``--rounds`` (a shared machine).
Target (issue 14): PostgreSQL ≥ 0.8 × SQLite.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.corpus import NOW, Generator, load_pool
from digests.config import load_settings
from digests.ingest.pipeline import PipelineOptions, run
from digests.models import RawDocument
from digests.store import Store
from testkit.pgscratch import scratch_database

ROOT = Path(__file__).resolve().parents[1]


def _time(url: str, docs: list[RawDocument], options: PipelineOptions, workers: int) -> float:
    store = Store.open(url)
    start = time.perf_counter()
    report = run(store, docs, options, now=NOW, workers=workers)
    seconds = time.perf_counter() - start
    store.close()
    assert not report.failed, report.failed[:3]
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eval-dir", type=Path, required=True)
    ap.add_argument("--seeds", type=Path, default=ROOT / "seeds")
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--db-prefix", default="digestbot_ingest", help="name of the scratch databases")
    args = ap.parse_args()
    topics = load_settings({}, ROOT / "config").topics
    gen = Generator(load_pool(args.eval_dir, args.seeds, topics), topics, seed=991, now=NOW)
    docs = list(gen.documents(0, args.n))
    options = PipelineOptions(topics=topics)
    print(f"load average before: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    print("| workers | SQLite art/s | PostgreSQL art/s | PostgreSQL / SQLite |")
    print("|---|---|---|---|")
    for workers in sorted({1, args.workers}):
        best = {"sqlite": 0.0, "pg": 0.0}
        for _ in range(args.rounds):
            with tempfile.TemporaryDirectory() as tmp:
                sqlite = f"sqlite:///{tmp}/ingest.db"
                best["sqlite"] = max(
                    best["sqlite"], len(docs) / _time(sqlite, docs, options, workers)
                )
            with scratch_database(args.pg, args.db_prefix) as pg:
                best["pg"] = max(best["pg"], len(docs) / _time(pg, docs, options, workers))
        print(
            f"| {workers} | {best['sqlite']:.0f} | {best['pg']:.0f} | "
            f"{best['pg'] / best['sqlite']:.2f}x |",
            flush=True,
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}", file=sys.stderr)


if __name__ == "__main__":
    main()
