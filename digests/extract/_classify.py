"""Keep the article blocks of a text dump: a tiny logistic regression plus clean-up.

The weights live in ``_model.py``, written by ``benchmarks/train_extract.py`` (scikit-learn
is a dev-only tool); here they are evaluated in pure Python so runtime needs no numpy.
"""

from __future__ import annotations

import math
import operator
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from digests.extract import _model
from digests.extract._blocks import Block
from digests.extract._features import FEATURE_NAMES, block_size, page_features_and_sizes


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
    # Fold the standardisation into the weights once: z = b + sum(w/s * x) - sum(w*m/s).
    weights = [w / s for w, s in zip(model.weights, model.scales, strict=True)]
    bias = model.intercept - sum(w * m for w, m in zip(weights, model.means, strict=True))
    out = []
    for row in rows:
        z = bias + sum(map(operator.mul, row, weights))
        out.append(1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z)))))
    return out


# The article is one contiguous stretch of the page: find the run of blocks where the
# classifier is most confident (Kadane over size-weighted margins), then keep the blocks
# inside it that pass a lower bar. Teasers and widgets outside it go, however prose-like.
_REGION_MARGIN = 0.4
_OUTSIDE_PENALTY = 1.5
_TRIM_EDGE_WORDS = 3
_EXTEND_MARGIN = 0.33
_HEADING_THRESHOLD = 0.4
_HEADLINE_RUN = 3
_EXTEND_WORDS = 25


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


def _drop_headline_runs(blocks: Sequence[Block], kept: list[int]) -> list[int]:
    """Drop runs of several headline-like lines in a row: an inline "Related" teaser box.

    A subhead is followed by its prose; a label plus headlines in a row is a widget. List
    items (bulleted) are exempt: an article's own lists look the same.
    """
    def heading(i: int) -> bool:
        return not blocks[i].bullet and not _is_sentence(blocks[i].text)

    out: list[int] = []
    run: list[int] = []
    for i in [*kept, -1]:
        if i >= 0 and heading(i) and (not run or i == run[-1] + 1):
            run.append(i)
            continue
        if len(run) < _HEADLINE_RUN:
            out.extend(run)
        run = []
        if i >= 0 and heading(i):
            run.append(i)
        elif i >= 0:
            out.append(i)
    return sorted(out)


def select(
    blocks: Sequence[Block],
    probs: Sequence[float],
    threshold: float,
    sizes: Sequence[int] | None = None,
) -> list[int]:
    """Indices of the kept blocks: in the article region, above threshold, each text once."""
    if sizes is None:
        sizes = [block_size(b) for b in blocks]
    lo, hi = _region(probs, sizes)
    # The region's margin is stricter than the keep threshold, so a last paragraph (which
    # has no prose after it to vouch for it) can fall just outside: let edges grow back.
    while (
        hi + 1 < len(blocks)
        and probs[hi + 1] >= _EXTEND_MARGIN
        and sizes[hi + 1] >= _EXTEND_WORDS
        and _is_sentence(blocks[hi + 1].text)
    ):
        hi += 1
    keys = [" ".join(b.text.lower().split()) for b in blocks]
    counts = Counter(keys)
    seen: set[str] = set()
    kept = []
    for i in range(lo, hi + 1):
        key = keys[i]
        # Lines that are not sentences (subheads, but also teaser headlines and labels)
        # need a surer vote than prose does.
        bar = threshold if _is_sentence(blocks[i].text) else max(threshold, _HEADING_THRESHOLD)
        if probs[i] < bar or key in seen:
            continue
        # A headline printed twice inside the article is a teaser for another story
        # (image link + text link); article subheads are printed once.
        if counts[key] > 1 and not _is_sentence(blocks[i].text) and sizes[i] > _TRIM_EDGE_WORDS:
            continue
        kept.append(i)
        seen.add(key)
    kept = _drop_headline_runs(blocks, kept)
    # Credits and labels ("Reuters", "Share") cling to the region's edges: trim them.
    while kept and sizes[kept[-1]] <= _TRIM_EDGE_WORDS and not _is_sentence(blocks[kept[-1]].text):
        kept.pop()
    while kept and sizes[kept[0]] <= _TRIM_EDGE_WORDS and not _is_sentence(blocks[kept[0]].text):
        kept.pop(0)
    return kept


def article_blocks(blocks: Sequence[Block], model: BlockModel | None = None) -> list[int]:
    """Indices of the blocks that make up the article body."""
    model = model or default_model()
    rows, sizes = page_features_and_sizes(list(blocks))
    return select(blocks, probabilities(rows, model), model.threshold, sizes)
