"""Which articles a fit reads: every one up to ``FIT_MAX``, else the ``FIT_MAX`` with the
smallest hashes (and every corrected one); and, of those, which the sentence encoder reads:
the smallest hashes again, until a budget of tokens (:func:`token_budget`). A text's hash is
its headline and lede's, so both samples change little as the store grows (kept vectors stay
useful)."""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable, Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

from digests.learn.model import Correction

FIT_MAX = 30_000  # articles a fit learns from (those with the smallest hashes): bounds its cost
LEDE_CHARS = 400  # of each article: its headline and lede (what is hashed and encoded)
_ENCODE_TOKENS = 192_000  # tokens a fit of FIT_MAX articles encodes (3,000 full-length ledes)
# and a smaller fit, this many more per article it has fewer: its words part costs less
# (~0.25 ms an article, against ~0.15 ms a token encoded: docs/lab/topics.md, stop 38)
_TOKENS_PER_ARTICLE = 2
_ENCODE_MAX = 6000  # and articles, however short (the projection solves an n × n system)
_TOKENS_CHUNK = 1000  # ledes counted at a time while filling the sample


def lede_hash(text: str) -> int:
    """A text's place in the samples (its headline and lede's): stable as the store grows."""
    return zlib.crc32(text[:LEDE_CHARS].encode("utf-8", "replace"))


def fit_sample(ledes: Sequence[str], corrected: Iterable[int] = ()) -> NDArray[np.int64]:
    """Positions (ascending) of the articles a fit learns from: all of them up to
    ``FIT_MAX``, else the ``FIT_MAX`` with the smallest hashes and every ``corrected`` one.
    ``ledes``: each article's text, or its first ``LEDE_CHARS`` characters (all the hash
    reads), so a caller can choose before reading whole texts."""
    if len(ledes) <= FIT_MAX:
        return np.arange(len(ledes), dtype=np.int64)
    keep = np.zeros(len(ledes), dtype=bool)
    hashes = np.array([lede_hash(t) for t in ledes], dtype=np.int64)
    keep[np.argsort(hashes, kind="stable")[:FIT_MAX]] = True
    for i in corrected:
        if 0 <= i < len(ledes):
            keep[i] = True
    return np.flatnonzero(keep).astype(np.int64)


def fit_texts(
    texts: Sequence[str], corrections: Sequence[Correction]
) -> tuple[Sequence[str], Sequence[Correction]]:
    """The texts :func:`fit_sample` keeps, in corpus order; the corrections re-pointed."""
    if len(texts) <= FIT_MAX:
        return texts, corrections
    rows = fit_sample(texts, [c.index for c in corrections])
    position = {int(r): i for i, r in enumerate(rows)}
    moved = [
        dataclasses.replace(c, index=position[c.index]) for c in corrections if c.index in position
    ]
    return [texts[int(r)] for r in rows], moved


def token_budget(articles: int) -> int:
    """Tokens a fit of ``articles`` articles may encode. What is bounded is the whole fit's
    cost, the largest fit's (``FIT_MAX`` articles and ``_ENCODE_TOKENS`` tokens): a smaller
    fit spends on the encoder what its words part saves. The budget only shrinks as a store
    grows, so each fit's sample is mostly the previous one's and its vectors are kept."""
    return _ENCODE_TOKENS + _TOKENS_PER_ARTICLE * max(0, FIT_MAX - articles)


def encoded(
    ledes: Sequence[str], tokens: Callable[[Sequence[str]], list[int]]
) -> NDArray[np.int64]:
    """Positions (ascending) of the ledes the encoder reads: those with the smallest hashes,
    taken in that order until their ``tokens`` reach :func:`token_budget` (the encoder's cost
    is per token: a store of short items gets more of them encoded for the same time) or
    ``_ENCODE_MAX`` articles. ``ledes``: the fit's articles."""
    budget = token_budget(len(ledes))
    hashes = np.array([lede_hash(t) for t in ledes], dtype=np.int64)
    order = np.argsort(hashes, kind="stable")[:_ENCODE_MAX]
    spent, taken = 0, 0
    for start in range(0, order.size, _TOKENS_CHUNK):
        chunk = order[start : start + _TOKENS_CHUNK]
        used = np.cumsum(tokens([ledes[i] for i in chunk])) + spent
        fits = int(np.searchsorted(used, budget, side="right"))
        taken += fits
        if fits < chunk.size:
            break
        spent = int(used[-1])
    return np.sort(order[:taken]).astype(np.int64)
