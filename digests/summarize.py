"""Summarize one article extractively.

``summarize`` quotes a few sentences of an article, verbatim and in article order.
``"default"`` is our scorer (:mod:`digests._rank`: position-biased continuous LexRank +
headline similarity + MMR, with sumy's stop words); every sumy summarizer stays selectable
by name, and sumy's summarizers are imported only when one is chosen (they import NLTK,
~1.2 s: not a cost for every command that ingests nothing new).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from digests import _rank
from digests._junk import MAX_WORDS, is_junk
from digests.errors import ConfigError
from digests.models import Summary
from digests.sentences import Tokenizer, split_sentences, words

if TYPE_CHECKING:
    from sumy.summarizers._summarizer import AbstractSummarizer

DEFAULT_ALGORITHM = "default"
_SUMY: dict[str, str] = {
    "lexrank": "sumy.summarizers.lex_rank:LexRankSummarizer",
    "lsa": "sumy.summarizers.lsa:LsaSummarizer",
    "textrank": "sumy.summarizers.text_rank:TextRankSummarizer",
    "luhn": "sumy.summarizers.luhn:LuhnSummarizer",
    "kl": "sumy.summarizers.kl:KLSummarizer",
    "sumbasic": "sumy.summarizers.sum_basic:SumBasicSummarizer",
    "edmundson": "sumy.summarizers.edmundson:EdmundsonSummarizer",
    "reduction": "sumy.summarizers.reduction:ReductionSummarizer",
    "random": "sumy.summarizers.random:RandomSummarizer",
}
ALGORITHMS: tuple[str, ...] = (DEFAULT_ALGORITHM, *_SUMY)

_TOKENIZER = Tokenizer("english")
_PARAGRAPH = re.compile(r"\n\s*\n")
# Cost bound: the scorer builds dense candidate x candidate (and candidate x term) matrices,
# so only the first MAX_CANDIDATES quotable sentences of an article compete. At 250 that is
# < 1 MB of similarities and a few ms, whatever the article's length; past it the article is
# only split (linear) and scanned until the cap is reached. News summaries come from the top
# (the position prior gives sentence 250 a weight of 2^-125), so the cap costs no quality:
# the dev articles have at most 49 (CNN/DM) and 127 (BBC) candidates.
MAX_CANDIDATES = 250
_LONGEST = 150  # words: past this a "sentence" is a flattened list or table, never quoted


@dataclass(frozen=True, slots=True)
class _Params:
    """The default scorer's few round knobs (chosen on the dev splits, see docs/lab/history.md)."""

    half_life: float = 2.0  # the position prior halves every two sentences
    damping: float = 0.7  # LexRank: 70% graph centrality, 30% random jump (to the lead)
    w_pos: float = 1.0  # weight of the position prior when there is no headline
    w_pos_headline: float = 0.5  # ... with a headline, times how lead-heavy the article is
    w_title: float = 0.25  # weight of headline similarity
    mmr_lambda: float = 0.5  # relevance vs. redundancy when picking


_DEFAULT = _Params()


def summarize(
    text: str,
    *,
    title: str | None = None,
    sentences: int = 3,
    algorithm: str = DEFAULT_ALGORITHM,
) -> Summary:
    """Quote the ``sentences`` most summary-worthy sentences of ``text``, in article order.

    Cost is bounded whatever the length of ``text``: only its first :data:`MAX_CANDIDATES`
    quotable sentences are scored, so memory is O(MAX_CANDIDATES^2 + text) and time is linear
    in the text scanned (a 1.5 MB, 10,000-sentence article takes well under 100 MB and a second).
    """
    if algorithm not in ALGORITHMS:
        raise ConfigError(
            f"unknown summary algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}"
        )
    candidates = _candidates(text)
    if len(candidates) <= sentences:
        return Summary(sentences=tuple(candidates), algorithm=algorithm)
    if algorithm == DEFAULT_ALGORITHM:
        picked = _default_pick(candidates, title, sentences, _DEFAULT)
    else:
        picked = _sumy_pick(candidates, title, sentences, algorithm)
    return Summary(sentences=tuple(candidates[i] for i in sorted(picked)), algorithm=algorithm)


