"""Learned topics: what each configured topic means, learned from the unlabeled store.

A topic is given by its name, optional aliases, optional example articles and reader
corrections. :func:`fit` learns a classifier from these and the stored articles, CPU-only and
with nothing downloaded:

1. **Seeds.** Every word of the corpus that spells the name or an alias (``sport`` → sport,
   sports, sporting; ``tech`` → technology, technical) seeds its topic.
2. **Expansion.** Articles are labelled by the seed words they use (TF-IDF weighted); the words
   most typical of each topic's articles and least typical of the others' join its seeds, in
   rounds of growing size (10, 30, 60, 100, 150 words), so ``sport`` comes to mean rugby,
   cricket, coach, champion ... as this corpus uses them.
3. **Encoder** (when :mod:`digests.encode` is installed). A sample of the articles (at most
   ``_ENCODE_TOKENS`` tokens) and each topic's name ("news about sport") become sentence
   vectors. Each article's topic is its nearest centroid of the articles clearly near the
   name. A topic the two views do not find the same articles for is one the store lacks: it
   keeps only the articles that name it. Where the other topics cover the store the
   encoder's labels replace the words', and where much of it is about none of them they only
   veto a word label; where they cover it, an article whose nearest neighbours neither view
   labels is in a part of the store no topic covers and is labelled none (see
   :func:`_with_vectors`). AG News dev, names only: 0.66 → 0.86 with the step below.
4. **Classifier.** A logistic regression on TF-IDF features (with the encoder and at least
   ``_DISTIL_MIN`` encoded articles: on each article's sentence vector as estimated from its
   TF-IDF by a ridge regression fitted on the encoded sample, folded back into word weights,
   see :func:`_projection`) is trained on the most confident
   80 % of each topic's articles plus a background class: articles under every topic's Otsu
   cut that a cross-fitted classifier also calls background (they look like each other, not
   like a topic: what no configured topic is about; a short article that merely lacks topic
   words is claimed by its topic instead). It then tags every article; the first tag must
   beat the background (precision first), further ones need ``NEXT_CONFIDENCE``. Training
   draws at most ``_TRAIN_MAX`` articles.

A store larger than ``FIT_MAX`` articles is learned from a sample of that many (the texts with
the smallest hashes, as the encoder's sample is, and every article a reader corrected), so a
fit's time and memory stay flat as the store grows; the model then tags every article.

Examples (``examples = [...]``) and "More like this" corrections are labelled positives of
their topic in every round; ``exclude`` and "Not #topic" corrections are never positives of it.
The result (:class:`TopicModel`) tags text with confidences, strongest first, several or none,
and explains itself (:meth:`TopicModel.top_terms`, :meth:`TopicModel.why`). It serializes to
plain arrays (``to_bytes``/``from_bytes``, no pickle) so it is kept in the database.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from digests.config import Topic
from digests.errors import DigestError, InputError
from digests.tag import mentions

log = logging.getLogger(__name__)

MIN_ARTICLES = 30  # below this a corpus says too little: tags stay keyword matches
NEXT_CONFIDENCE = 0.3  # each further tag needs this much
NAMED = 2  # mentions of a name or alias that make an article name a topic (headline: twice)
_EXPANSION = (10, 30, 60, 100, 150)  # seed words per topic after each expansion round
_KEEP = 0.8  # share of each topic's pseudo-labelled articles trained on (the confident ones)
_MAX_FEATURES = 60_000
MAX_CHARS = 4000  # of each article a model reads: the lede says what it is about; bounds the cost
_TOKEN = r"(?u)\b[a-zA-Z][a-zA-Z]+\b"
_MIN_LIFT = float(np.log(3.0))  # a topic word is 3x as common in its articles as overall
_SHARE = 0.2  # an article is about a topic if it scores this share of its typical article
_CORE = 0.5  # expansion learns from articles scoring this share of their topic's typical one
_BG_SHARE = 0.3  # background candidates: under this share of every topic's Otsu cut
_BG_WEIGHT = 1.0  # a background article weighs as one; topics are balanced among themselves
_C = 1.0
_TRAIN_MAX = 20_000  # articles a classifier is trained on (a random draw beyond that)
FIT_MAX = 30_000  # articles a fit learns from (those with the smallest hashes): bounds its cost
_FORMAT = 1
_UNSEEN = -30.0  # the intercept of a class the classifier never saw (never chosen)
_ENCODE_TOKENS = 192_000  # tokens encoded per fit (3,000 full-length ledes): bounds its cost
_ENCODE_MAX = 6000  # and articles, however short (the projection solves an n × n system)
_TOKENS_CHUNK = 1000  # ledes counted at a time while filling the sample
LEDE_CHARS = 400  # of each article: its headline and lede (what is hashed and encoded)
_NAME_PROMPT = "news about {}"
_UNCOVERED = 0.15  # share of encoded articles about no topic in both views: topics cover less
_RIDGE_ALPHA = 3.0  # TF-IDF → sentence vector map (see _projection)
_DISTIL_C = 10.0  # the classifier on estimated sentence vectors (fewer, denser features)
_DISTIL_MIN = 200  # encoded articles a words → vector map needs (fewer: strays' tags go wild)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """What the user said a topic is: name, aliases, example and excluded texts."""

    name: str
    aliases: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()  # article texts
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Correction:
    """A reader's correction of one corpus article: not this topic, or more like this."""

    index: int  # position in the corpus given to fit()
    topic: str
    more: bool  # True: "More like this"; False: "Not #topic"


