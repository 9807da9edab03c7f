"""One summary of several articles: query-aware, redundancy-aware, cited, to a word budget.

Every multi-source output (``brief``, merged digest stories, ``summarize --together``) goes
through :func:`summarize_sources`. The method is concept coverage in the manner of ICSISumm
(Gillick & Favre 2009): the concepts are stemmed word bigrams, a concept's weight is the
number of sources that use it (what several sources say), boosted near the query's words
when there is a query; sentences are chosen greedily by newly covered weight per word
(the budgeted-coverage greedy of Lin & Bilmes 2010), so a sentence that repeats what is
already covered gains nothing (redundancy control without any sentence x sentence matrix).
A query word that too few sources use still steers (its concepts count all the same), and a
word budget left once those concepts are covered goes to what fewer sources say. A narrow
query (fewer than a tenth of the sentences mention it, :data:`NARROW`) is answered from its
own sentences first, then from the articles that mention it: a reader asking about it expects
a summary about it, not what the sources mostly say.

Readability: a line without closing punctuation (a heading) is never quoted, a sentence that
leans on the one before ("It", "But" ...) scores less, each further sentence from one source
scores less (answers span sources), and a query that is a name must be mentioned.

Cost is linear in the candidate sentences, which are capped (:data:`MAX_PER_SOURCE` per
source, :data:`MAX_CANDIDATES` in all; the text past the cap is only split): building the
concepts is one pass; each greedy round (at most ``words / 5`` of them) and each of the two
swap passes per chosen sentence is one pass over the candidates' concepts. There is no
sentence x sentence matrix, so memory is O(candidates x sentence length).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from digests import _rank, similar
from digests._junk import is_junk
from digests.sentences import quotes_balanced, split_sentences, words

MAX_PER_SOURCE = 60  # news puts what matters first; later sentences rarely add a concept
MAX_CANDIDATES = 3000
# A query fewer than this share of the candidate sentences mention is narrow: its sentences
# come first (on DUC 2006 the titles' share is 0.11-0.77: none is, see docs/BENCHMARKS.md).
NARROW = 0.1
_MIN_WORDS = 10  # shorter sentences carry too little to spend the budget on...
_LONG_WORDS = 55  # ...longer ones fill a brief alone (both used when a source has nothing else)
_MAX_WORDS = 150  # past this a "sentence" is a run-on list or a table flattened into a line
_TERMINAL = re.compile(r"[.!?…][\"'”’)\]]*$")  # no closing punctuation: a heading or caption
# A sentence that leans on the one before it ("It is...", "But...") reads badly out of context.
_DANGLING = re.compile(
    r"^(?:It|This|That|These|Those|He|She|They|His|Her|Their|Such|But|And|So|Yet|Or|However|"
    r"Thus|Therefore|Meanwhile|Also|Still|Instead|Here|There)\b"
)
# "...criticised the drills as provocative" with no drills before it: a bare definite noun
# ("the" + one word) that neither the title, the query nor the source's earlier sentences name.
_DEFINITE = re.compile(r"\b[Tt]he((?: [a-z][a-z-]+){1,3})")
_NP_STOP = frozenset(
    "of on in at to for from by with as and or but that which who whose than is are was were "
    "be been has have had will would could should may might can said says over after before "
    "about against between into during under near since while".split()
)
_GENERIC_HEADS = frozenset(
    "government country world president island ministry year week month day time region people "
    "state city capital move issue situation future past public media military economy market "
    "news end rest first last latest next same most other number way case government's "
    "country's world's talks conflict crisis war".split()
)
_PARAGRAPH = re.compile(r"\n\s*\n")
_POSSESSIVE = re.compile(r"['’]s$")
# "MOSCOW (AP) -- ", "WASHINGTON _ ": wire datelines are not part of the sentence a reader wants.
_DATELINE = re.compile(r"^[A-Z][A-Z .,'-]{1,40}(?:\([A-Za-z .]+\))?\s*(?:--|_|—|–)\s+")


@dataclass(frozen=True, slots=True)
class Source:
    """One input article: ``key`` is how the caller identifies it (a path, an article id)."""

    key: object
    text: str
    title: str | None = None
    published: datetime | None = None
    weight: float = 1.0  # how much this source counts (e.g. less when older)


@dataclass(frozen=True, slots=True)
class CitedSentence:
    """A sentence quoted verbatim from ``sources[source]``."""

    text: str
    source: int  # index into the sources given
    position: int  # the sentence's index within its source's candidates


@dataclass(frozen=True, slots=True)
class _Params:
    """The engine's knobs (chosen on the DUC dev sets as a whole, see docs/lab/history.md)."""

    min_df: int = 3  # a concept counts when this many sources use it (fewer for few sources)
    lead_df: float = 0.5  # extra weight per source that has the concept in its first sentence
    lead_k: int = 1
    query_boost: float = 1.0  # x(1 + boost) for concepts of sentences that mention the query
    length_power: float = 1.0  # greedy score: gain / words**power
    swap_passes: int = 2  # local search after the greedy (1-for-1 swaps that add weight)
    dangling: float = 0.5  # score x this for a sentence that leans on the one before
    orphan: float = 1.0  # score x this for "the drills" with no drills named before it
    min_words: int = _MIN_WORDS
    spread: float = 0.5  # score / (1 + spread x sentences already taken from that source)
    # x(1 + bonus) for a sentence that mentions the query: the query steers the choice even
    # when what it asks about is said by fewer sources than the rest (issue 22).
    relevant_bonus: float = 1.0


