"""Per-block features for the boilerplate classifier: general signals, no site lists.

Shared by the runtime classifier and ``benchmarks/train_extract.py`` so the two can never
drift apart. Each feature is cheap (one pass over a block's words); page-level context
(the densest prose region, repetition, neighbours) is computed once per page.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from digests.extract._blocks import Block

# A small English function-word list: prose is dense in these, menus and headlines are not.
STOP_WORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    few for from further had has have having he her here hers herself him himself his how
    i if in into is it its itself just me more most my myself no nor not now of off on once
    only or other our ours out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your
    yours said says""".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)
_WIDGET = re.compile(r"\(BUTTON\)|_{4,}|IFRAME:|\[ ?\]|https?://|www\.|©|\|")
_SENT_END = ".!?。！？"
_COMMAS = ",、，;；"
_CLOSERS = "\"'”’)»]"
_MARKS = re.compile(f"[{_SENT_END}]")
_COMMA_RE = re.compile(f"[{_COMMAS}]")

FEATURE_NAMES: tuple[str, ...] = (
    "bias",
    "log_words",
    "words_ge_10",
    "words_ge_25",
    "words_le_3",
    "stop_density",
    "stop_ge_30",
    "ends_sentence",
    "sentence_marks",
    "commas",
    "capitalised",
    "digits",
    "bullet",
    "prose_indent",
    "log_lines",
    "widget",
    "repeated",
    "in_region",
    "region_dist",
    "before_region",
    "prose_before",
    "prose_after",
    "prev_quality",
    "next_quality",
    "window_quality",
    "blank_before",
    "sandwiched",
)


# Second pass ("stacking"): each block also sees the first pass's verdicts on its
# neighbourhood, so a short line between two confident paragraphs, or a list run inside
# the article, can be told from the same line in a menu.
CONTEXT_NAMES: tuple[str, ...] = (
    "p_self",
    "p_prev",
    "p_next",
    "p_window_3",
    "p_window_10",
    "p_sandwiched",
    "p_in_run",
    "p_run_dist",
    "logit_self",
)
RUN_MARGIN = 0.4
# Blank lines show where a page's paragraphs start, unless at most one of its paragraphs
# (three or more, of 12 words or more) has one before it: a browser copy, one a line.
_PROSE_WORDS = 12
_MIN_PARAGRAPHS = 3
_OUTSIDE_PENALTY = 1.5


def confident_run(probs: Sequence[float], sizes: Sequence[int]) -> tuple[int, int]:
    """The contiguous run of blocks the classifier is surest of (Kadane over margins)."""
    best, span = float("-inf"), (0, -1)
    run, start = 0.0, 0
    for i, (p, n) in enumerate(zip(probs, sizes, strict=True)):
        value = (p - RUN_MARGIN) * (n + 1)
        if p < RUN_MARGIN:
            value *= _OUTSIDE_PENALTY
        if run <= 0:
            run, start = value, i
        else:
            run += value
        if run > best:
            best, span = run, (start, i)
    return span


def context_features(probs: Sequence[float], sizes: Sequence[int]) -> list[list[float]]:
    """Second-pass features (in ``CONTEXT_NAMES`` order) from first-pass probabilities."""
    n = len(probs)
    lo, hi = confident_run(probs, sizes)
    cum = [0.0]
    for p in probs:
        cum.append(cum[-1] + p)
    rows = []
    for i, p in enumerate(probs):
        a3, b3, a10, b10 = max(0, i - 3), min(n, i + 4), max(0, i - 10), min(n, i + 11)
        dist = 0 if lo <= i <= hi else (lo - i if i < lo else i - hi)
        clipped = min(max(p, 1e-4), 1 - 1e-4)
        rows.append(
            [
                p,
                probs[i - 1] if i > 0 else 0.0,
                probs[i + 1] if i + 1 < n else 0.0,
                (cum[b3] - cum[a3]) / (b3 - a3),
                (cum[b10] - cum[a10]) / (b10 - a10),
                min(
                    max(probs[max(0, i - 6) : i], default=0.0),
                    max(probs[i + 1 : i + 7], default=0.0),
                ),
                float(lo <= i <= hi),
                math.log1p(dist),
                math.log(clipped / (1 - clipped)),
            ]
        )
    return rows


