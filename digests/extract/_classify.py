"""Keep the article blocks of a text dump: a tiny logistic regression plus clean-up.

The weights live in ``_model.py``, written by ``benchmarks/train_extract.py`` (scikit-learn
is a dev-only tool); here they are evaluated in pure Python so runtime needs no numpy.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from digests.extract import _model
from digests.extract._blocks import Block
from digests.extract._features import FEATURE_NAMES, block_size, page_features


@dataclass(frozen=True, slots=True)
class BlockModel:
    """Standardisation and logistic-regression weights, aligned with ``FEATURE_NAMES``."""

    names: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    weights: tuple[float, ...]
    intercept: float
    threshold: float


def default_model() -> BlockModel:
    """The shipped model; refuses to run if it was trained on other features."""
    if tuple(_model.FEATURES) != FEATURE_NAMES:
        raise RuntimeError("digests/extract/_model.py is stale: rerun benchmarks/train_extract.py")
    return BlockModel(
        names=tuple(_model.FEATURES),
        means=tuple(_model.MEANS),
        scales=tuple(_model.SCALES),
        weights=tuple(_model.WEIGHTS),
        intercept=_model.INTERCEPT,
        threshold=_model.THRESHOLD,
    )


def probabilities(rows: Sequence[Sequence[float]], model: BlockModel) -> list[float]:
    """P(article) for each feature row."""
    params = list(zip(model.means, model.scales, model.weights, strict=True))
    out = []
    for row in rows:
        z = model.intercept
        for x, (m, s, w) in zip(row, params, strict=True):
            z += (x - m) / s * w
        out.append(1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z)))))
    return out


# The article is one contiguous stretch of the page: find the run of blocks where the
# classifier is most confident (Kadane over size-weighted margins), then keep the blocks
# inside it that pass a lower bar. Teasers and widgets outside it go, however prose-like.
_REGION_MARGIN = 0.4
_OUTSIDE_PENALTY = 1.5
_TRIM_EDGE_WORDS = 3


def _region(probs: Sequence[float], sizes: Sequence[int]) -> tuple[int, int]:
    best, span = float("-inf"), (0, -1)
    run, start = 0.0, 0
    for i, (p, n) in enumerate(zip(probs, sizes, strict=True)):
        value = (p - _REGION_MARGIN) * (n + 1)
        if p < _REGION_MARGIN:
            value *= _OUTSIDE_PENALTY
        if run <= 0:
            run, start = value, i
        else:
            run += value
        if run > best:
            best, span = run, (start, i)
    return span


def _is_sentence(text: str) -> bool:
    return text.rstrip("\"'”’)»").endswith((".", "!", "?", "。", "！", "？", ":"))


def select(blocks: Sequence[Block], probs: Sequence[float], threshold: float) -> list[int]:
    """Indices of the kept blocks: in the article region, above threshold, each text once."""
    sizes = [block_size(b) for b in blocks]
    lo, hi = _region(probs, sizes)
    keys = [" ".join(b.text.lower().split()) for b in blocks]
    counts = Counter(keys)
    seen: set[str] = set()
    kept = []
    for i in range(lo, hi + 1):
        key = keys[i]
        if probs[i] < threshold or key in seen:
            continue
        # A headline printed twice inside the article is a teaser for another story
        # (image link + text link); article subheads are printed once.
        if counts[key] > 1 and not _is_sentence(blocks[i].text) and _TRIM_EDGE_WORDS < sizes[i]:
            continue
        kept.append(i)
        seen.add(key)
    # Credits and labels ("Reuters", "Share") cling to the region's edges: trim them.
    while kept and sizes[kept[-1]] <= _TRIM_EDGE_WORDS and not _is_sentence(blocks[kept[-1]].text):
        kept.pop()
    while kept and sizes[kept[0]] <= _TRIM_EDGE_WORDS and not _is_sentence(blocks[kept[0]].text):
        kept.pop(0)
    return kept


def article_blocks(blocks: Sequence[Block], model: BlockModel | None = None) -> list[int]:
    """Indices of the blocks that make up the article body."""
    model = model or default_model()
    probs = probabilities(page_features(list(blocks)), model)
    return select(blocks, probs, model.threshold)
