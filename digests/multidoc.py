"""One summary of several articles: query-aware, redundancy-aware, cited, to a word budget.

Every multi-source output (``brief``, merged digest stories, ``summarize --together``) goes
through :func:`summarize_sources`. The method is concept coverage in the manner of ICSISumm
(Gillick & Favre 2009): the concepts are stemmed word bigrams, a concept's weight is the
number of sources that use it (what several sources say), boosted near the query's words
when there is a query; sentences are chosen greedily by newly covered weight per word
(the budgeted-coverage greedy of Lin & Bilmes 2010), so a sentence that repeats what is
already covered gains nothing (redundancy control without any sentence x sentence matrix).

Cost is linear in the candidate sentences, which are capped (:data:`MAX_PER_SOURCE` per
source, :data:`MAX_CANDIDATES` in all): building concepts is one pass, and each of the at
most ``words / 8`` greedy rounds is one pass over the candidates' concepts.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from digests import _rank, similar
from digests._junk import is_junk
from digests.sentences import split_sentences, words

MAX_PER_SOURCE = 60  # news puts what matters first; later sentences rarely add a concept
MAX_CANDIDATES = 3000
_MIN_WORDS = 10  # shorter sentences carry too little to spend the budget on
_PARAGRAPH = re.compile(r"\n\s*\n")
# "MOSCOW (AP) -- ", "WASHINGTON _ ": wire datelines are not part of the sentence a reader wants.
_DATELINE = re.compile(r"^[A-Z][A-Z .,'-]{1,40}(?:\([A-Za-z .]+\))?\s*(?:--|_|—|–)\s+")


@dataclass(frozen=True, slots=True)
class Source:
    """One input article: ``key`` is how the caller identifies it (a path, an article id)."""

    key: object
    text: str
    title: str | None = None
    published: datetime | None = None


@dataclass(frozen=True, slots=True)
class CitedSentence:
    """A sentence quoted verbatim from ``sources[source]``."""

    text: str
    source: int  # index into the sources given
    position: int  # the sentence's index within its source's candidates


@dataclass(frozen=True, slots=True)
class _Params:
    """The engine's knobs (chosen on the DUC dev sets as a whole, see docs/BENCHMARKS.md)."""

    min_df: int = 3  # a concept counts when this many sources use it (fewer for few sources)
    lead_df: float = 0.5  # extra weight per source that has the concept in its first sentence
    lead_k: int = 1
    query_boost: float = 1.0  # x(1 + boost) for concepts of sentences that mention the query
    length_power: float = 1.0  # greedy score: gain / words**power
    swap_passes: int = 2  # local search after the greedy (1-for-1 swaps that add weight)


_DEFAULT = _Params()


def summarize_sources(
    sources: Sequence[Source], *, query: str | None = None, words: int = 100
) -> list[CitedSentence]:
    """The sentences of ``sources`` that best cover what they say (about ``query``), in order.

    At most ``words`` words in whole sentences, ordered by source date then position.
    """
    return _summarize(sources, query=query, budget=words, p=_DEFAULT)


@dataclass(slots=True)
class _Candidate:
    text: str
    source: int
    position: int
    length: int
    concepts: frozenset[tuple[str, str]]
    relevant: bool


def _summarize(
    sources: Sequence[Source], *, query: str | None, budget: int, p: _Params
) -> list[CitedSentence]:
    if budget <= 0 or not sources:
        return []
    query_terms = frozenset(_rank.terms(query)) if query else frozenset()
    cands = list(_candidates(sources, query_terms))
    if query and query_terms and _is_name(query, query_terms):
        # "Blinken", "Stephen Lawrence": the answer is about that name, so every sentence
        # quoted must mention it (when any does).
        cands = [c for c in cands if c.relevant] or cands
    if not cands:
        return []
    weights = _concept_weights(cands, len(sources), query_terms, p)
    picked = _greedy(cands, weights, budget, p)
    if p.swap_passes:
        picked = _improve(cands, picked, weights, budget, p.swap_passes)
    picked.sort(key=lambda c: (_date_key(sources[c.source]), c.source, c.position))
    return [CitedSentence(c.text, c.source, c.position) for c in picked]


def _is_name(query: str, terms: frozenset[str]) -> bool:
    """One word, or Title Case words ("Antony Blinken"; not "AMERICAN TOBACCO INDUSTRY")."""
    if len(terms) == 1:
        return True
    tokens = [w for w in words(query) if w.lower() not in _rank._STOP]
    return bool(tokens) and all(w[0].isupper() and not w.isupper() for w in tokens)


def _date_key(source: Source) -> float:
    return source.published.timestamp() if source.published else 0.0


