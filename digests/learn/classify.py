"""The classifier that tags every article: a logistic regression on TF-IDF features, trained
on the views' confident labels plus a background class (what no topic is about). With enough
encoded articles it is trained on each article's sentence vector as estimated from its words
(:func:`projection`) and folded back into word weights, so tagging stays a sparse product."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from digests.learn.model import UNSEEN
from digests.learn.vectors import Vectors

_C = 1.0
_BG_WEIGHT = 1.0  # a background article weighs as one; topics are balanced among themselves
_TRAIN_MAX = 20_000  # articles a classifier is trained on (a random draw beyond that)
_RIDGE_ALPHA = 3.0  # TF-IDF → sentence vector map (see projection)
_DISTIL_C = 10.0  # the classifier on estimated sentence vectors (fewer, denser features)
_DISTIL_MIN = 200  # encoded articles a words → vector map needs (fewer: strays' tags go wild)
# ... and that classifier's solver runs to its optimum: at scikit-learn's tolerance (1e-4) it
# stopped wherever its gradient first dipped under it, so vectors that differ by float
# rounding (another machine's BLAS) moved probabilities by 0.01 and flipped borderline tags
# (BBC sport + tech: tech P 0.941 on one machine, 0.959 on another). docs/lab/topics.md.
_DISTIL_TOL = 1e-8
_DISTIL_ITER = 5000


def projection(x: Any, v: Vectors) -> tuple[Any, Any]:
    """A linear map from an article's TF-IDF to its sentence vector, fitted on the encoded
    sample (ridge regression): every article gets an estimate of what the encoder would
    say of it, and a classifier on those estimates folds back into word weights.

    Solved exactly in the dual: with n encoded articles and up to ``_MAX_FEATURES`` words,
    one n × n system for all 384 dimensions at once. (scikit-learn's ``Ridge`` has no exact
    solver for sparse input with an intercept; its conjugate gradients solve the dimensions
    one by one, 8.8 s of a refit at 100k articles.) Same solution to 2e-5."""
    import scipy.linalg

    xs = x[v.rows]
    mu = np.asarray(xs.mean(axis=0), dtype=np.float32).ravel()
    m = xs @ mu
    # The centred articles' inner products (an intercept is a centred fit).
    kernel = (xs @ xs.T).toarray().astype(np.float32) - m[:, None] - m[None, :] + mu @ mu
    kernel[np.diag_indices_from(kernel)] += np.float32(_RIDGE_ALPHA)
    mean = v.texts.mean(axis=0)
    dual = scipy.linalg.solve(kernel, v.texts - mean, assume_a="pos")
    # Centring drops out of the words' weights: the dual's columns sum to 0.
    coef = np.asarray((xs.T @ dual).T, dtype=np.float32)
    return coef, (mean - coef @ mu).astype(np.float32)


def train(
    x: Any,
    labels: NDArray[np.int64],
    background: NDArray[np.bool_],
    k_bg: int,
    forced: Mapping[int, int],
    banned: Mapping[int, set[int]],
    vectors: Vectors | None = None,
) -> tuple[NDArray[np.float32] | None, NDArray[np.float32] | None]:
    """Train on the confident pseudo-labels and the background: one round (the second and
    later rounds drifted on the dev sets, see docs/lab/topics.md). With at least
    ``_DISTIL_MIN`` encoded articles (``vectors``), on the articles' estimated sentence
    vectors (:func:`projection`): a map fitted on a handful of texts is poorly determined, and
    articles unlike all of them get wild estimates."""
    from sklearn.linear_model import LogisticRegression

    distil = None
    if vectors is not None and vectors.rows.size >= _DISTIL_MIN:
        distil = projection(x, vectors)

    y = np.where(background, k_bg, labels)
    for i, ks in banned.items():
        if int(y[i]) in ks:
            y[i] = k_bg if i not in forced else y[i]
    use = y >= 0
    classes = sorted({int(c) for c in y[use]})
    if not classes or classes == [k_bg]:
        return None, None
    coef = np.zeros((k_bg + 1, x.shape[1]), dtype=np.float32)
    intercept = np.full(k_bg + 1, UNSEEN, dtype=np.float32)  # a class never seen: never chosen
    if len(classes) == 1:  # one topic and no background: everything that fits is it
        intercept[classes[0]] = 0.0
        return coef, intercept
    # Topics weigh alike (a topic with few articles is not drowned), the background by its
    # own count: its few articles must not outweigh a topic's many.
    yu = y[use]
    counts = np.bincount(yu, minlength=k_bg + 1).astype(np.float64)
    topic_mean = counts[:k_bg][counts[:k_bg] > 0].mean() if (counts[:k_bg] > 0).any() else 1.0
    per_class = np.where(counts > 0, topic_mean / np.maximum(counts, 1), 0.0)
    per_class[k_bg] = _BG_WEIGHT
    if counts[k_bg] >= 10:
        y = _coherent_background(x, y, k_bg, per_class)
        use = y >= 0
        yu = y[use]
        counts = np.bincount(yu, minlength=k_bg + 1).astype(np.float64)
        if counts[k_bg] == 0:
            classes = [c for c in classes if c != k_bg]
    use = _cap(use, keep=list(forced))
    yu = y[use]
    if distil is not None:
        w, b = distil
        features = np.asarray(x[use] @ w.T) + b
        clf = LogisticRegression(C=_DISTIL_C, max_iter=_DISTIL_ITER, tol=_DISTIL_TOL)
        clf.fit(features, yu, sample_weight=per_class[yu])
        folded = clf.coef_ @ w
        clf.intercept_ = clf.intercept_ + clf.coef_ @ b
        clf.coef_ = folded
    else:
        clf = LogisticRegression(C=_C, max_iter=300)
        clf.fit(x[use], yu, sample_weight=per_class[yu])
    classes = sorted(int(c) for c in clf.classes_)
    if len(classes) == 2:
        # sklearn keeps one row for two classes (the second one's log-odds); split it half
        # and half, the softmax equivalent, so each class has its own words (top_terms, why).
        coef[classes[1]], coef[classes[0]] = clf.coef_[0] / 2, -clf.coef_[0] / 2
        intercept[classes[1]], intercept[classes[0]] = (
            clf.intercept_[0] / 2,
            -clf.intercept_[0] / 2,
        )
    else:
        for row, c in enumerate(clf.classes_):
            coef[int(c)] = clf.coef_[row]
            intercept[int(c)] = clf.intercept_[row]
    return coef, intercept


def _cap(mask: Any, keep: Sequence[int] = ()) -> Any:
    """At most ``_TRAIN_MAX`` of the articles in ``mask`` (a fixed random draw; ``keep``
    always in): the classifier's cost stays flat as the store grows past it."""
    chosen = np.flatnonzero(mask)
    if chosen.size <= _TRAIN_MAX:
        return mask
    rng = np.random.default_rng(1)
    out = np.zeros_like(mask)
    out[rng.choice(chosen, _TRAIN_MAX, replace=False)] = True
    out[list(keep)] = mask[list(keep)]
    return out


def _coherent_background(x: Any, y: Any, k_bg: int, per_class: Any) -> Any:
    """Keep as background only the candidates that look like each other, not like a topic.

    Candidates are split in two; a classifier trained with one half must call the other half
    background too. Articles about something no topic covers (business news when only sport
    and tech are configured) pass; short articles that merely lack topic words (a two-line
    sports item) are claimed by their topic and leave the background.
    """
    from sklearn.linear_model import LogisticRegression

    cand = np.flatnonzero(y == k_bg)
    rng = np.random.default_rng(0)
    half = np.zeros(len(y), dtype=bool)
    half[rng.permutation(cand)[: len(cand) // 2]] = True
    keep = y.copy()
    topics = (y >= 0) & (y != k_bg)
    for held in (half, (y == k_bg) & ~half):
        train = _cap(topics | ((y == k_bg) & ~held))
        clf = LogisticRegression(C=_C, max_iter=300)
        clf.fit(x[train], y[train], sample_weight=per_class[y[train]])
        idx = np.flatnonzero(held)
        if not idx.size:
            continue
        pred = clf.classes_[clf.predict_proba(x[idx]).argmax(axis=1)]
        keep[idx[pred != k_bg]] = -1
    return keep
