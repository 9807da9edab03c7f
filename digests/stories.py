"""Stories: which event an article reports (the TDT sense: an event with its follow-ups).

An article's *profile* is a sparse unit vector of its distinctive terms: stemmed content
words weighted by sublinear term frequency times a rarity weight from general English word
frequencies (``wordfreq``, shipped inside its wheel: no corpus statistics to keep up to date,
so a profile never changes after it is made and two replicas make the same one). Names and
rare words weigh most; "said" or "government" almost nothing.

A story's profile is the sum of its members' profiles (its strongest terms kept). An article
joins the story whose profile it is most similar to (:func:`similarity`), if that is at least
:data:`JOIN`, among the stories whose dates (first to last article) come within the time
window of the article's date; otherwise it starts a story. Names (the terms an article writes
capitalised wherever it uses them: countries, capitals, leaders, weekdays) say who and where,
not what happened: reports of two events in one country share several ("Russia", "Moscow",
"Kremlin", "Putin"), and a short article is little else. An article that shares with a story
fewer than :data:`_EVENT` terms besides its names (:func:`on_names`) must be as alike to it as
a follow-up beyond the window (:data:`JOIN_FOLLOW_UP`; docs/lab/stories.md, "Names"). A short
item (a headline and a lead: fewer terms than :data:`ARTICLE_TERMS`) is asked more, up to the
same bar: a few shared topic words ("tariffs", "inflation") make it alike (:func:`join_threshold`). An
article without a date (a page that shows none) is placed at the time it is stored, which
says nothing about its event, so it must be more alike to join (:data:`JOIN_UNDATED`): the
five seed pages, all about US–China relations and mostly undated, stay five stories. Events
run on for weeks with gaps longer than the window (a trial, a summit weeks after the crisis it
answers): beyond the window and up to :data:`FOLLOW_UP`, an article that is very like a story
(:data:`JOIN_FOLLOW_UP`) still joins it, as a follow-up. When an article matches a second
story and the two stories' profiles are alike (:data:`MERGE`), they become one (the older id
stays). Finding candidates is the store's job (digests/store/stories.py: an index of each
story's strongest terms); the decisions are here, pure functions of profiles.

The thresholds were tuned on the DUC 2003/2004 dev events among DUC 2006 distractors with
precision first (docs/lab/stories.md).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from datetime import timedelta
from functools import lru_cache

from digests._rank import STOP, stem

Profile = dict[str, float]

WINDOW = timedelta(days=7)  # default time window ([stories] window_days)
JOIN = 0.18  # similarity of an article with a story's profile to join it
FOLLOW_UP = timedelta(days=60)  # beyond the window, a strong match still joins up to this far
JOIN_FOLLOW_UP = 0.4  # the similarity that takes (docs/lab/stories.md: follow-ups)
JOIN_UNDATED = 0.3  # the same for an article without a date: time is no evidence then
MERGE = 0.25  # similarity of two stories' profiles to merge them
BODY_WORDS = 2000  # only the start of a very long body counts (cost bounded per article)
ARTICLE_TERMS = 60  # an article's profile keeps its strongest terms
STORY_TERMS = 150  # a story's profile keeps its strongest summed terms
INDEX_TERMS = 25  # a story is indexed under its strongest terms
QUERY_TERMS = 15  # an article looks up stories by its strongest terms
_COMMON = 6.5  # Zipf frequency at which a word stops counting (the, said: 7.7, 6.0)
_WORD = re.compile(r"[^\W\d_][\w'’-]*")
_MAX_TERM = 64  # story_terms.term width
_DROP = 2  # the strongest shared terms, which alone do not make two texts alike (similarity())
_BEYOND = 0.04  # the cosine the other shared terms must reach for any similarity at all
_EVENT = 2  # shared terms besides an article's names below which its link is on names (on_names)
_CAPITALISED = 0.5  # a text with more of its words capitalised than this has no names we can tell


@lru_cache(maxsize=1 << 17)
def _term(word: str) -> tuple[str, float] | None:
    """A word as it appears → its profile term and rarity weight (None: it does not count)."""
    lower = word.lower().strip("'’-")
    if len(lower) < 3 or lower in STOP:
        return None
    rarity = max(0.0, _COMMON - _zipf(lower))
    return (stem(lower)[:_MAX_TERM], rarity) if rarity > 0.0 else None


def _zipf(word: str) -> float:
    """wordfreq's Zipf frequency of a lower-case word. A plain ASCII word is looked up in its
    table directly (the same figure: wordfreq's own call re-tokenizes every word, which was
    a third of a profile's time); anything else goes through wordfreq."""
    if word.isascii() and word.isalpha():
        freq = _frequencies().get(word)
        if freq:
            return round(math.log10(freq) + 9.0, 2)
    from wordfreq import zipf_frequency

    return float(zipf_frequency(word, "en"))


def load() -> None:
    """Load the word table now rather than at the first profile (~0.3 s with wordfreq's
    import): processes forked after this share it, where each would load its own."""
    _frequencies()


@lru_cache(maxsize=1)
def _frequencies() -> dict[str, float]:
    from wordfreq import get_frequency_dict  # loads its table on first use (cached there)

    table: dict[str, float] = get_frequency_dict("en")
    return table


def profile(title: str, body: str) -> Profile:
    """The unit term vector of an article (its strongest terms); empty for no content words."""
    return terms(title, body)[0]


def names(title: str, body: str) -> frozenset[str]:
    """The article's terms that are names (see :func:`terms`)."""
    return terms(title, body)[1]


def terms(title: str, body: str) -> tuple[Profile, frozenset[str]]:
    """The article's profile, and which of its terms are names: written capitalised wherever
    the text uses them (a headline in Title Case says nothing either way, a sentence-case one
    does). A capitalised word that starts a sentence counts as a name unless the text also
    writes it in lower case: a short report's "Moscow and Tehran ..." is a name; a common word
    it happens to start a sentence with ("Rescuers ...") is taken for one too, which only makes
    a join ask a little more of the other words. A text mostly in capitals has no names."""
    body_words = Counter(_WORD.findall(" ".join(body.split()[:BODY_WORDS])))
    title_words = Counter(_WORD.findall(title))
    counts: dict[str, int] = {}
    weight: dict[str, float] = {}
    capitalised: set[str] = set()
    lower: set[str] = set()
    title_cased = all(w[:1].isupper() for w in title_words if _term(w) is not None)
    for spellings, telling in ((body_words, True), (title_words, not title_cased)):
        for word, n in spellings.items():  # each distinct spelling once
            found = _term(word)
            if found is None:
                continue
            term, rarity = found
            if telling:
                (capitalised if word[0].isupper() else lower).add(term)
            if term in counts:
                counts[term] += n
                if rarity > weight[term]:
                    weight[term] = rarity
            else:
                counts[term], weight[term] = n, rarity
    vector = {t: (1.0 + math.log(n)) * weight[t] for t, n in counts.items()}
    kept = _unit(strongest(vector, ARTICLE_TERMS))
    total = sum(body_words.values())
    upper = sum(n for w, n in body_words.items() if w[0].isupper())
    if upper > _CAPITALISED * total:
        return kept, frozenset()
    return kept, frozenset(t for t in capitalised - lower if t in kept)


def strongest(vector: Mapping[str, float], n: int) -> Profile:
    """The ``n`` heaviest terms (ties by term, so every process keeps the same ones)."""
    return dict(sorted(vector.items(), key=lambda kv: (-kv[1], kv[0]))[:n])


def combine(a: Mapping[str, float], b: Mapping[str, float]) -> Profile:
    """The profile of a story made of both: summed weights, the strongest kept."""
    total = dict(a)
    for term, w in b.items():
        total[term] = total.get(term, 0.0) + w
    return {t: round(w, 5) for t, w in strongest(total, STORY_TERMS).items()}


def similarity(
    a: Mapping[str, float], b: Mapping[str, float], *, norms: tuple[float, float] | None = None
) -> float:
    """Cosine of two term vectors, or 0 when the two terms contributing most are nearly all
    they share (0 too when either is empty): a shared name or two ("Taiwan", "Taipei") make
    two articles about a place alike, not two reports of one event, which share many more.
    The full cosine is the score once that gate is passed (leaving the two terms out of the
    score, as before, split events whose reports share little else: docs/lab/stories.md).
    ``norms``: the two vectors' :func:`norm`, if known (a story is compared many times)."""
    products = sorted([p for t in a.keys() & b.keys() if (p := a[t] * b[t])], reverse=True)
    if not products:
        return 0.0
    na, nb = norms if norms is not None else (norm(a), norm(b))
    both = na * nb
    if not both or sum(products[_DROP:]) < _BEYOND * both:
        return 0.0
    return sum(products) / both


def on_names(
    article: Mapping[str, float], names: frozenset[str], story: Mapping[str, float]
) -> bool:
    """Whether an article shares with a story little but its names (fewer than :data:`_EVENT`
    other terms): "Ukraine and Russia agree to prisoner exchange" and "Iran and Russia sign
    energy deal" share Russia, Moscow, the Kremlin and Putin, alike enough for :data:`JOIN`."""
    return len((article.keys() & story.keys()) - names) < _EVENT


def join_threshold(
    *, dated: bool, within_window: bool, names_only: bool = False, terms: int = ARTICLE_TERMS
) -> float:
    """How alike an article must be to a story to join it: a story in its window, one only
    within :data:`FOLLOW_UP` (a follow-up), or any story for an undated article. A link on
    names only (:func:`on_names`) must be as strong as a follow-up's, wherever the story is.

    ``terms``: how many terms the article's profile has. The thresholds are for a full profile
    (:data:`ARTICLE_TERMS`); a short item's few terms each weigh more in its unit vector, so a
    couple of shared topic words ("tariffs", "inflation", "rates") make it as alike to a story
    as a long report sharing many words of one event. The evidence asked grows as the article
    says less: the threshold times ``ARTICLE_TERMS / terms``, up to the follow-up's (a 40-word
    item has ~25 terms: it is asked the follow-up's 0.4; docs/lab/stories.md, "Short items")."""
    threshold = JOIN_UNDATED if not dated else (JOIN if within_window else JOIN_FOLLOW_UP)
    if names_only:
        threshold = max(threshold, JOIN_FOLLOW_UP)
    short = threshold * ARTICLE_TERMS / max(1, min(terms, ARTICLE_TERMS))
    return max(threshold, min(short, JOIN_FOLLOW_UP))


def query_terms(vector: Mapping[str, float]) -> list[str]:
    """The terms an article looks its candidate stories up by."""
    return list(strongest(vector, QUERY_TERMS))


def index_terms(vector: Mapping[str, float]) -> list[str]:
    """The terms a story is found by."""
    return list(strongest(vector, INDEX_TERMS))


def norm(v: Mapping[str, float]) -> float:
    """The Euclidean length of a term vector."""
    return math.sqrt(sum([w * w for w in v.values()]))


def _unit(v: Profile) -> Profile:
    n = norm(v)
    return {t: round(w / n, 5) for t, w in v.items()} if n else {}