def _candidates(sources: Sequence[Source], query_terms: frozenset[str]) -> Iterator[_Candidate]:
    seen: set[str] = set()
    total = 0
    for index, source in enumerate(sources):
        position = 0
        for paragraph in _PARAGRAPH.split(source.text):
            sents = split_sentences(paragraph)
            for raw in sents:
                text = _DATELINE.sub("", raw) if position == 0 else raw
                key = " ".join(text.lower().split())
                n = len(words(text))
                if key in seen or n < _MIN_WORDS or is_junk(text, whole_paragraph=len(sents) == 1):
                    continue
                seen.add(key)
                stems = [_rank._stem(w.lower()) for w in words(text)]
                terms = set(_rank.terms(text))
                yield _Candidate(
                    text=text,
                    source=index,
                    position=position,
                    length=n,
                    concepts=_bigrams(stems),
                    relevant=bool(query_terms & terms),
                )
                position += 1
                total += 1
                if position >= MAX_PER_SOURCE or total >= MAX_CANDIDATES:
                    break
            if position >= MAX_PER_SOURCE or total >= MAX_CANDIDATES:
                break
        if total >= MAX_CANDIDATES:
            return


def _bigrams(stems: Sequence[str]) -> frozenset[tuple[str, str]]:
    out = set()
    for a, b in zip(stems, stems[1:], strict=False):
        if a in _rank._STOP and b in _rank._STOP:
            continue
        out.add((a, b))
    return frozenset(out)


def _concept_weights(
    cands: Sequence[_Candidate], n_sources: int, query_terms: frozenset[str], p: _Params
) -> dict[tuple[str, str], float]:
    in_sources: dict[tuple[str, str], set[int]] = {}
    near_query: Counter[tuple[str, str]] = Counter()
    in_leads: dict[tuple[str, str], set[int]] = {}
    for c in cands:
        for concept in c.concepts:
            in_sources.setdefault(concept, set()).add(c.source)
            if c.position < p.lead_k:
                in_leads.setdefault(concept, set()).add(c.source)
            if c.relevant:
                near_query[concept] += 1
    # "What several sources say": 3 of 10 or 25 sources; of 2-3 sources, anything said.
    min_df = min(p.min_df, max(1, math.ceil(n_sources / 3)))
    if not any(len(srcs) >= min_df for srcs in in_sources.values()):
        min_df = 1
    weights: dict[tuple[str, str], float] = {}
    for concept, srcs in in_sources.items():
        df = len(srcs)
        if df < min_df:
            continue
        w = df + p.lead_df * len(in_leads.get(concept, ()))
        if query_terms and near_query[concept]:
            w *= 1.0 + p.query_boost
        weights[concept] = w
    return weights


def _greedy(
    cands: list[_Candidate], weights: dict[tuple[str, str], float], budget: int, p: _Params
) -> list[_Candidate]:
    covered: set[tuple[str, str]] = set()
    chosen: list[_Candidate] = []
    used = 0
    pool = [c for c in cands if c.length <= budget]
    while pool:
        best, best_gain = None, 0.0
        for c in pool:
            if used + c.length > budget:
                continue
            gain = sum(weights.get(k, 0.0) for k in c.concepts if k not in covered)
            if gain <= 0:
                continue
            score = gain / (c.length**p.length_power)
            if score > best_gain:
                best, best_gain = c, score
        if best is None:
            break
        chosen.append(best)
        used += best.length
        covered.update(best.concepts)
        pool = [
            c
            for c in pool
            if c is not best
            and used + c.length <= budget
            and not similar.near_duplicate(c.text, best.text)
        ]
    return chosen


def _improve(
    cands: list[_Candidate],
    chosen: list[_Candidate],
    weights: dict[tuple[str, str], float],
    budget: int,
    passes: int,
) -> list[_Candidate]:
    """Swap one chosen sentence for another when that covers more weight (towards the ILP)."""
    chosen = list(chosen)
    for _ in range(passes):
        improved = False
        count: Counter[tuple[str, str]] = Counter()
        for c in chosen:
            count.update(k for k in c.concepts if k in weights)
        used = sum(c.length for c in chosen)
        for slot in range(len(chosen)):
            out = chosen[slot]
            lost = sum(weights[k] for k in out.concepts if count.get(k) == 1)
            room = budget - used + out.length
            best, best_delta = None, 1e-9
            ids = {id(c) for c in chosen}
            for c in cands:
                if c.length > room or id(c) in ids:
                    continue
                gain = 0.0
                for k in c.concepts:
                    w = weights.get(k)
                    if w is None:
                        continue
                    n = count.get(k, 0)
                    if n == 0 or (n == 1 and k in out.concepts):
                        gain += w
                delta = gain - lost
                if delta > best_delta:
                    best, best_delta = c, delta
            if best is None:
                continue
            if any(similar.near_duplicate(best.text, c.text) for c in chosen if c is not out):
                continue
            count.subtract(k for k in out.concepts if k in weights)
            count.update(k for k in best.concepts if k in weights)
            used += best.length - out.length
            chosen[slot] = best
            improved = True
        if not improved:
            break
    return chosen