@dataclass(slots=True)
class TopicModel:
    """A fitted topic classifier: vocabulary, idf, one linear scorer per class."""

    topics: tuple[str, ...]
    vocabulary: NDArray[np.str_]
    idf: NDArray[np.float32]
    coef: NDArray[np.float32]  # (classes, vocabulary): topics then the background class
    intercept: NDArray[np.float32]
    articles: int  # corpus size it was fitted on
    # Topics the two views did not confirm (absent from the store, or so broad that most
    # articles touch them): learned only from the articles naming them.
    named_only: tuple[str, ...] = ()
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._index = {str(w): i for i, w in enumerate(self.vocabulary)}

    # -- tagging ---------------------------------------------------------------------------

    def probabilities(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """Per text, the probability of each topic (columns in ``topics`` order) and background."""
        from threadpoolctl import threadpool_limits

        x = self._features(texts)
        with threadpool_limits(1):  # see fit()
            logits = np.asarray(x @ self.coef.T, dtype=np.float64) + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        out: NDArray[np.float64] = p / p.sum(axis=1, keepdims=True)
        return out

    def tag(self, texts: Sequence[str]) -> list[tuple[tuple[str, float], ...]]:
        """Per text, its topics with confidences, strongest first (none if none is likely)."""
        return [self.tags_of(row) for row in self.probabilities(texts)]

    def tags_of(self, row: NDArray[np.float64]) -> tuple[tuple[str, float], ...]:
        """The tags of one row of :meth:`probabilities`."""
        k = len(self.topics)
        order = [int(i) for i in np.argsort(-row[:k], kind="stable")]
        out: list[tuple[str, float]] = []
        if row[order[0]] < row[k]:
            return ()  # the background is likelier than any topic: precision first
        for i in order:
            p = float(row[i])
            if out and p < NEXT_CONFIDENCE:
                break
            out.append((self.topics[i], round(p, 3)))
        return tuple(out)

    def _features(self, texts: Sequence[str]) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer

        vec = TfidfVectorizer(**_vectorizer_options(), vocabulary=self._index)
        vec.idf_ = self.idf
        return vec.transform([_prepare(t) for t in texts])

    # -- explaining ------------------------------------------------------------------------

    def top_terms(self, topic: str, n: int = 15) -> list[tuple[str, float]]:
        """The words that most make an article ``topic`` (weight against the other classes)."""
        return self._terms(self.topics.index(topic), n)

    def background_terms(self, n: int = 15) -> list[tuple[str, float]]:
        """The words that most make an article about none of the topics: what the stories
        the topics leave out are about (none if the fit learned no such class)."""
        k = len(self.topics)
        if self.intercept[k] <= _UNSEEN:
            return []
        return self._terms(k, n)

    def _terms(self, k: int, n: int) -> list[tuple[str, float]]:
        others = np.delete(self.coef, k, axis=0).max(axis=0)
        margin = self.coef[k] - others
        best = np.argsort(-margin)[:n]
        return [
            (str(self.vocabulary[i]), round(float(margin[i]), 3)) for i in best if margin[i] > 0
        ]

    def why(self, text: str, topic: str, n: int = 8) -> list[tuple[str, float]]:
        """The words of ``text`` that pushed it most towards ``topic``."""
        k = self.topics.index(topic)
        x = self._features([text]).tocsr()
        others = np.delete(self.coef, k, axis=0).max(axis=0)
        cols, vals = x.indices, x.data
        contrib = vals * (self.coef[k, cols] - others[cols])
        order = np.argsort(-contrib)[:n]
        return [
            (str(self.vocabulary[cols[i]]), round(float(contrib[i]), 3))
            for i in order
            if contrib[i] > 0
        ]

    # -- storage ---------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The model as a compressed ``.npz`` (plain arrays: loading runs no code)."""
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            format=np.array([_FORMAT, self.articles]),
            topics=np.array(self.topics, dtype=np.str_),
            vocabulary=self.vocabulary,
            idf=self.idf,
            coef=self.coef,
            intercept=self.intercept,
            named_only=np.array(self.named_only, dtype=np.str_),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> TopicModel:
        """Read a model written by :meth:`to_bytes` (InputError if it is not one)."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                fmt, articles = (int(v) for v in z["format"])
                if fmt != _FORMAT:
                    raise InputError(f"topic model format {fmt}, expected {_FORMAT}")
                return cls(
                    topics=tuple(str(t) for t in z["topics"]),
                    vocabulary=z["vocabulary"],
                    idf=z["idf"].astype(np.float32),
                    coef=z["coef"].astype(np.float32),
                    intercept=z["intercept"].astype(np.float32),
                    articles=articles,
                    named_only=tuple(str(t) for t in z.get("named_only", ())),
                )
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(f"stored topic model is unreadable: {exc}") from None


def _prepare(text: str) -> str:
    """The text a model reads: the headline twice (it says what the story is about), then the
    start of the body."""
    head, _, _ = text.partition("\n")
    return head + "\n" + text[:MAX_CHARS]


def _vectorizer_options() -> dict[str, Any]:
    return {
        "sublinear_tf": True,
        "stop_words": "english",
        "token_pattern": _TOKEN,
        "dtype": np.float32,
    }


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


class Encode(Protocol):
    """A sentence encoder (:class:`digests.encode.Encoder`): texts → unit vectors, and what
    each text costs to encode (its tokens)."""

    def __call__(self, texts: Sequence[str]) -> NDArray[np.float32]: ...

    def tokens(self, texts: Sequence[str]) -> list[int]: ...


def fit(
    texts: Sequence[str],
    specs: Sequence[TopicSpec],
    *,
    corrections: Sequence[Correction] = (),
    encode: Encode | None = None,
    articles: int | None = None,
) -> TopicModel | None:
    """Learn ``specs`` from ``texts`` (the store's articles); None if there is too little.

    ``encode``: texts → unit sentence vectors (:mod:`digests.encode`); with it, what each
    topic's name means comes from the encoder, not only from the store's words. If it raises
    a :class:`DigestError`, the fit goes on without it. ``articles``: the store's size when
    ``texts`` is already its :func:`fit_sample` (default: ``len(texts)``)."""
    from threadpoolctl import threadpool_limits

    articles = len(texts) if articles is None else articles
    texts, corrections = _fit_sample(texts, corrections)
    vectors = None
    if encode is not None and specs and len(texts) >= MIN_ARTICLES:
        try:
            vectors = _sample_vectors(texts, specs, encode)
        except DigestError as exc:  # the fit goes on from the words alone
            log.warning("sentence encoder failed, topics learn from words only: %s", exc)
    # One BLAS/OpenMP thread: on a busy machine the solver's threads spin waiting for each
    # other (a 500-article fit took 12 s instead of 0.9 s at load 11 on 2 cores).
    with threadpool_limits(1):
        return _fit(texts, specs, corrections, vectors, articles=articles)


def named_in(topic: Topic, text: str) -> bool:
    """Whether ``text`` names ``topic``: its name or an alias ``NAMED`` times, the headline
    counting twice (the tag stage's phrase matching). A topic the store lacks is learned from
    such articles only, and tags only such articles (digests/refit.py)."""
    return _named_in_prepared(topic, _prepare(text))


def _named_in_prepared(topic: Topic, prepared: str) -> bool:
    """:func:`named_in` of a text :func:`_prepare` has read already (the fit's corpus)."""
    return mentions(topic, prepared) >= NAMED


def _hash(text: str) -> int:
    """A text's place in the samples (its headline and lede's): stable as the store grows."""
    return zlib.crc32(text[:LEDE_CHARS].encode("utf-8", "replace"))


def fit_sample(ledes: Sequence[str], corrected: Iterable[int] = ()) -> NDArray[np.int64]:
    """Positions (ascending) of the articles a fit learns from: all of them up to
    ``FIT_MAX``, else the ``FIT_MAX`` with the smallest hashes and every ``corrected`` one.
    ``ledes``: each article's text, or its first ``LEDE_CHARS`` characters (all the hash
    reads), so a caller can choose before reading whole texts."""
    if len(ledes) <= FIT_MAX:
        return np.arange(len(ledes), dtype=np.int64)
    keep = np.zeros(len(ledes), dtype=bool)
    hashes = np.array([_hash(t) for t in ledes], dtype=np.int64)
    keep[np.argsort(hashes, kind="stable")[:FIT_MAX]] = True
    for i in corrected:
        if 0 <= i < len(ledes):
            keep[i] = True
    return np.flatnonzero(keep).astype(np.int64)


def _fit_sample(
    texts: Sequence[str], corrections: Sequence[Correction]
) -> tuple[Sequence[str], Sequence[Correction]]:
    """The texts :func:`fit_sample` keeps, in corpus order; the corrections re-pointed."""
    if len(texts) <= FIT_MAX:
        return texts, corrections
    rows = fit_sample(texts, [c.index for c in corrections])
    position = {int(r): i for i, r in enumerate(rows)}
    moved = [
        dataclasses.replace(c, index=position[c.index]) for c in corrections if c.index in position
    ]
    return [texts[int(r)] for r in rows], moved


@dataclass(frozen=True, slots=True)
class _Vectors:
    rows: NDArray[np.int64]  # corpus positions of the encoded sample
    texts: NDArray[np.float32]  # their unit vectors
    names: NDArray[np.float32]  # one unit vector per topic: its name and aliases


def _sample_vectors(texts: Sequence[str], specs: Sequence[TopicSpec], encode: Encode) -> _Vectors:
    """Encode a sample of the articles and the topics' names. The sample is the texts with the
    smallest hashes, taken in that order until their tokens reach ``_ENCODE_TOKENS`` (the
    encoder's cost is per token: a store of short items gets more of them encoded for the same
    time) or ``_ENCODE_MAX`` articles. As the store grows it changes little, so a cache of
    vectors spares a refit re-encoding it."""
    ledes = [t[:LEDE_CHARS] for t in texts]
    hashes = np.array([_hash(t) for t in ledes], dtype=np.int64)
    order = np.argsort(hashes, kind="stable")[:_ENCODE_MAX]
    spent, taken = 0, 0
    for start in range(0, order.size, _TOKENS_CHUNK):
        chunk = order[start : start + _TOKENS_CHUNK]
        used = np.cumsum(encode.tokens([ledes[i] for i in chunk])) + spent
        fits = int(np.searchsorted(used, _ENCODE_TOKENS, side="right"))
        taken += fits
        if fits < chunk.size:
            break
        spent = int(used[-1])
    rows = np.sort(order[:taken])
    vectors = encode([ledes[i] for i in rows])
    names = []
    for spec in specs:
        phrases = [spec.name.replace("-", " "), *spec.aliases]
        v = encode([_NAME_PROMPT.format(p) for p in phrases]).mean(axis=0)
        names.append(v / max(float(np.linalg.norm(v)), 1e-9))
    return _Vectors(rows.astype(np.int64), vectors, np.asarray(names, dtype=np.float32))


def _with_vectors(
    words: NDArray[np.int64],
    under: NDArray[np.bool_],
    named: Callable[[NDArray[np.int64], int], NDArray[np.bool_]],
    v: _Vectors,
    forced: Mapping[int, int],
    banned: Mapping[int, set[int]],
) -> tuple[NDArray[np.int64], NDArray[np.bool_], NDArray[np.bool_]]:
    """Pseudo-labels from both views (the store's words and the encoder's), the background
    candidates, and which topics both views confirm.

    First, per topic, whether the two views find the same articles for it
    (:func:`_confirmed`). For a topic the store lacks ("weather" over sport, business and
    politics) each view still finds *something*: the words' expansion drifts to whatever
    shares a word with the name, the encoder's nearest name is nearest for stories about none
    of the topics. The two rarely agree on what, and such a topic keeps only the articles that
    name it (its name or an alias, ``NAMED`` times; ``named``); the articles only the
    encoder gave it are background candidates. Without this, each topic the store lacked took
    a share of the stories about no topic, and with three or more topics almost nothing was
    left untagged (docs/lab/topics.md: topics the store lacks).

    Then, over the confirmed topics: where they cover the store (few encoded articles are
    under every one of them in both views), the encoder's nearest topic is right for almost
    every article: its labels are used, and the background is what both views leave to no
    topic. Where much of the store is about none of them, the nearest topic is often a wrong
    one (a business story is nearer "tech" than "sport"): the words' labels stand, except
    where the encoder clearly names another topic, and the background stays the words'
    (precision first), less the stories the encoder gives a topic that nearly all their
    neighbours are given too (a topic's stories the words miss: in a small store they can
    outnumber those the words find and would teach the classifier that the topic is
    background).

    Where the topics cover the store, the neighbourhood also finds the part of it they do
    not: an encoded article among articles neither view gives a confirmed topic (under
    ``_APART`` of its ``_NEIGHBOURS`` nearest) goes to the background unless both views agree
    on its topic or it names one. The nearest topic is no answer there: with business,
    politics, sport and tech configured, BBC's entertainment stories were nearest sport
    (sport P 0.76 → 0.97). (Where the words' labels lead, their background already holds
    such articles; setting them apart there too cost the two-topic recall.)
    """
    n = len(words)
    near, below = _vector_labels(v)
    mine = words[v.rows]
    confirmed = _confirmed(mine, near, v.names.shape[0])
    if not confirmed.any():  # nothing to go on: trust both views, as for any store
        confirmed[:] = True
    # Each article's unconfirmed topic, from either view, kept where the article names it.
    either = np.full(n, -1, dtype=np.int64)
    either[v.rows] = np.where((near >= 0) & ~confirmed[np.maximum(near, 0)], near, -1)
    either = np.where((words >= 0) & ~confirmed[np.maximum(words, 0)], words, either)
    kept = np.zeros(n, dtype=bool)
    for k in np.flatnonzero(~confirmed):
        rows = np.flatnonzero(either == k)
        kept[rows] = named(rows, int(k))
    trusted = (words >= 0) & confirmed[np.maximum(words, 0)]
    doubtful = np.zeros(n, dtype=bool)  # only the encoder names a topic, an unconfirmed one
    doubtful[v.rows] = (near >= 0) & ~confirmed[np.maximum(near, 0)] & ~trusted[v.rows]
    doubtful &= ~kept
    nowhere = np.zeros(n, dtype=bool)
    nowhere[v.rows] = below[:, confirmed].all(axis=1)
    apart, inside = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    apart[v.rows], inside[v.rows] = _by_neighbourhood(v, mine, near, confirmed)
    apart &= ~kept
    apart[list(forced)] = False  # an example or a "More like this" stays what it was given
    background = under[:, confirmed].all(axis=1) & ~kept
    both = background & nowhere
    if both.sum() < _UNCOVERED * v.rows.size:
        labels = np.full(n, -1, dtype=np.int64)
        labels[v.rows] = np.where((near >= 0) & confirmed[np.maximum(near, 0)], near, -1)
        labels[apart] = -1
        background = both | doubtful | apart
    else:
        labels = np.where(trusted, words, -1)
        labels[v.rows] = np.where((near >= 0) & (near != mine), -1, labels[v.rows])
        background = (background & ~inside) | doubtful
    labels = np.where(kept & (labels < 0), either, labels)  # a confirmed label comes first
    ok = labels >= 0
    _apply(labels, ok, forced, banned)
    return np.where(ok, labels, -1), background, confirmed


_NOWHERE = -2
_NEIGHBOURS = 15  # an encoded article's neighbourhood (_by_neighbourhood)
_APART = 0.4  # share of the neighbourhood either view labels under which: about no topic
_INSIDE = 0.85  # share given the encoder's topic over which its story is not background
_BLOCK = 1024  # rows of the similarity matrix held at a time (_neighbours)
_AGREE = 0.4  # share of a topic's articles both views must give it (_confirmed)


def _confirmed(words: NDArray[np.int64], near: NDArray[np.int64], k_n: int) -> NDArray[np.bool_]:
    """Per topic, whether the store's words and the encoder find the same articles for it:
    of the articles both views label, those both give the topic are at least ``_AGREE`` of
    those either gives it (and at least 3). On the dev sets a topic the store has scores
    0.53-1.0 (AG's technology, which business news overlaps, lowest), one it lacks 0.0-0.36
    (docs/lab/topics.md)."""
    both = (words >= 0) & (near >= 0)
    out = np.zeros(k_n, dtype=bool)
    for k in range(k_n):
        by_vector, by_words = both & (near == k), both & (words == k)
        agree = int((by_vector & by_words).sum())
        out[k] = agree >= max(3, _AGREE * max(int(by_vector.sum()), int(by_words.sum())))
    return out


def _by_neighbourhood(
    v: _Vectors, mine: NDArray[np.int64], near: NDArray[np.int64], confirmed: NDArray[np.bool_]
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Per encoded article (``v.rows`` order; ``mine``, ``near``: the words' and the
    encoder's labels), whether it is *apart*: in a part of the store neither view gives a
    confirmed topic (entertainment news when business, politics, sport and tech are
    configured), so about no topic even where one is the nearest, unless both views agree on
    its topic; and whether it is *inside* a topic: the encoder gives it a confirmed topic
    and either view gives ``_INSIDE`` of its neighbours the same one (a topic's story the
    words miss, not one about no topic). A sample too small for neighbourhoods says
    neither."""
    none = np.zeros(v.rows.size, dtype=bool)
    if v.rows.size <= 2 * _NEIGHBOURS:
        return none, none
    by_words = np.where((mine >= 0) & confirmed[np.maximum(mine, 0)], mine, -1)
    by_vector = np.where((near >= 0) & confirmed[np.maximum(near, 0)], near, -1)
    nearest = _neighbours(v.texts)
    labelled = ((by_words >= 0) | (by_vector >= 0))[nearest].mean(axis=1)
    apart = (labelled < _APART) & ~((mine >= 0) & (mine == near))
    # Neighbours either view gives the article's own (encoder's) topic.
    mate = (by_vector[nearest] == by_vector[:, None]) | (by_words[nearest] == by_vector[:, None])
    inside = (by_vector >= 0) & (mate.mean(axis=1) >= _INSIDE)
    return apart, inside


def _neighbours(texts: NDArray[np.float32]) -> NDArray[np.int64]:
    """Per encoded article, its ``_NEIGHBOURS`` nearest others by sentence vector (n × m,
    in no order). The similarities are taken ``_BLOCK`` rows at a time: memory stays at a
    few tens of MB for the largest sample."""
    n = texts.shape[0]
    m = min(_NEIGHBOURS, n - 1)
    out = np.zeros((n, max(m, 0)), dtype=np.int64)
    if m < 1:
        return out
    for start in range(0, n, _BLOCK):
        sim = texts[start : start + _BLOCK] @ texts.T
        rows = np.arange(sim.shape[0])
        sim[rows, rows + start] = -np.inf  # not its own neighbour
        out[start : start + sim.shape[0]] = np.argpartition(-sim, m - 1, axis=1)[:, :m]
    return out


def _vector_labels(v: _Vectors) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Each encoded article's topic, in ``v.rows`` order: nearest by the centroid of the
    articles its name is clearly near (above Otsu's cut of the name's similarities);
    ``_NOWHERE`` under every topic's cut; -1 when not clearly one topic (the least confident
    fifth of each topic's articles)."""
    k_n = v.names.shape[0]
    score = v.texts @ v.names.T
    near = score.argmax(axis=1)
    cut = np.array([_otsu(score[:, k]) for k in range(k_n)])
    near = np.where(score[np.arange(len(near)), near] >= cut[near], near, -1)
    centroids = np.stack(
        [v.texts[near == k].mean(axis=0) if (near == k).any() else v.names[k] for k in range(k_n)]
    )
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-9)
    score = v.texts @ centroids.T
    cut = np.array([_otsu(score[:, k]) for k in range(k_n)])
    nowhere = (score < cut).all(axis=1)
    ranked = np.sort(score, axis=1)
    conf = ranked[:, -1] - (ranked[:, -2] if k_n > 1 else 0.0)
    near = score.argmax(axis=1)
    keep = np.zeros(len(near), dtype=bool)
    for k in range(k_n):
        mask = (near == k) & ~nowhere
        if mask.any():
            keep |= mask & (conf >= np.quantile(conf[mask], 1 - _KEEP))
    labels = np.where(nowhere, _NOWHERE, np.where(keep, near, -1)).astype(np.int64)
    return labels, score < cut


def _projection(x: Any, v: _Vectors) -> tuple[Any, Any]:
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


def _otsu(values: NDArray[Any], bins: int = 64) -> float:
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


def _fit(
    texts: Sequence[str],
    specs: Sequence[TopicSpec],
    corrections: Sequence[Correction],
    vectors: _Vectors | None,
    *,
    articles: int,  # the store's, of which ``texts`` may be a sample
) -> TopicModel | None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    if not specs or len(texts) < MIN_ARTICLES:
        return None
    names = tuple(s.name for s in specs)
    # Examples and excluded articles join the corpus; they are labelled in every round.
    corpus = [_prepare(t) for t in texts]
    forced: dict[int, int] = {}  # corpus index → class (len(names) = background)
    banned: dict[int, set[int]] = {}  # corpus index → classes it must not be labelled
    k_bg = len(names)
    for k, spec in enumerate(specs):
        for text in spec.examples:
            forced[len(corpus)] = k
            corpus.append(_prepare(text))
        for text in spec.exclude:
            banned.setdefault(len(corpus), set()).add(k)
            corpus.append(_prepare(text))
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
        **_vectorizer_options(), min_df=min_df, max_df=0.5, max_features=_MAX_FEATURES
    )
    try:
        x = vec.fit_transform(corpus).tocsr()
    except ValueError:  # no words at all
        return None
    vocabulary = {str(w): i for w, i in vec.vocabulary_.items()}
    labels, under = _pseudo_labels(x, specs, vocabulary, forced, banned)
    background: NDArray[np.bool_] = np.asarray(under.all(axis=1))
    named_only: tuple[str, ...] = ()
    if vectors is not None:

        def named(rows: NDArray[np.int64], k: int) -> NDArray[np.bool_]:
            # The tag stage's phrase matching (names come from a validated config already).
            topic = Topic.model_construct(name=names[k], aliases=specs[k].aliases)
            return np.array([_named_in_prepared(topic, corpus[i]) for i in rows], dtype=bool)

        labels, background, confirmed = _with_vectors(labels, under, named, vectors, forced, banned)
        named_only = tuple(n for n, c in zip(names, confirmed, strict=True) if not c)
    projection = None
    if vectors is not None and vectors.rows.size >= _DISTIL_MIN:
        projection = _projection(x, vectors)
    coef, intercept = _self_train(x, labels, background, k_bg, forced, banned, projection)
    if coef is None or intercept is None:
        return None
    words = np.empty(len(vocabulary), dtype=object)
    for w, i in vocabulary.items():
        words[i] = w
    return TopicModel(
        topics=names,
        vocabulary=words.astype(np.str_),
        idf=vec.idf_.astype(np.float32),
        coef=coef,
        intercept=intercept,
        articles=articles,
        named_only=named_only,
    )


def _apply(
    labels: NDArray[np.int64],
    ok: NDArray[np.bool_],
    forced: Mapping[int, int],
    banned: Mapping[int, set[int]],
) -> None:
    for i, k in forced.items():
        labels[i], ok[i] = k, True
    for i, ks in banned.items():
        if int(labels[i]) in ks:
            ok[i] = False


def _pseudo_labels(
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
        # Each topic's core, its stronger half, says what it is about: learning from all of
        # it lets a topic that took in a few stray articles drift into general words.
        # Each topic's core says what it is about: learning from all of its articles lets
        # a topic that took in a few stray ones drift into general words.
        ok &= score.max(axis=1) >= _CORE * _typical(score, labels, ok)[labels]
        _apply(labels, ok, forced, banned)
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
    # The background: articles no topic's vocabulary reaches beyond a passing word.
    # Background candidates: well under every topic's cut (see _coherent_background).
    under: NDArray[np.bool_] = np.asarray(score < _BG_SHARE * _cuts(score))
    margin = np.sort(score, axis=1)
    conf = margin[:, -1] - (margin[:, -2] if k_n > 1 else 0.0)
    # Keep the confident share of each topic's articles.
    keep = np.zeros(n, dtype=bool)
    for k in range(k_n):
        mask = ok & (labels == k) & ~under.all(axis=1)
        if mask.any():
            keep |= mask & (conf >= np.quantile(conf[mask], 1 - _KEEP))
    _apply(labels, keep, forced, banned)
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
        cuts[k] = float(np.expm1(_otsu(values)))
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


def _self_train(
    x: Any,
    labels: NDArray[np.int64],
    background: NDArray[np.bool_],
    k_bg: int,
    forced: Mapping[int, int],
    banned: Mapping[int, set[int]],
    projection: tuple[Any, Any] | None = None,
) -> tuple[NDArray[np.float32] | None, NDArray[np.float32] | None]:
    """Train on the confident pseudo-labels and the background (``projection``: on the
    articles' estimated sentence vectors, see :func:`_projection`; one round: the second and
    later rounds drifted on the dev sets, see docs/lab/topics.md)."""
    from sklearn.linear_model import LogisticRegression

    y = np.where(background, k_bg, labels)
    for i, ks in banned.items():
        if int(y[i]) in ks:
            y[i] = k_bg if i not in forced else y[i]
    use = y >= 0
    classes = sorted({int(c) for c in y[use]})
    if not classes or classes == [k_bg]:
        return None, None
    coef = np.zeros((k_bg + 1, x.shape[1]), dtype=np.float32)
    intercept = np.full(k_bg + 1, _UNSEEN, dtype=np.float32)  # a class never seen: never chosen
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
    if projection is not None:
        w, b = projection
        features = np.asarray(x[use] @ w.T) + b
        clf = LogisticRegression(C=_DISTIL_C, max_iter=1000)
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