_DEFAULT = _Params()
_CHAT = _Params(min_words=5, orphan=0.5)  # a chat answer of a few sentences must stand alone


def summarize_sources(
    sources: Sequence[Source],
    *,
    query: str | None = None,
    words: int = 100,
    sentences: int | None = None,
    steer: bool = True,
) -> list[CitedSentence]:
    """The sentences of ``sources`` that best cover what they say (about ``query``), in order.

    At most ``words`` words (and ``sentences`` sentences) in whole sentences, ordered by
    source date then position. With a sentence count (a chat answer) short sentences of 5+
    words compete; with a word budget alone, 10+ (a short one spends the budget on little).
    ``steer``: a sentence that mentions the query weighs double (off when every source is
    about the query already, e.g. a topic's tagged articles).
    """
    p = _DEFAULT if sentences is None else _CHAT
    if not steer:  # the sources are all about the query already (a topic's tagged articles)
        p = replace(p, relevant_bonus=0.0)
    return _summarize(sources, query=query, budget=words, limit=sentences, p=p)


@dataclass(slots=True)
class _Candidate:
    text: str
    source: int
    position: int
    length: int
    concepts: frozenset[tuple[str, str]]
    relevant: bool
    factor: float  # readability: < 1 for a sentence that leans on the one before


def _summarize(
    sources: Sequence[Source],
    *,
    query: str | None,
    budget: int,
    p: _Params,
    limit: int | None = None,
) -> list[CitedSentence]:
    if budget <= 0 or not sources:
        return []
    query_terms = (
        frozenset(t for t in _stems(query) if t not in _rank.STOP) if query else frozenset()
    )
    cands = list(_candidates(sources, query_terms, p))
    if query and query_terms and _is_name(query, query_terms):
        # "Blinken", "Stephen Lawrence": the answer is about that name, so every sentence
        # quoted must mention it (when any does).
        cands = [c for c in cands if c.relevant] or cands
    if not cands:
        return []
    weights, rare = _concept_weights(cands, sources, query_terms, p)
    relevant = [c for c in cands if c.relevant] if p.relevant_bonus else []
    if relevant and len(relevant) < NARROW * len(cands):
        # A query few of the sentences mention ("rare earth" of five articles on US-China
        # relations): what several sources say would drown it, so its own sentences are
        # chosen first, and the budget left goes to the articles that mention it.
        picked = _greedy(relevant, weights, budget, p, limit)
        if p.swap_passes:
            picked = _improve(relevant, picked, weights, budget, p.swap_passes)
        about = {c.source for c in relevant}
        cands = [c for c in cands if c.source in about]
        picked = _greedy(cands, weights, budget, p, limit, picked)
    else:
        picked = _greedy(cands, weights, budget, p, limit)
        if p.swap_passes:
            picked = _improve(cands, picked, weights, budget, p.swap_passes)
    if limit is None and rare:
        # A word budget is filled with whole sentences: once what several sources say is
        # covered, what one source says competes too (after, never instead of, the above).
        picked = _greedy(cands, weights | rare, budget, p, limit, picked)
    picked.sort(key=lambda c: (_date_key(sources[c.source]), c.source, c.position))
    return [CitedSentence(c.text, c.source, c.position) for c in picked]


