"""Our scorer on top of sumy: tf-idf vectors, continuous LexRank, position and title cues, MMR.

sumy provides the stop words (its data file); its own LexRank builds the similarity matrix in
pure Python (O(n^2) dict lookups), so we build the same idf-modified cosine matrix with numpy,
which is what keeps the default fast. Words are stemmed with PyStemmer (the Snowball English
stemmer in C): sumy's stemmer is NLTK's, and importing NLTK costs every command that briefs
or composes ~1.2 s (its ``__init__`` imports SciPy's statistics and scikit-learn).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

import numpy as np
import Stemmer

from digests.sentences import words


def _sumy_stop_words() -> frozenset[str]:
    """sumy's English stop words, read from its package data as ``sumy.utils.get_stop_words``
    reads them: importing ``sumy.utils`` also imports requests, urllib3 and pycountry, 0.3 s
    of every command that briefs or composes (tests/digests/test_summarize.py: the same set)."""
    data = (files("sumy") / "data" / "stopwords" / "english.txt").read_bytes()
    return frozenset(w.rstrip() for w in data.decode("utf-8").splitlines() if w)


_STEMMER = Stemmer.Stemmer("english")
_APOSTROPHES = str.maketrans("\u2018\u2019\u201b", "'''")  # “it’s” is "it's", as NLTK had it
STOP = frozenset(w.lower() for w in _sumy_stop_words())


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Snowball (Porter 2) stem of ``word``, lower-cased."""
    return _STEMMER.stemWord(word.lower().translate(_APOSTROPHES))


def terms(text: str) -> list[str]:
    """Stemmed content words of ``text`` (lower-cased, stop words and numbers dropped)."""
    # Lower-casing the text first splits it into the same words, lower-cased, unless it holds
    # a dotted capital I (its lower case is two characters, the second not a letter).
    lowered = [w.lower() for w in words(text)] if "\u0130" in text else words(text.lower())
    return [stem(w) for w in lowered if w not in STOP and not w[0].isdigit()]


@dataclass(frozen=True, slots=True)
class Vectors:
    """Row-normalised tf-idf vectors of some sentences (and the vocabulary's idf)."""

    matrix: np.ndarray  # (n_sentences, n_terms), rows of unit length (or zero)
    vocab: dict[str, int]
    idf: np.ndarray
    counts: np.ndarray  # (n_sentences, n_terms): the term counts it was made from

    def embed(self, tokens: Sequence[str]) -> np.ndarray:
        """Unit tf-idf vector of extra text (a title, a query) in this vocabulary."""
        v = np.zeros(len(self.vocab))
        for t in tokens:
            j = self.vocab.get(t)
            if j is not None:
                v[j] += 1.0
        v *= self.idf
        norm = np.linalg.norm(v)
        return v / norm if norm else v


def term_counts(token_lists: Sequence[Sequence[str]]) -> tuple[np.ndarray, dict[str, int]]:
    """Sentence × term count matrix, and the term → column map."""
    vocab: dict[str, int] = {}
    cells = []  # row * width + column, the width known once the vocabulary is
    rows = []
    for i, toks in enumerate(token_lists):
        for t in toks:
            rows.append(i)
            cells.append(vocab.setdefault(t, len(vocab)))
    width = max(len(vocab), 1)
    flat = np.asarray(rows, dtype=np.int64) * width + np.asarray(cells, dtype=np.int64)
    counts = np.bincount(flat, minlength=len(token_lists) * width).astype(np.float64)
    return counts.reshape(len(token_lists), width), vocab


def vectorize(token_lists: Sequence[Sequence[str]]) -> Vectors:
    """tf-idf vectors with each sentence as a document (as LexRank defines idf)."""
    counts, vocab = term_counts(token_lists)
    df = (counts > 0).sum(axis=0)
    # Smoothed so a term in every sentence still counts a little (sumy's log(N/(1+df)) goes
    # negative for short texts).
    idf = np.log1p(len(token_lists) / np.maximum(df, 1))
    m = counts * idf
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    m = np.divide(m, norms, out=np.zeros_like(m), where=norms > 0)
    return Vectors(m, vocab, idf, counts)


def lexrank(
    sim: np.ndarray,
    *,
    prior: np.ndarray | None = None,
    damping: float = 0.85,
) -> np.ndarray:
    """Continuous LexRank centrality; ``prior`` biases the random jump (e.g. towards the lead)."""
    n = sim.shape[0]
    w = sim.copy()
    np.fill_diagonal(w, 0.0)
    deg = w.sum(axis=1, keepdims=True)
    w = np.divide(w, deg, out=np.full_like(w, 1.0 / n), where=deg > 0)
    jump = np.full(n, 1.0 / n) if prior is None else prior / prior.sum()
    p = np.full(n, 1.0 / n)
    for _ in range(100):  # converges in ~20 steps; the cap only guards degenerate input
        nxt = (1 - damping) * jump + damping * (w.T @ p)
        if np.abs(nxt - p).sum() < 1e-6:
            p = nxt
            break
        p = nxt
    return p / p.max() if p.max() > 0 else p


def mmr(
    scores: np.ndarray,
    sim: np.ndarray,
    k: int,
    *,
    lam: float,
    allowed: np.ndarray,
    max_sim: float = 1.01,
) -> list[int]:
    """Maximal marginal relevance; candidates at ``max_sim`` or more to a pick are dropped."""
    chosen: list[int] = []
    pool = [i for i in range(len(scores)) if allowed[i]]
    while pool and len(chosen) < k:
        if chosen:
            red = sim[np.ix_(pool, chosen)].max(axis=1)
            pool = [i for i, r in zip(pool, red, strict=True) if r < max_sim]
            if not pool:
                break
            red = red[red < max_sim]
            gain = lam * scores[pool] - (1 - lam) * red
        else:
            gain = scores[pool]
        best = pool[int(np.argmax(gain))]
        chosen.append(best)
        pool.remove(best)
    return chosen


def position_prior(n: int, *, half_life: float) -> np.ndarray:
    """Weight of sentence ``i`` halves every ``half_life`` sentences."""
    return np.power(0.5, np.arange(n) / half_life) if half_life > 0 else np.ones(n)


def lead_heaviness(headline_sim: np.ndarray) -> float:
    """0..1: how much better the first sentence matches the headline than the median one."""
    top = float(headline_sim.max()) if headline_sim.size else 0.0
    if top <= 0:
        return 0.0
    return float(np.clip((headline_sim[0] - np.median(headline_sim)) / top, 0.0, 1.0))


def textrank_graph(
    token_lists: Sequence[Sequence[str]], counts: np.ndarray | None = None
) -> np.ndarray:
    """sumy TextRank's edge weight, vectorised: sum of tf products / (log|a| + log|b|).
    ``counts``: their :func:`term_counts` matrix, if already made (:attr:`Vectors.counts`)."""
    c = term_counts(token_lists)[0] if counts is None else counts
    logs = np.log(np.maximum([len(t) for t in token_lists], 1))
    norm = logs[:, None] + logs[None, :]
    return np.divide(c @ c.T, norm, out=c @ c.T, where=norm > 0)
