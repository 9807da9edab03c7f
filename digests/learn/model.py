"""The fitted topic model: what a user said each topic is, a reader's correction, and the
classifier a fit leaves (:class:`TopicModel`: tags text, explains itself, stored as plain
arrays)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from digests.errors import InputError

NEXT_CONFIDENCE = 0.3  # each further tag needs this much
# The learned tagger's strongest confidence: 1.00 is what steering gives (an example, "More
# like this"), so a refit can tell those tags from the model's (Topics.pinned).
LEARNED_MAX = 0.999
MAX_CHARS = 4000  # of each article a model reads: the lede says what it is about; bounds the cost
UNSEEN = -30.0  # the intercept of a class the classifier never saw (never chosen)
_TOKEN = r"(?u)\b[a-zA-Z][a-zA-Z]+\b"
_FORMAT = 1


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
            out.append((self.topics[i], confidence(p)))
        return tuple(out)

    def _features(self, texts: Sequence[str]) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer

        vec = TfidfVectorizer(**vectorizer_options(), vocabulary=self._index)
        vec.idf_ = self.idf
        return vec.transform([prepare(t) for t in texts])

    # -- explaining ------------------------------------------------------------------------

    def top_terms(self, topic: str, n: int = 15) -> list[tuple[str, float]]:
        """The words that most make an article ``topic`` (weight against the other classes)."""
        return self._terms(self.topics.index(topic), n)

    def background_terms(self, n: int = 15) -> list[tuple[str, float]]:
        """The words that most make an article about none of the topics: what the stories
        the topics leave out are about (none if the fit learned no such class)."""
        k = len(self.topics)
        if self.intercept[k] <= UNSEEN:
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


def prepare(text: str) -> str:
    """The text a model reads: the headline twice (it says what the story is about), then the
    start of the body."""
    head, _, _ = text.partition("\n")
    return head + "\n" + text[:MAX_CHARS]


def vectorizer_options() -> dict[str, Any]:
    return {
        "sublinear_tf": True,
        "stop_words": "english",
        "token_pattern": _TOKEN,
        "dtype": np.float32,
    }


def confidence(p: float) -> float:
    """A probability as a tag's confidence: three places, under the 1.00 of steering."""
    return min(round(float(p), 3), LEARNED_MAX)
