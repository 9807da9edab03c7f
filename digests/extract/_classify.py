"""Keep the article blocks of a text dump: a tiny two-pass logistic regression plus clean-up.

The first pass scores each block from its own features; the second ("stacked") pass adds
the first pass's verdicts on the block's neighbourhood. The weights live in ``_model.py``,
written by ``benchmarks/train_extract.py`` (scikit-learn is a dev-only tool); here they
are evaluated in pure Python so runtime needs no numpy.
"""

from __future__ import annotations

import math
import operator
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from digests.extract import _model
from digests.extract._blocks import Block
from digests.extract._features import (
    CONTEXT_NAMES,
    FEATURE_NAMES,
    block_size,
    confident_run,
    context_features,
    page_features_and_sizes,
)
from digests.extract._trim import is_comment_start


@dataclass(frozen=True, slots=True)
class Stage:
    """Standardisation and logistic-regression weights of one pass (bias is a feature)."""

    means: tuple[float, ...]
    scales: tuple[float, ...]
    weights: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class BlockModel:
    """Both passes and the keep threshold applied to the second pass's probabilities."""

    first: Stage
    second: Stage
    threshold: float


def default_model() -> BlockModel:
    """The shipped model; refuses to run if it was trained on other features."""
    if tuple(_model.FEATURES) != FEATURE_NAMES or tuple(_model.CONTEXT) != CONTEXT_NAMES:
        raise RuntimeError("digests/extract/_model.py is stale: rerun benchmarks/train_extract.py")
    return BlockModel(
        first=Stage(
            tuple(_model.FIRST_MEANS), tuple(_model.FIRST_SCALES), tuple(_model.FIRST_WEIGHTS)
        ),
        second=Stage(
            tuple(_model.SECOND_MEANS), tuple(_model.SECOND_SCALES), tuple(_model.SECOND_WEIGHTS)
        ),
        threshold=_model.THRESHOLD,
    )


def probabilities(rows: Sequence[Sequence[float]], stage: Stage) -> list[float]:
    """P(article) for each feature row."""
    # Fold the standardisation into the weights once: z = sum(w/s * x) - sum(w*m/s).
    weights = [w / s for w, s in zip(stage.weights, stage.scales, strict=True)]
    bias = -sum(w * m for w, m in zip(weights, stage.means, strict=True))
    out = []
    for row in rows:
        z = bias + sum(map(operator.mul, row, weights))
        out.append(1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z)))))
    return out


def stacked_probabilities(
    rows: Sequence[Sequence[float]], sizes: Sequence[int], model: BlockModel
) -> list[float]:
    """Second-pass P(article) for each block of one page."""
    first = probabilities(rows, model.first)
    context = context_features(first, sizes)
    return probabilities([[*r, *c] for r, c in zip(rows, context, strict=True)], model.second)


# The article is one contiguous stretch of the page: find the run of blocks where the
# classifier is most confident (Kadane over size-weighted margins), then keep the blocks
# inside it that pass a lower bar. Teasers and widgets outside it go, however prose-like.
_TRIM_EDGE_WORDS = 3
_EXTEND_MARGIN = 0.33
_HEADING_THRESHOLD = 0.4
_HEADLINE_RUN = 3
# A teaser box holds a handful of headlines; dozens of short lines in a row are the
# article's own structured content (a recipe, a schedule, a product list).
_HEADLINE_RUN_MAX = 8
_EXTEND_WORDS = 25
_FALLBACK_FLOOR = 0.2
_COMMENT_REACH = 12


def _is_sentence(text: str) -> bool:
    return text.rstrip("\"'”’)»").endswith((".", "!", "?", "。", "！", "？", ":"))


def _drop_headline_runs(blocks: Sequence[Block], kept: list[int]) -> list[int]:
    """Drop runs of several headline-like lines in a row: an inline "Related" teaser box.

    A subhead is followed by its prose; a label plus headlines in a row is a widget. List
    items (bulleted) are exempt: an article's own lists look the same; so are long runs.
    """

    def heading(i: int) -> bool:
        return not blocks[i].bullet and not _is_sentence(blocks[i].text)

    out: list[int] = []
    run: list[int] = []
    for i in [*kept, -1]:
        if i >= 0 and heading(i) and (not run or i == run[-1] + 1):
            run.append(i)
            continue
        if len(run) < _HEADLINE_RUN or len(run) > _HEADLINE_RUN_MAX:
            out.extend(run)
        run = []
        if i >= 0 and heading(i):
            run.append(i)
        elif i >= 0:
            out.append(i)
    return sorted(out)


def _drop_teaser_list_edges(
    blocks: Sequence[Block], kept: list[int], sizes: Sequence[int]
) -> list[int]:
    """Drop a bulleted run at either edge of the kept blocks when a heading separates it.

    A carousel of teasers (headline plus lead, each a list item) often sits just above the
    headline; the article's own lists run straight into or out of its prose.
    """
    for _ in range(2):
        run = 0
        while (
            run < len(kept)
            and blocks[kept[run]].bullet
            and (run == 0 or kept[run] == kept[run - 1] + 1)
        ):
            run += 1
        if 0 < run < len(kept):
            gap = range(kept[run - 1] + 1, kept[run])
            rest = sum(sizes[i] for i in kept[run:])
            if any(not blocks[i].bullet for i in gap) and rest * 4 >= sum(
                sizes[i] for i in kept[:run]
            ):
                kept = kept[run:]
        kept.reverse()
    return kept


def select(
    blocks: Sequence[Block],
    probs: Sequence[float],
    threshold: float,
    sizes: Sequence[int] | None = None,
) -> list[int]:
    """Indices of the kept blocks: in the article region, above threshold, each text once."""
    if sizes is None:
        sizes = [block_size(b) for b in blocks]
    lo, hi = confident_run(probs, sizes)
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
    kept = _drop_teaser_list_edges(blocks, kept, sizes)
    # Credits and labels ("Reuters", "Share") cling to the region's edges: trim them.
    while kept and sizes[kept[-1]] <= _TRIM_EDGE_WORDS and not _is_sentence(blocks[kept[-1]].text):
        kept.pop()
    while kept and sizes[kept[0]] <= _TRIM_EDGE_WORDS and not _is_sentence(blocks[kept[0]].text):
        kept.pop(0)
    if not kept:
        # A one-paragraph story can miss the bar by a little: its best prose block stands.
        prose = [
            i
            for i in range(len(blocks))
            if sizes[i] >= _EXTEND_WORDS and _is_sentence(blocks[i].text)
        ]
        best = max(prose, key=lambda i: probs[i], default=None)
        if best is not None and probs[best] >= _FALLBACK_FLOOR:
            kept = [best]
    return kept


def article_blocks(blocks: Sequence[Block], model: BlockModel | None = None) -> list[int]:
    """Indices of the blocks that make up the article body."""
    model = model or default_model()
    rows, sizes = page_features_and_sizes(list(blocks))
    probs = stacked_probabilities(rows, sizes, model)
    kept = select(blocks, probs, model.threshold, sizes)
    if not kept:
        return kept
    # Comments are prose too. A comment section inside the kept span ends the article; one
    # opening just before it means the span *is* the thread: the post is above it.
    starts = [
        j
        for j in range(max(0, kept[0] - _COMMENT_REACH), kept[-1] + 1)
        if is_comment_start(blocks[j].text)
    ]
    if not starts:
        return kept
    if starts[0] > kept[0]:
        return [i for i in kept if i < starts[0]]
    return (
        select(blocks[: starts[0]], probs[: starts[0]], model.threshold, sizes[: starts[0]]) or kept
    )
