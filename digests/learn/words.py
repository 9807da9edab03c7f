"""The words' view of the topics: each topic's name and aliases seed a vocabulary that grows
from the store's own words (``sport`` comes to mean rugby, cricket, coach ... as this store
uses them), and articles are labelled by the vocabulary they use. Also what both views share:
Otsu's cut, and the labels examples and corrections impose (:func:`steer`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from digests.learn.model import TopicSpec

KEEP = 0.8  # share of each topic's pseudo-labelled articles trained on (the confident ones)
_EXPANSION = (10, 30, 60, 100, 150)  # seed words per topic after each expansion round
_MIN_LIFT = float(np.log(3.0))  # a topic word is 3x as common in its articles as overall
_SHARE = 0.2  # an article is about a topic if it scores this share of its typical article
_CORE = 0.5  # expansion learns from articles scoring this share of their topic's typical one
_BG_SHARE = 0.3  # background candidates: under this share of every topic's Otsu cut


def seed_words(spec: TopicSpec, vocabulary: Mapping[str, int]) -> list[int]:
    """Columns of the words that spell the topic: its name, aliases and their word forms."""
    out: set[int] = set()
    stems: list[str] = []
    for phrase in (spec.name.replace("-", " "), *spec.aliases):
        for word in phrase.lower().split():
            if word in vocabulary:
                out.add(vocabulary[word])
            if len(word) >= 4 and word.isalpha():
                # sport → sports, sporting; tech → technology; politics → political.
                stems.append(word[: max(4, min(len(word) - 1, 6))])
    if stems:
        prefixes = tuple(stems)
        out.update(i for w, i in vocabulary.items() if w.startswith(prefixes))
    return sorted(out)


def pseudo_labels(
    x: Any,
    specs: Sequence[TopicSpec],
    vocabulary: Mapping[str, int],
    forced: Mapping[int, int],
    banned: Mapping[int, set[int]],
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Labels from expanded seed words, and the articles none of the topics' words reach."""
    n, v = x.shape
    k_n = len(specs)
    present = x.copy()
    present.data[:] = 1.0
    df = np.asarray(present.sum(axis=0)).ravel()
    seeds = [seed_words(s, vocabulary) for s in specs]
    weights = np.zeros((v, k_n), dtype=np.float32)
    for k, cols in enumerate(seeds):
        weights[cols, k] = 1.0
    for size in _EXPANSION:
        score = np.asarray(x @ weights)
        labels, ok = _label_by(score)
        # Each topic's core says what it is about: learning from all of its articles lets
        # a topic that took in a few stray ones drift into general words.
        ok &= score.max(axis=1) >= _CORE * _typical(score, labels, ok)[labels]
        steer(labels, ok, forced, banned)
        assoc = np.zeros((k_n, v))
        lifts = np.zeros((k_n, v))
        for k in range(k_n):
            mask = ok & (labels == k)
            m = int(mask.sum())
            if not m:
                continue
            dfk = np.asarray(present[mask].sum(axis=0)).ravel()
            lift = np.log(((dfk + 0.1) / (m + 1)) / ((df + 0.1) / (n + 1)))
            assoc[k] = dfk / m * lift
            lifts[k] = lift
        weights = np.zeros((v, k_n), dtype=np.float32)
        for k in range(k_n):
            other = np.delete(assoc, k, axis=0).max(axis=0) if k_n > 1 else 0.0
            score = np.where(lifts[k] >= _MIN_LIFT, assoc[k] - np.maximum(other, 0.0), 0.0)
            best = [i for i in np.argsort(-score)[:size] if score[i] > 0]
            weights[best, k] = 1.0
            weights[seeds[k], k] = 2.0
    score = np.asarray(x @ weights)
    labels, ok = _label_by(score)
    # Background candidates: articles no topic's vocabulary reaches beyond a passing word,
    # well under every topic's cut (see classify._coherent_background).
    under: NDArray[np.bool_] = np.asarray(score < _BG_SHARE * _cuts(score))
    margin = np.sort(score, axis=1)
    conf = margin[:, -1] - (margin[:, -2] if k_n > 1 else 0.0)
    # Keep the confident share of each topic's articles.
    keep = np.zeros(n, dtype=bool)
    for k in range(k_n):
        mask = ok & (labels == k) & ~under.all(axis=1)
        if mask.any():
            keep |= mask & (conf >= np.quantile(conf[mask], 1 - KEEP))
    steer(labels, keep, forced, banned)
    for i in forced:
        under[i] = False
    labels = np.where(keep, labels, -1)
    return labels, under


def _label_by(score: Any) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Each article's best topic, and whether it is clearly that topic: ahead of the others
    and scoring at least a share of what that topic's typical article scores (a passing
    word or two of a topic's vocabulary does not make an article about it)."""
    score = np.asarray(score)
    k_n = score.shape[1]
    labels = score.argmax(axis=1).astype(np.int64)
    ranked = np.sort(score, axis=1)
    top = ranked[:, -1]
    ok = (top - (ranked[:, -2] if k_n > 1 else 0.0)) > 0
    return labels, ok & (top > _SHARE * _typical(score, labels, ok)[labels])


def _cuts(score: Any) -> NDArray[np.float64]:
    """Per topic, the score that best splits its articles from the rest (Otsu's threshold
    on the log scores of the articles its vocabulary reaches at all)."""
    cuts = np.zeros(score.shape[1])
    for k in range(score.shape[1]):
        col = score[:, k]
        values = np.log1p(col[col > 0])
        if values.size < 2:
            cuts[k] = float(col.max()) if col.size else 0.0
            continue
        cuts[k] = float(np.expm1(otsu(values)))
    return cuts


def _typical(score: Any, labels: Any, ok: Any) -> Any:
    top = np.asarray(score).max(axis=1)
    k_n = score.shape[1]
    return np.array(
        [
            np.median(top[ok & (labels == k)]) if (ok & (labels == k)).any() else 0.0
            for k in range(k_n)
        ]
    )


def steer(
    labels: NDArray[np.int64],
    ok: NDArray[np.bool_],
    forced: Mapping[int, int],
    banned: Mapping[int, set[int]],
) -> None:
    """Examples and "More like this" articles (``forced``: corpus index → topic) are labelled
    their topic; an article labelled a topic it is ``banned`` from ("Not #topic", ``exclude``)
    is not labelled at all. In place."""
    for i, k in forced.items():
        labels[i], ok[i] = k, True
    for i, ks in banned.items():
        if int(labels[i]) in ks:
            ok[i] = False


def otsu(values: NDArray[Any], bins: int = 64) -> float:
    """The value that best splits ``values`` in two groups (Otsu's threshold)."""
    if values.size < 2 or float(values.max()) == float(values.min()):
        return float(values.max()) if values.size else 0.0
    hist, edges = np.histogram(values, bins=bins)
    w0 = np.cumsum(hist)[:-1].astype(np.float64)
    w1 = values.size - w0
    centers = (edges[:-1] + edges[1:]) / 2
    m0 = np.cumsum(hist * centers)[:-1] / np.maximum(w0, 1)
    m1 = (np.sum(hist * centers) - np.cumsum(hist * centers)[:-1]) / np.maximum(w1, 1)
    return float(edges[1:-1][int(np.argmax(w0 * w1 * (m0 - m1) ** 2))])
