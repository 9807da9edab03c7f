"""Refit cost of the learned topics at scale: time and peak memory of one full refit.

    nice .venv/bin/python -m benchmarks.topics_refit --cold \
        --db postgresql+psycopg://postgres@127.0.0.1:5432/digestbot_bench_topics_100k

The store is one made by ``benchmarks/corpus_bulk.py`` (or any store). One refit is what
``digests.refit.refresh`` does when it is due: ``refit.fit_store`` reads the newest
``MAX_ARTICLES`` articles, fits (digests/learn/, with the sentence encoder and the store's
kept vectors) and keeps the model; ``refit.retag`` then tags last week's undelivered articles
(here: all of them, the worst case, ``--retag all``). ``--fits 2`` fits twice, the second
finding the sample's vectors kept; ``--cold`` drops the store's kept vectors first, so the
first fit encodes its whole sample. Topics: the shipped ``config/topics.toml``. Prints the
read on its own, each fit's wall time (its read included), the model's size and the peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import time
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

from digests import encode, refit
from digests.config import load_settings
from digests.store import Store

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--retag", choices=["week", "all"], default="all")
    ap.add_argument("--fits", type=int, default=2, help="fits in a row (cold, then warm cache)")
    ap.add_argument("--no-encoder", action="store_true", help="words only (the old learner)")
    ap.add_argument("--cold", action="store_true", help="drop the kept vectors first (a first fit)")
    a = ap.parse_args()
    settings = load_settings({}, ROOT / "config")
    store = Store.open(a.db)
    if a.cold:
        store.topics.keep_vectors({}, used=())
    now = datetime.now(UTC)
    n = store.articles.count()
    started = time.monotonic()
    sum(1 for _ in store.topics.corpus(limit=refit.MAX_ARTICLES))
    read_s = time.monotonic() - started
    fits = []
    # Words only: the encoder is reported missing, as when its package is not installed.
    words_only = mock.patch.object(encode, "encoder", lambda: None)
    for _ in range(a.fits):  # the first one encodes its sample; later ones find it kept
        began = time.monotonic()
        if a.no_encoder:
            with words_only:
                model = refit.fit_store(store, settings.topics, now=now)
        else:
            model = refit.fit_store(store, settings.topics, now=now)
        fits.append(time.monotonic() - began)
    fit_s = fits[0]
    assert model is not None
    size = len(model.to_bytes())
    began = time.monotonic()
    ids = store.topics.ids_after(0, limit=10**9) if a.retag == "all" else []
    tagged = refit.retag(store, model, ids, settings.topics)
    retag_s = time.monotonic() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{n} articles ({len(settings.topics)} topics): read {read_s:.1f} s, "
        f"fit (read included) {' / '.join(f'{f:.1f}' for f in fits)} s, "
        f"re-tag {tagged} in {retag_s:.1f} s; total {fit_s + retag_s:.1f} s; "
        f"model {size / 1e6:.1f} MB; peak RSS {peak:.0f} MiB"
    )
    counts = store.articles.tag_counts()
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:8]
    print("tags:", ", ".join(f"{k} {v}" for k, v in top), f"(now {now:%H:%M} UTC)")
    store.close()


if __name__ == "__main__":
    main()