def _is_name(query: str, terms: frozenset[str]) -> bool:
    """One word, or Title Case words ("Antony Blinken"; not "AMERICAN TOBACCO INDUSTRY")."""
    if len(terms) == 1:
        return True
    tokens = [w for w in words(query) if w.lower() not in _rank.STOP]
    return bool(tokens) and all(w[0].isupper() and not w.isupper() for w in tokens)


def _date_key(source: Source) -> float:
    return source.published.timestamp() if source.published else 0.0


def _candidates(
    sources: Sequence[Source], query_terms: frozenset[str], p: _Params = _DEFAULT
) -> Iterator[_Candidate]:
    seen: set[str] = set()
    total = 0
    for index, source in enumerate(sources):
        # What a reader has been told before each sentence: the title, the query, and (an
        # approximation of what the answer quotes first) the source's earlier sentences.
        told = set(query_terms) | set(_stems(source.title or ""))
        before: dict[str, frozenset[str]] = {}
        if p.orphan < 1:
            for paragraph in _PARAGRAPH.split(source.text):
                for raw in split_sentences(paragraph):
                    before.setdefault(raw, frozenset(told))
                    told.update(_stems(raw))
        # Sentences of 10-55 words; a source that has none still speaks through its
        # shorter, then its longer ones (so no source is silent for its style alone).
        tiers: tuple[list[str], list[str], list[str]] = ([], [], [])
        paragraphs = _PARAGRAPH.split(source.text)
        one_paragraph = sum(1 for x in paragraphs if x and not x.isspace()) == 1
        for paragraph in paragraphs:
            sents = split_sentences(paragraph)
            # A source whose whole text is one line is quoted without a sentence end (a
            # headline that is the whole story); elsewhere such a line is a heading or caption.
            alone = one_paragraph and len(sents) == 1
            for raw in sents:
                text = _DATELINE.sub("", raw) if not any(tiers) else raw
                key = " ".join(text.lower().split())
                if key in seen or not (alone or _TERMINAL.search(text)):
                    continue
                n = len(words(text))
                if n > _LONG_WORDS:
                    if (
                        len(tiers[2]) < MAX_PER_SOURCE
                        and n <= _MAX_WORDS
                        and not is_junk(" ".join(text.split()[:_LONG_WORDS]))
                    ):
                        tiers[2].append(text)
                    continue
                if is_junk(text, whole_paragraph=len(sents) == 1 and not alone):
                    continue
                tier = tiers[0 if n >= p.min_words else 1]
                if len(tier) < MAX_PER_SOURCE:
                    seen.add(key)
                    tier.append(text)
                if len(tiers[0]) >= MAX_PER_SOURCE:
                    break
            if len(tiers[0]) >= MAX_PER_SOURCE:
                break
        chosen = next((t for t in tiers if t), [])[:MAX_PER_SOURCE]
        for position, text in enumerate(chosen):
            stems = _stems(text)
            relevant = bool(query_terms.intersection(_terms(stems)))
            yield _Candidate(
                text=text,
                source=index,
                position=position,
                length=len(stems),
                concepts=_bigrams(stems),
                relevant=relevant,
                factor=(
                    p.dangling
                    if _DANGLING.match(text)
                    else p.orphan
                    if p.orphan < 1
                    and (not quotes_balanced(text) or _orphan(text, before.get(text)))
                    else 1.0
                )
                * (1.0 + p.relevant_bonus if relevant else 1.0),
            )
            total += 1
            if total >= MAX_CANDIDATES:
                return


