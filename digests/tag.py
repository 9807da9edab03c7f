"""Tag stage: configured topics matched on word boundaries, plus automatic keyphrases."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

from digests.config import Topic
from digests.models import Article, Tagging
from digests.sentences import fold

_TITLE_WEIGHT = 3  # a topic in the headline says more than one in passing
_PAGE_TAG_WEIGHT = 2  # the publisher filed it under the topic
# One passing mention does not make an article about a topic: it takes two mentions, or
# one in the headline or the page's own tags.
_MIN_WEIGHT = 2
SOURCE_WEIGHT = _MIN_WEIGHT  # a source's own tag (and an article's): as much as a topic's least
_MAX_KEYPHRASES = 5
_CAPITALISED = re.compile(
    r"\b(?:[A-Z][\w'’-]*|[A-Z]\.(?:[A-Z]\.)+)(?:\s+(?:of\s+|the\s+|de\s+)?(?:[A-Z][\w'’-]*))*"
)
_COMMON = frozenset(
    "The A An And But Or If In On At To For Of By With From As It Its This That These Those "
    "He She They We I You His Her Their Our My Your Mr Mrs Ms Dr After Before When While "
    "However Meanwhile Also Yet So According Despite Although Since During Under Over "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April "
    "May June July August September October November December Read More Share".split()
)


def tag(
    article: Article,
    topics: Sequence[Topic],
    *,
    extra: Sequence[str] = (),
    declared_by: str | None = None,
) -> Tagging:
    """Tag an article with every topic it is about (strongest first) and a few keyphrases;
    ``extra``: the tags its source (named ``declared_by``) gives every article it yields."""
    counts = Counter(dict(topic_weights(article.title, article.body, topics, article.page_tags)))
    declared = tuple(dict.fromkeys(name.lower() for name in extra))
    for name in declared:  # source-level default tags always apply
        counts[name] += SOURCE_WEIGHT
    tags = tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return Tagging(
        tags=tags,
        keyphrases=keyphrases(article.title, article.body),
        declared=declared if declared_by else (),
        declared_by=declared_by if declared else None,
    )


def topic_weights(
    title: str, body: str, topics: Sequence[Topic], page_tags: Sequence[str] = ()
) -> list[tuple[str, int]]:
    """The keyword tags of a text: each topic named at least twice, or once in the headline
    or the page's own tags, with its weight (the tags before topics are learned)."""
    out: list[tuple[str, int]] = []
    texts = [_Text(text) for text in (body, title, " | ".join(page_tags))]
    for topic in topics:
        in_body, in_title, in_page_tags = (_count(topic, t) if t.text else 0 for t in texts)
        weight = in_body + _TITLE_WEIGHT * in_title + _PAGE_TAG_WEIGHT * in_page_tags
        if weight >= _MIN_WEIGHT:
            out.append((topic.name, weight))
    return out


def keyphrases(title: str, body: str, *, limit: int = _MAX_KEYPHRASES) -> tuple[str, ...]:
    """Proper-noun phrases the article keeps returning to (title mentions count double)."""
    counts: Counter[str] = Counter()
    for text, weight in ((title, 2), (body, 1)):
        for match in _CAPITALISED.finditer(text):
            words = match.group(0).split()
            while words and words[0] in _COMMON:
                words = words[1:]
            while words and words[-1].lower() in {"of", "the", "de"}:
                words = words[:-1]
            phrase = " ".join(words)
            if len(phrase) >= 3 and not (len(words) == 1 and words[0] in _COMMON):
                counts[phrase] += weight
    ranked = [p for p, n in counts.most_common() if n >= 2]
    kept: list[str] = []
    for phrase in ranked:  # "Taiwan" adds nothing once "Taiwan Strait" is in, and vice versa
        if not any(phrase in k or k in phrase for k in kept):
            kept.append(phrase)
        if len(kept) == limit:
            break
    return tuple(kept)


class _Text:
    """A text and its case-folded form (for the quick tests in :func:`_count`)."""

    __slots__ = ("aligned", "folded", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.folded = fold(text)
        # Folding maps each character to one or more: the same length means each to one, so
        # a position in the folded text is the same in the text (not so after "ß" -> "ss").
        self.aligned = len(self.folded) == len(text)


def mentions(topic: Topic, text: str) -> int:
    """How often ``text`` names ``topic`` (its name written as words, or an alias)."""
    return _count(topic, _Text(text)) if text else 0


def _count(topic: Topic, text: _Text) -> int:
    """How often ``topic``'s phrases occur in ``text``: ``topic_pattern(topic).findall``,
    without its scan, which tries every phrase at every position (~30 µs a kilobyte).

    A phrase can only match where its first word is. If none of the first words is in the
    text, nothing matches; otherwise the pattern is tried only where one is, left to right,
    each match resuming the search at its end as ``findall`` does (where folding moved
    characters, or a first word is not ASCII, it scans).
    """
    needles = _needles(topic)
    present = [
        (word, exact)
        for word, exact in needles
        if word is None or word in (text.text if exact else text.folded)
    ]
    if not present:
        return 0
    pattern = topic_pattern(topic)
    if not text.aligned or any(word is None for word, _ in present):
        return len(pattern.findall(text.text))
    starts: set[int] = set()
    for word, exact in present:
        assert word is not None
        haystack = text.text if exact else text.folded
        at = haystack.find(word)
        while at >= 0:
            starts.add(at)
            at = haystack.find(word, at + 1)
    count = end = 0
    for at in sorted(starts):
        if at >= end and (match := pattern.match(text.text, at)):
            count, end = count + 1, match.end()
    return count


@lru_cache(maxsize=512)
def _needles(topic: Topic) -> tuple[tuple[str | None, bool], ...]:
    """Per phrase of ``topic``, its first word as it must appear (case-folded unless it
    matches only in capitals); None if not ASCII, where case-insensitive matching is
    subtler than case folding (the phrase is then always scanned for)."""
    out: list[tuple[str | None, bool]] = []
    for phrase in topic.phrases:
        first, exact = phrase.split()[0], _exact(phrase)
        out.append((None if not first.isascii() else first if exact else first.casefold(), exact))
    return tuple(out)


def _exact(phrase: str) -> bool:
    """An alias in capitals ("US", "KMT") matches only in capitals."""
    return phrase.isupper() and len(phrase.replace(".", "")) <= 5


@lru_cache(maxsize=512)
def topic_pattern(topic: Topic) -> re.Pattern[str]:
    """A regex matching any phrase of ``topic`` on word boundaries (where two match at one
    place, the first listed wins)."""
    parts = []
    for phrase in topic.phrases:
        body = r"\s+".join(re.escape(w) for w in phrase.split())
        # "us" is not the United States: see _exact().
        parts.append(body if _exact(phrase) else f"(?i:{body})")
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)")