def _size(text: str, toks: list[str]) -> int:
    """Word count, or its equivalent for scripts written without spaces (CJK, Thai)."""
    chars = sum(map(len, toks))
    # Spaced languages average ~5 letters a token; far longer "tokens" mean unspaced script.
    return max(len(toks), chars // 3) if toks and chars > 12 * len(toks) else len(toks)


def block_size(block: Block) -> int:
    """A block's length in words (or word equivalents)."""
    return _size(block.text, _WORD.findall(block.text))


def _page_stops(token_lists: list[list[str]]) -> frozenset[str]:
    """Function words of this page's language: its most frequent short lowercase words.

    Counted only in blocks long enough to be prose, so menus do not vote; unioned with
    the English list this gives a stop-word signal for Portuguese, Italian, German ...
    """
    counts: Counter[str] = Counter()
    for toks in token_lists:
        if len(toks) >= 12:
            counts.update(t for t in toks if len(t) <= 4 and t.islower())
    return STOP_WORDS | frozenset(w for w, _ in counts.most_common(15))


def _stop_density(toks: list[str], stops: frozenset[str]) -> float:
    return sum(map(stops.__contains__, map(str.lower, toks))) / len(toks) if toks else 0.0


def _ends_sentence(text: str) -> bool:
    text = text.rstrip(_CLOSERS)
    return bool(text) and text[-1] in _SENT_END


def _quality(block: Block, n: int, stop: float, unspaced: bool) -> float:
    """jusText-style prose score in [0, 1]: long, function-word dense, punctuated."""
    if n < 4 or block.bullet and n < 12:
        return 0.0
    # Unspaced scripts have no function-word tokens: credit them by length alone.
    stop_part = 0.35 if unspaced else min(stop, 0.4) / 0.4 * 0.35
    return min(n, 40) / 40 * 0.5 + stop_part + (0.15 if _ends_sentence(block.text) else 0.0)


def _region(quality: list[float], sizes: list[int]) -> tuple[int, int]:
    """The contiguous run of blocks with the most prose (Kadane over signed word counts)."""
    best, best_span = -1.0, (0, -1)
    run, start = 0.0, 0
    for i, (q, n) in enumerate(zip(quality, sizes, strict=True)):
        value = n if q >= 0.6 else -(min(n, 30) * 0.6 + 1.0)
        if run <= 0:
            run, start = value, i
        else:
            run += value
        if run > best:
            best, best_span = run, (start, i)
    return best_span


def _paragraph_starts(blocks: list[Block], sizes: list[int]) -> list[bool]:
    """Whether each block starts a paragraph: a blank line before it, as lynx and most copies
    set paragraphs apart; in a copy that does not (one paragraph a line, a blank line at most
    after the header), every line that is not a list item."""
    prose = [b for b, n in zip(blocks[1:], sizes[1:], strict=True) if n >= _PROSE_WORDS]
    prose = [b for b in prose if not b.bullet]
    if len(prose) < _MIN_PARAGRAPHS or sum(b.blank_before for b in prose) > 1:
        return [b.blank_before for b in blocks]
    return [b.blank_before or not b.bullet for b in blocks]


def page_features_and_sizes(blocks: list[Block]) -> tuple[list[list[float]], list[int]]:
    """Feature vectors and block sizes in words (computed together to tokenise once)."""
    token_lists = [_WORD.findall(b.text) for b in blocks]
    stops = _page_stops(token_lists)
    sizes = [_size(b.text, t) for b, t in zip(blocks, token_lists, strict=True)]
    stop_dens = [_stop_density(t, stops) for t in token_lists]
    quality = [
        _quality(b, n, sd, n > len(t))
        for b, n, sd, t in zip(blocks, sizes, stop_dens, token_lists, strict=True)
    ]
    lo, hi = _region(quality, sizes)
    counts = Counter(b.text for b in blocks)
    # The indent most prose sits at (3 in lynx dumps, 0 in unwrapped ones).
    indents: Counter[int] = Counter()
    for b, n, q in zip(blocks, sizes, quality, strict=True):
        if q >= 0.6:
            indents[b.indent] += n
    prose_indent = indents.most_common(1)[0][0] if indents else 0
    total_prose = sum(n for n, q in zip(sizes, quality, strict=True) if q >= 0.6) or 1
    starts = _paragraph_starts(blocks, sizes)
    rows: list[list[float]] = []
    prose_seen = 0
    last = len(blocks) - 1
    for i, (block, toks) in enumerate(zip(blocks, token_lists, strict=True)):
        n, q, stop = sizes[i], quality[i], stop_dens[i]
        text = block.text
        # map() over builtins keeps these per-token counts in C: this loop is the hot path.
        initials = "".join([t[0] for t in toks])
        caps = sum(map(str.isupper, initials)) / len(toks) if toks else 0.0
        digits = sum(map(str.isdigit, initials)) / len(toks) if toks else 0.0
        marks = len(_MARKS.findall(text))
        window = quality[max(0, i - 3) : i + 4]
        dist = 0 if lo <= i <= hi else (lo - i if i < lo else i - hi)
        rows.append(
            [
                1.0,
                math.log1p(n),
                float(n >= 10),
                float(n >= 25),
                float(n <= 3),
                stop,
                float(stop >= 0.3),
                float(_ends_sentence(text)),
                min(marks / max(n, 1) * 10, 2.0),
                min(len(_COMMA_RE.findall(text)) / max(n, 1) * 10, 2.0),
                caps,
                digits,
                float(block.bullet),
                float(block.indent == prose_indent),
                math.log(block.lines),
                float(bool(_WIDGET.search(text))),
                float(counts[text] > 1),
                float(lo <= i <= hi),
                math.log1p(dist),
                float(i < lo),
                prose_seen / total_prose,
                1.0 - (prose_seen + (n if q >= 0.6 else 0)) / total_prose,
                quality[i - 1] if i > 0 else 0.0,
                quality[i + 1] if i < last else 0.0,
                sum(window) / len(window),
                float(starts[i]),
                min(
                    max(quality[max(0, i - 6) : i], default=0.0),
                    max(quality[i + 1 : i + 7], default=0.0),
                ),
            ]
        )
        if q >= 0.6:
            prose_seen += n
    return rows, sizes
