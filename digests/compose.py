"""Compose stage: new articles → a Digest grouped by tag, same-story copies merged."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from digests import similar
from digests.models import Digest, DigestItem, DigestSection, StoredArticle

OTHER = "other"  # the section of articles no topic matched


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
        copies = sorted((pool[i] for i in cluster), key=_when)
        first, rest = copies[0], tuple(copies[1:])
        sections[_primary_tag(first, wanted)].append(DigestItem(first, rest))
    ordered = sorted(sections.items(), key=lambda kv: (kv[0] == OTHER, -len(kv[1]), kv[0]))
    return Digest(
        generated_at=now,
        sections=tuple(
            DigestSection(tag, tuple(sorted(items, key=lambda i: _when(i.article), reverse=True)))
            for tag, items in ordered
        ),
        article_ids=tuple(sorted(a.id for a in pool)),
    )


def _primary_tag(article: StoredArticle, wanted: set[str]) -> str:
    for name in article.tags:  # stored strongest first
        if not wanted or name in wanted:
            return name
    return OTHER


def _when(article: StoredArticle) -> datetime:
    return article.published or article.ingested_at or datetime.min.replace(tzinfo=UTC)
