"""The stable JSON schema of digests and briefs (documented in the README; scripts rely on it)."""

from __future__ import annotations

from datetime import datetime

from digests.models import Brief, Digest, StoredArticle

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
                        # The named sources; a source-less article (a file dropped in the
                        # inbox) is counted in source_count, which ranks the story.
                        "sources": list(item.named_sources),
                        "source_count": len(item.sources),
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
    }
