"""Tag stage: configured topics matched on word boundaries, plus automatic keyphrases."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

from digests.config import Topic
from digests.models import Article, Tagging

_TITLE_WEIGHT = 3  # a topic in the headline says more than one in passing
_PAGE_TAG_WEIGHT = 2  # the publisher filed it under the topic
# One passing mention does not make an article about a topic: it takes two mentions, or
# one in the headline or the page's own tags.
_MIN_WEIGHT = 2
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


def tag(article: Article, topics: Sequence[Topic], *, extra: Sequence[str] = ()) -> Tagging:
    """Tag an article with every topic it is about (strongest first) and a few keyphrases."""
    counts: Counter[str] = Counter()
    page_tags = " | ".join(article.page_tags)
    for topic in topics:
        pattern = topic_pattern(topic)
        weight = (
            len(pattern.findall(article.body))
            + _TITLE_WEIGHT * len(pattern.findall(article.title))
            + _PAGE_TAG_WEIGHT * len(pattern.findall(page_tags))
        )
        if weight >= _MIN_WEIGHT:
            counts[topic.name] = weight
    for name in extra:  # source-level default tags always apply
        counts[name.lower()] += _MIN_WEIGHT
    tags = tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return Tagging(tags=tags, keyphrases=keyphrases(article.title, article.body))


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


@lru_cache(maxsize=512)
def topic_pattern(topic: Topic) -> re.Pattern[str]:
    """A regex matching any phrase of ``topic`` on word boundaries."""
    # An alias in capitals ("US", "KMT") must match in capitals: "us" is not the United States.
    parts = []
    for phrase in topic.phrases:
        body = r"\s+".join(re.escape(w) for w in phrase.split())
        exact = phrase.isupper() and len(phrase.replace(".", "")) <= 5
        parts.append(body if exact else f"(?i:{body})")
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)")
