"""Refit cost of the learned topics at scale: time and peak memory of one full refit.

    nice .venv/bin/python -m benchmarks.topics_refit \
        --db postgresql+psycopg://postgres@127.0.0.1:5432/digestbot_bench_topics_100k

The store is one made by ``benchmarks/corpus_bulk.py`` (or any store). One refit is what
``digests.refit.refresh`` does when it is due: read the newest ``MAX_ARTICLES`` articles,
fit (digests/learn.py; with the sentence encoder and its kept vectors, as refit does:
``--fits 2`` fits twice, the second finding the sample's vectors kept), keep the model, re-tag last week's undelivered articles (here: all of
them, the worst case, ``--retag all``). Topics: the shipped ``config/topics.toml``.
Prints each step's wall time, the model's size and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import time
from datetime import UTC, datetime
from pathlib import Path

from digests import learn, refit
from digests.config import load_settings
from digests.store import Store

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--retag", choices=["week", "all"], default="all")
    ap.add_argument("--fits", type=int, default=2, help="fits in a row (cold, then warm cache)")
    ap.add_argument("--no-encoder", action="store_true", help="words only (the old learner)")
    a = ap.parse_args()
    settings = load_settings({}, ROOT / "config")
    store = Store.open(a.db)
    now = datetime.now(UTC)
    n = store.articles.count()
    started = time.monotonic()
    rows = list(store.topics.corpus(limit=refit.MAX_ARTICLES))
    read_s = time.monotonic() - started
    specs = [learn.TopicSpec(t.name, t.aliases) for t in settings.topics]
    texts = [t for _, t, _, _ in rows]
    fits = []
    for _ in range(a.fits):  # the first one encodes its sample; later ones find it kept
        cache = refit._VectorCache(store)
        began = time.monotonic()
        model = learn.fit(texts, specs, encode=None if a.no_encoder else cache.encoder())
        cache.keep()
        fits.append(time.monotonic() - began)
    fit_s = fits[0]
    assert model is not None
    size = len(model.to_bytes())
    del rows
    began = time.monotonic()
    ids = store.topics.ids_after(0, limit=10**9) if a.retag == "all" else []
    tagged = refit._apply(store, model, ids, settings.topics)
    retag_s = time.monotonic() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{n} articles ({len(specs)} topics): read {read_s:.1f} s, "
        f"fit {' / '.join(f'{f:.1f}' for f in fits)} s, "
        f"re-tag {tagged} in {retag_s:.1f} s; total {read_s + fit_s + retag_s:.1f} s; "
        f"model {size / 1e6:.1f} MB; peak RSS {peak:.0f} MiB"
    )
    counts = store.articles.tag_counts()
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:8]
    print("tags:", ", ".join(f"{k} {v}" for k, v in top), f"(now {now:%H:%M} UTC)")
    store.close()


if __name__ == "__main__":
    main()
