"""Articles for tests and benchmarks, built without running the pipeline."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from digests.models import Article, ProcessedArticle, Summary, Tagging

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # the fixed "now" of the tests


def make_processed(
    title: str,
    body: str,
    *,
    tags: tuple[tuple[str, int], ...] = (),
    source: str | None = "Test Wire",
    published: datetime | None = None,
    url: str | None = None,
    summary: tuple[str, ...] | None = None,
) -> ProcessedArticle:
    """Build a ProcessedArticle without running the pipeline (like sumy's test builders)."""
    sentences = tuple(s.strip() + "." for s in body.split(".") if s.strip())
    return ProcessedArticle(
        article=Article(
            title=title,
            body=body,
            source=source,
            published=published,
            url=url,
            locator=f"test://{uuid.uuid4().hex}",
        ),
        summary=Summary(summary if summary is not None else sentences[:2], "test"),
        tagging=Tagging(tags=tags, keyphrases=()),
        sentences=sentences,
    )


def made_up_name(n: int) -> str:
    """A made-up proper name, different for every ``n``: articles that name different ones
    are different events (stories), however alike the rest of their text."""
    syllables = ("ka", "lo", "mi", "ru", "ze", "to", "vi", "na", "pe", "qu", "sa", "di")
    out = "Bo"
    for _ in range(4):
        out += syllables[n % 12]
        n //= 12
    return out