def _candidates(text: str, limit: int = MAX_CANDIDATES) -> list[str]:
    """The first ``limit`` sentences that may be quoted, deduplicated, junk removed, in order."""
    out: list[str] = []
    long: list[str] = []  # quoted only when the article has nothing shorter
    seen: set[str] = set()
    lines = 0  # sentences read
    alone: str | None = None
    for match in _paragraphs(text):
        sents = split_sentences(match)
        lines += len(sents)
        for s in sents:
            key = " ".join(s.lower().split())
            if key in seen:
                continue
            if is_junk(s, whole_paragraph=len(sents) == 1):
                if lines == 1 and not is_junk(s):
                    alone = s  # a line without a sentence end: quoted if it is the whole text
                n = len(words(s))
                if not out and MAX_WORDS < n <= _LONGEST and not is_junk(_head(s)):
                    seen.add(key)
                    long.append(s)
                continue
            seen.add(key)
            out.append(s)
            if len(out) >= limit:
                return out
    # An article written in long sentences (legal, scientific) still gets a summary; so does
    # one whose whole text is a line without a sentence end (a headline that is the story).
    if lines == 1 and alone is not None:
        return [alone]
    return out or long[:limit]


def _head(sentence: str) -> str:
    """The first MAX_WORDS words, to run the junk checks other than length on a long sentence."""
    return " ".join(sentence.split()[:MAX_WORDS])


def _paragraphs(text: str) -> Iterator[str]:
    """Paragraphs one at a time, so a capped scan never copies the rest of a huge text."""
    start = 0
    for m in _PARAGRAPH.finditer(text):
        yield text[start : m.start()]
        start = m.end()
    yield text[start:]


def _default_pick(cands: list[str], title: str | None, k: int, p: _Params) -> list[int]:
    """Centrality + position + headline cues, picked with MMR."""
    toks = [_rank.terms(c) for c in cands]
    vec = _rank.vectorize(toks)
    sim = vec.matrix @ vec.matrix.T
    prior = _rank.position_prior(len(cands), half_life=p.half_life)
    # sumy TextRank's edge weights: unnormalised word overlap, so informative (longer)
    # sentences gain centrality; cosine LexRank edges prefer short ones.
    graph = _rank.textrank_graph(toks, vec.counts)
    if title:
        # The headline states what the story is about; the lead is only trusted as far as it
        # restates the headline better than the body does (news ledes do, features don't).
        headline = vec.matrix @ vec.embed(_rank.terms(title))
        lead = _rank.lead_heaviness(headline)
        centrality = _rank.lexrank(graph, damping=p.damping)
        score = centrality + p.w_pos_headline * lead * prior + p.w_title * headline
    else:
        # No headline: the inverted pyramid makes the lead the best statement of the story, so
        # the random jump of LexRank goes to the lead (position-biased LexRank).
        centrality = _rank.lexrank(graph, prior=prior, damping=p.damping)
        score = centrality + p.w_pos * prior
    return _rank.mmr(score, sim, k, lam=p.mmr_lambda, allowed=np.ones(len(cands), dtype=bool))


def _sumy_pick(cands: list[str], title: str | None, k: int, algorithm: str) -> list[int]:
    from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence

    paragraphs = []
    if title:
        # Edmundson's title method reads headings; other summarizers rate only sentences.
        paragraphs.append(Paragraph([Sentence(title, _TOKENIZER, is_heading=True)]))
    paragraphs.append(Paragraph([Sentence(c, _TOKENIZER) for c in cands]))
    document = ObjectDocumentModel(paragraphs)
    picked = _summarizer(algorithm)(document, k)
    index = {c: i for i, c in enumerate(cands)}
    return [index[str(s)] for s in picked if str(s) in index]


@cache
def _summarizer(algorithm: str) -> AbstractSummarizer:
    from sumy.nlp.stemmers import Stemmer
    from sumy.utils import get_stop_words

    module, cls = _SUMY[algorithm].split(":")
    kind = getattr(importlib.import_module(module), cls)
    if algorithm == "edmundson":
        # Cue and key methods need hand-made bonus/stigma word lists we don't have: use
        # Edmundson's title (headline) and location methods.
        summarizer = kind(Stemmer("english"), cue_weight=0.0, key_weight=0.0)
    else:
        summarizer = kind(Stemmer("english"))
    stop_words = get_stop_words("english")
    if algorithm == "edmundson":
        summarizer.null_words = stop_words
    else:
        summarizer.stop_words = stop_words
    return summarizer
