"""How much a learned-topics fit gains from its encoded sample: accuracy inside and outside it.

    .venv/bin/python -m benchmarks.topics_sample WORKDIR [--store N | --tokens N] [--max N]
        [--salt S] [--fraction F --draw S]

``WORKDIR`` is a store ``benchmarks.topics_eval --workdir`` left (its SQLite database, its
``gold.jsonl`` and ``topics.toml``). The store's texts are fitted with ``learn.fit`` directly
(as ``digestbot topics --refit`` fits them, without the database's vector cache: vectors are
cached in ``WORKDIR/vectors.npz`` between runs instead), the encoded sample bounded by
``--tokens`` (instead of ``learn.sample.token_budget``) or ``--max`` articles (``_ENCODE_MAX``),
and the top tag scored against the labels, for all articles, those encoded and the rest. A dev
store smaller than the held-out one is encoded whole by default; ``--store N`` simulates a store
of N such articles: the budget a fit of N articles gets, scaled to the dev store's size (the
share of the store encoded is the same). ``--salt`` draws another sample (the hash salted).
``--fraction F --draw S`` fits a random share F of the store instead (draw S), to see how
steady the fit is as the store changes; it prints the topics learned only from the articles
naming them (a topic the fit found no agreement for).
Dev data only. It sets ``learn.sample``'s private bounds and hash on purpose: simulating
another store size is what it is for.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tomllib
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import create_engine, select

from digests import encode, learn
from digests.store.schema import articles


class _Cached:
    """The encoder with its vectors kept in an .npz file between runs."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._kept: dict[str, NDArray[np.float32]] = (
            dict(np.load(path, allow_pickle=False)) if path.exists() else {}
        )
        model = encode.encoder()
        if model is None:
            raise SystemExit("the sentence encoder is not installed")
        self._model = model

    def tokens(self, texts: Sequence[str]) -> list[int]:
        return self._model.tokens(texts)

    def __call__(self, texts: Sequence[str]) -> NDArray[np.float32]:
        keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
        missing = [(k, t) for k, t in zip(keys, texts, strict=True) if k not in self._kept]
        if missing:
            fresh = self._model.encode([t for _, t in missing])
            self._kept.update((k, v) for (k, _), v in zip(missing, fresh, strict=True))
            # numpy's stub: a **kwargs key could be its allow_pickle: bool
            np.savez(self._path, **self._kept)  # type: ignore[arg-type]
        return np.stack([self._kept[k] for k in keys])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("workdir", type=Path)
    bound = ap.add_mutually_exclusive_group()
    bound.add_argument("--tokens", type=int, help="tokens encoded (default: the product's)")
    bound.add_argument("--store", type=int, help="simulate a store of this many articles")
    ap.add_argument("--max", type=int, help="articles encoded at most")
    ap.add_argument("--salt", type=int, default=0, help="another draw of the sample")
    ap.add_argument("--fraction", type=float, help="fit a random share of the store")
    ap.add_argument("--draw", type=int, default=0, help="which random share (--fraction)")
    a = ap.parse_args()
    engine = create_engine(f"sqlite:///{a.workdir / 'data' / 'digestbot.db'}")
    query = select(articles.c.title, articles.c.body, articles.c.locator)
    with engine.connect() as conn:
        rows = list(conn.execute(query.order_by(articles.c.id.desc())))
    texts = [f"{r.title}\n{r.body[:4000]}" for r in rows]
    ids = [Path(r.locator).stem for r in rows]
    if a.fraction:
        rng = np.random.default_rng(a.draw)
        drawn = np.sort(rng.choice(len(texts), int(a.fraction * len(texts)), replace=False))
        texts, ids = [texts[i] for i in drawn], [ids[i] for i in drawn]
    # AG rows carry a label; BBC's is the id's second part (bbc-sport-382), as score_tags reads
    rows_gold = map(json.loads, (a.workdir / "gold.jsonl").open())
    gold = {g["id"]: g.get("label") or g["id"].split("-")[1] for g in rows_gold}
    with (a.workdir / "config" / "topics.toml").open("rb") as f:
        names = [t["name"] for t in tomllib.load(f)["topic"]]
    budget = learn.sample.token_budget
    tokens: int | None = a.tokens
    store: int | None = a.store

    def simulated(articles: int) -> int:
        # --tokens as given; --store: that store's budget, scaled to this one's size
        return tokens if tokens else budget(store or articles) * articles // (store or articles)

    if tokens or store:
        learn.sample.token_budget = simulated
    if a.max:
        learn.sample._ENCODE_MAX = a.max
    if a.salt:

        def salted(text: str) -> int:
            return zlib.crc32(f"{a.salt}{text[: learn.LEDE_CHARS]}".encode("utf-8", "replace"))

        learn.sample.lede_hash = salted
    cached = _Cached(a.workdir / "vectors.npz")
    sample = learn.sample.encoded([t[: learn.LEDE_CHARS] for t in texts], cached.tokens)
    model = learn.fit(texts, [learn.TopicSpec(n) for n in names], encode=cached)
    if model is None:
        raise SystemExit("too little to learn from")
    top = [next(iter(model.tags_of(p)), ("", 0.0))[0] for p in model.probabilities(texts)]
    right = np.array([t == gold.get(i) for t, i in zip(top, ids, strict=True)])
    inside = np.zeros(len(texts), dtype=bool)
    inside[sample] = True
    rest = f"{right[~inside].mean():.3f}" if (~inside).any() else "-"
    print(
        f"encoded {inside.sum()} of {len(texts)}: accuracy {right.mean():.3f}, "
        f"encoded {right[inside].mean():.3f}, rest {rest}"
        + (
            f"; learned from their names only: {', '.join(model.named_only)}"
            if model.named_only
            else ""
        )
    )


if __name__ == "__main__":
    main()
