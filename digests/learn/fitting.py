"""Fit stage of the learned topics: the store's articles and the topics as configured in, a
:class:`TopicModel` out (see the package's docstring for the steps)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from digests.config import Topic
from digests.errors import DigestError
from digests.learn import classify, sample, vectors, words
from digests.learn.model import Correction, TopicModel, TopicSpec, prepare, vectorizer_options
from digests.tag import mentions

log = logging.getLogger("digests.learn")  # the package's: one name for every fit warning

MIN_ARTICLES = 30  # below this a corpus says too little: tags stay keyword matches
# ... and below this many per configured topic: a first fit of 34 articles with the 15
# shipped topics (2.3 a topic) trained on 0-5 articles a topic and tagged worse than the
# keywords (tag F1 0.78 against 0.83; 8-12 of them, 2.8-4.3 a topic: 0.81-0.83 against
# 0.88-0.89; 6 of them, 5.7 a topic: 0.92 against 0.89); BBC's 5 categories at 30
# articles (6 a topic) beat them on every draw (docs/lab/topics.md, "Small stores").
PER_TOPIC = 5
NAMED = 2  # mentions of a name or alias that make an article name a topic (headline: twice)
_MAX_FEATURES = 60_000


def fit(
    texts: Sequence[str],
    specs: Sequence[TopicSpec],
    *,
    corrections: Sequence[Correction] = (),
    encode: vectors.Encode | None = None,
    articles: int | None = None,
) -> TopicModel | None:
    """Learn ``specs`` from ``texts`` (the store's articles); None if there is too little.

    ``encode``: texts → unit sentence vectors (:mod:`digests.encode`); with it, what each
    topic's name means comes from the encoder, not only from the store's words. If it raises
    a :class:`DigestError`, the fit goes on without it. ``articles``: the store's size when
    ``texts`` is already its :func:`sample.fit_sample` (default: ``len(texts)``)."""
    from threadpoolctl import threadpool_limits

    articles = len(texts) if articles is None else articles
    texts, corrections = sample.fit_texts(texts, corrections)
    encoded = None
    if encode is not None and specs and len(texts) >= MIN_ARTICLES:
        try:
            encoded = vectors.sample_vectors(texts, specs, encode)
        except DigestError as exc:  # the fit goes on from the words alone
            log.warning("sentence encoder failed, topics learn from words only: %s", exc)
    # One BLAS/OpenMP thread: on a busy machine the solver's threads spin waiting for each
    # other (a 500-article fit took 12 s instead of 0.9 s at load 11 on 2 cores).
    with threadpool_limits(1):
        return _fit(texts, specs, corrections, encoded, articles=articles)


def min_articles(topics: int) -> int:
    """The stored articles it takes to learn ``topics`` topics (fewer: keyword tags)."""
    return max(MIN_ARTICLES, PER_TOPIC * topics)


def named_in(topic: Topic, text: str) -> bool:
    """Whether ``text`` names ``topic``: its name or an alias ``NAMED`` times, the headline
    counting twice (the tag stage's phrase matching). A topic the store lacks is learned from
    such articles only, and tags only such articles (digests/refit.py)."""
    return named_in_prepared(topic, prepare(text))


def named_in_prepared(topic: Topic, prepared: str) -> bool:
    """:func:`named_in` of a text :func:`prepare` has read already (the fit's corpus)."""
    return mentions(topic, prepared) >= NAMED


def _fit(
    texts: Sequence[str],
    specs: Sequence[TopicSpec],
    corrections: Sequence[Correction],
    encoded: vectors.Vectors | None,
    *,
    articles: int,  # the store's, of which ``texts`` may be a sample
) -> TopicModel | None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    if not specs or len(texts) < MIN_ARTICLES:
        return None
    names = tuple(s.name for s in specs)
    # Examples and excluded articles join the corpus; they are labelled in every round.
    corpus = [prepare(t) for t in texts]
    forced: dict[int, int] = {}  # corpus index → class (len(names) = background)
    banned: dict[int, set[int]] = {}  # corpus index → classes it must not be labelled
    k_bg = len(names)
    for k, spec in enumerate(specs):
        for text in spec.examples:
            forced[len(corpus)] = k
            corpus.append(prepare(text))
        for text in spec.exclude:
            banned.setdefault(len(corpus), set()).add(k)
            corpus.append(prepare(text))
    for c in corrections:
        if c.topic not in names or not 0 <= c.index < len(texts):
            continue
        k = names.index(c.topic)
        if c.more:
            forced[c.index] = k
            banned.get(c.index, set()).discard(k)
        else:
            banned.setdefault(c.index, set()).add(k)
            if forced.get(c.index) == k:
                del forced[c.index]
    min_df = 2 if len(corpus) >= 200 else 1
    vec = TfidfVectorizer(
        **vectorizer_options(), min_df=min_df, max_df=0.5, max_features=_MAX_FEATURES
    )
    try:
        x = vec.fit_transform(corpus).tocsr()
    except ValueError:  # no words at all
        return None
    vocabulary = {str(w): i for w, i in vec.vocabulary_.items()}
    labels, under = words.pseudo_labels(x, specs, vocabulary, forced, banned)
    background: NDArray[np.bool_] = np.asarray(under.all(axis=1))
    named_only: tuple[str, ...] = ()
    if encoded is not None:

        def named(rows: NDArray[np.int64], k: int) -> NDArray[np.bool_]:
            # The tag stage's phrase matching (names come from a validated config already).
            topic = Topic.model_construct(name=names[k], aliases=specs[k].aliases)
            return np.array([named_in_prepared(topic, corpus[i]) for i in rows], dtype=bool)

        labels, background, confirmed = vectors.with_vectors(
            labels, under, named, encoded, forced, banned
        )
        named_only = tuple(n for n, c in zip(names, confirmed, strict=True) if not c)
    coef, intercept = classify.train(x, labels, background, k_bg, forced, banned, encoded)
    if coef is None or intercept is None:
        return None
    terms = np.empty(len(vocabulary), dtype=object)
    for w, i in vocabulary.items():
        terms[i] = w
    return TopicModel(
        topics=names,
        vocabulary=terms.astype(np.str_),
        idf=vec.idf_.astype(np.float32),
        coef=coef,
        intercept=intercept,
        articles=articles,
        named_only=named_only,
    )
