"""The stable JSON schema of digests and briefs (documented in the README; scripts rely on it)."""

from __future__ import annotations

from datetime import datetime

from digests.models import Brief, Digest, DigestItem, StoredArticle

SCHEMA_VERSION = 1


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def article_data(article: StoredArticle) -> dict[str, object]:
    """One article as a digest item (without the merged copies)."""
    return {
        "id": article.id,
        "title": article.title,
        "source": article.source,
        "author": article.author,
        "published": _iso(article.published),
        "url": article.url,
        "summary": list(article.summary),
        "tags": list(article.tags),
    }


def digest_data(digest: Digest) -> dict[str, object]:
    """A digest: sections by tag, each with items; ``also`` lists other sources of a story."""
    return {
        "schema": SCHEMA_VERSION,
        "generated_at": _iso(digest.generated_at),
        "article_count": len(digest.article_ids),
        "more_stories": digest.more,  # stories past [digest] max_stories (digest --all shows them)
        "sections": [
            {
                "tag": section.tag,
                "items": [
                    {
                        **article_data(item.article),
                        "story": item.story,
                        "update": item.update,
                        # The story's named sources (an update's: those shown before too);
                        # a source-less article (a file dropped in the inbox) is counted in
                        # source_count. new_sources: this digest's articles' alone.
                        "sources": list(item.whole_story_sources),
                        "source_count": _source_count(item),
                        "new_sources": list(item.named_sources),
                        "also": [
                            {"id": a.id, "title": a.title, "source": a.source, "url": a.url}
                            for a in item.also
                        ],
                        # The story's summary from all its sources, each sentence credited.
                        "citations": [
                            {
                                "text": c.text,
                                "article_id": c.article_id,
                                "source": item.source_of(c).source,
                                "url": item.source_of(c).url,
                            }
                            for c in item.sentences
                        ],
                    }
                    for item in section.items
                ],
            }
            for section in digest.sections
        ],
    }


def _source_count(item: DigestItem) -> int:
    """``sources`` counted with the articles of the digest that name no source (each one
    source, as :attr:`DigestItem.sources` counts them to rank the story)."""
    unnamed = len(item.sources) - len(item.named_sources)
    return len(item.whole_story_sources) + unnamed


def brief_data(brief: Brief) -> dict[str, object]:
    """A brief: cited sentences, the articles drawn on, and suggestions when nothing matched."""
    return {
        "schema": SCHEMA_VERSION,
        "topic": brief.topic,
        "words": brief.words,
        "sentences": [
            {
                "text": s.text,
                "article_id": s.article_id,
                "title": s.title,
                "source": s.source,
                "url": s.url,
            }
            for s in brief.sentences
        ],
        "articles": [
            {
                "id": a.id,
                "title": a.title,
                "source": a.source,
                "url": a.url,
                "published": _iso(a.published),
            }
            for a in brief.articles
        ],
        "suggestions": list(brief.suggestions),
        "known_topics": list(brief.known_topics),
    }