def _orphan(text: str, told: frozenset[str] | None) -> bool:
    """``text`` names "the <thing>" that nothing before it introduced (see _DEFINITE)."""
    if told is None:
        return False
    for match in _DEFINITE.finditer(text):
        phrase: list[str] = []
        for word in match.group(1).split():
            if word in _NP_STOP:
                break
            phrase.append(word)
        if len(phrase) != 1:  # "the annual defence budget" describes itself; "the drills" not
            continue
        head = phrase[0]
        if head in _GENERIC_HEADS or len(head) < 4:
            continue
        if _rank.stem(_POSSESSIVE.sub("", head)) not in told:
            return True
    return False


def _stems(text: str) -> list[str]:
    """Stemmed lower-case words, possessives dropped ("Taiwan's" is "taiwan")."""
    return [_rank.stem(_POSSESSIVE.sub("", w.lower())) for w in words(text)]


def _terms(stems: Sequence[str]) -> set[str]:
    """Stems and the parts of hyphenated ones: "rare-earth exports" mentions "rare earth"."""
    out = set(stems)
    out.update(part for s in stems if "-" in s for part in s.split("-") if part)
    return out


def _bigrams(stems: Sequence[str]) -> frozenset[tuple[str, str]]:
    out = set()
    for a, b in zip(stems, stems[1:], strict=False):
        if a in _rank.STOP and b in _rank.STOP:
            continue
        out.add((a, b))
    return frozenset(out)


def _concept_weights(
    cands: Sequence[_Candidate], sources: Sequence[Source], query_terms: frozenset[str], p: _Params
) -> tuple[dict[tuple[str, str], float], dict[tuple[str, str], float]]:
    """Weights of the concepts ``min_df`` sources use (or naming a query word none of them
    names), and of the rest (what fills a word budget once the first are covered)."""
    n_sources = len(sources)
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
    rare: dict[tuple[str, str], float] = {}
    for concept, srcs in in_sources.items():
        w = sum(sources[i].weight for i in srcs)
        w += p.lead_df * sum(sources[i].weight for i in in_leads.get(concept, ()))
        if query_terms and near_query[concept]:
            w *= 1.0 + p.query_boost
        (weights if len(srcs) >= min_df else rare)[concept] = w
    # A query word that fewer than min_df sources use (one input of five about it) still
    # steers: the concepts naming it count as if several sources said them.
    unheard = query_terms.difference(*(_terms(k) for k in weights)) if query_terms else None
    if unheard:
        for concept in [k for k in rare if unheard.intersection(_terms(k))]:
            weights[concept] = rare.pop(concept)
    return weights, rare


def _greedy(
    cands: list[_Candidate],
    weights: dict[tuple[str, str], float],
    budget: int,
    p: _Params,
    limit: int | None,
    chosen: Sequence[_Candidate] = (),
) -> list[_Candidate]:
    """Add to ``chosen`` the sentences that cover the most new weight per word, in turn."""
    chosen = list(chosen)
    covered: set[tuple[str, str]] = {k for c in chosen for k in c.concepts}
    taken: Counter[int] = Counter(c.source for c in chosen)
    used = sum(c.length for c in chosen)
    ids = {id(c) for c in chosen}
    pool = [
        c
        for c in cands
        if id(c) not in ids
        and used + c.length <= budget
        and not any(similar.near_duplicate(c.text, b.text) for b in chosen)
    ]
    while pool and (limit is None or len(chosen) < limit):
        best, best_gain = None, 0.0
        for c in pool:
            if used + c.length > budget:
                continue
            gain = sum(weights.get(k, 0.0) for k in c.concepts if k not in covered)
            if gain <= 0:
                continue
            score = c.factor * gain / (c.length**p.length_power)
            if p.spread:
                score /= 1.0 + p.spread * taken[c.source]
            if score > best_gain:
                best, best_gain = c, score
        if best is None:
            break
        chosen.append(best)
        taken[best.source] += 1
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
                # Never trade a self-contained sentence for one that leans on its context.
                if c.length > room or id(c) in ids or c.factor < out.factor:
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
