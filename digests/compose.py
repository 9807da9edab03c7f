"""Compose stage: new articles → a Digest grouped by tag, same-story copies merged.

A story that several sources ran gets one summary drawn from all their summaries by the
multi-document engine, each sentence credited to its source.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from digests import similar
from digests.models import Digest, DigestItem, DigestSection, ItemSentence, StoredArticle
from digests.multidoc import Source, summarize_sources

_DATED = operator.attrgetter("dated")  # StoredArticle.dated: the article-time rule
OTHER = "other"  # the section of articles no topic matched
_WORDS_PER_SENTENCE = 60  # the word budget of a merged story: its sentence count times this


def compose(
    articles: Sequence[StoredArticle], *, now: datetime, topics: Sequence[str] = ()
) -> Digest:
    """Group ``articles`` by their strongest tag (within ``topics`` when given).

    Articles that tell the same story (near-duplicate title + summary) become one item that
    lists every source. Sections with more stories come first; newest stories first within.
    """
    wanted = set(topics)
    pool = [a for a in articles if not wanted or wanted.intersection(a.tags)]
    texts = [f"{a.title}. {' '.join(a.summary)}" for a in pool]
    sections: dict[str, list[DigestItem]] = defaultdict(list)
    for cluster in similar.group(texts):
        copies = sorted((pool[i] for i in cluster), key=_DATED)
        first, rest = copies[0], tuple(copies[1:])
        item = DigestItem(first, rest, _story_summary(first, rest))
        sections[_primary_tag(first, wanted)].append(item)
    ordered = sorted(sections.items(), key=lambda kv: (kv[0] == OTHER, -len(kv[1]), kv[0]))
    return Digest(
        generated_at=now,
        sections=tuple(
            DigestSection(tag, tuple(sorted(items, key=lambda i: i.article.dated, reverse=True)))
            for tag, items in ordered
        ),
        article_ids=tuple(sorted(a.id for a in pool)),
    )


def _story_summary(
    first: StoredArticle, rest: tuple[StoredArticle, ...]
) -> tuple[ItemSentence, ...]:
    own = tuple(ItemSentence(s, first.id) for s in first.summary)
    if not rest:
        return own
    copies = (first, *rest)
    n = max(len(a.summary) for a in copies)
    sources = [
        Source(key=a.id, text="\n\n".join(a.summary), title=a.title, published=a.dated)
        for a in copies
    ]
    cited = summarize_sources(sources, words=_WORDS_PER_SENTENCE * n, sentences=n)
    return tuple(ItemSentence(c.text, copies[c.source].id) for c in cited) or own


def _primary_tag(article: StoredArticle, wanted: set[str]) -> str:
    for name in article.tags:  # stored strongest first
        if not wanted or name in wanted:
            return name
    return OTHER
