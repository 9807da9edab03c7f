"""`digestbot articles`: every stored article with its tags, streamed (JSON lines or text).

Fields: id, locator, url, title, source, published, tags (strongest first), story (the
story/event id, null until stories are grouped).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from bot.cli._app import now, open_store, state
from bot.cli.output import json_line, one_line, out, safe

_PAGE = 1000


class ArticlesFormat(StrEnum):
    """Output of `digestbot articles`."""

    jsonl = "jsonl"
    text = "text"


def articles_cmd(
    since: Annotated[
        str | None,
        typer.Option(
            help="Only articles dated (published, else stored) since: 24h, 7d, 2025-06-01."
        ),
    ] = None,
    topic: Annotated[
        str | None, typer.Option("--topic", help="Only articles tagged TOPIC.")
    ] = None,
    story: Annotated[str | None, typer.Option("--story", help="Only articles of story ID.")] = None,
    fmt: Annotated[ArticlesFormat, typer.Option("--format", "-f")] = ArticlesFormat.text,
) -> None:
    """List stored articles with their tags, oldest first, streaming."""
    import sys

    from bot.cli.digest import parse_since

    after = parse_since(since, now()) if since else None
    store = open_store(state.settings())
    if story is not None:
        return  # stories are not grouped in this build: no article belongs to one
    watermark = 0
    topics = (topic.lower().lstrip("#"),) if topic else ()
    while batch := store.articles.since(watermark, topics=topics, after=after, limit=_PAGE):
        locators = store.topics.locators([a.id for a in batch])
        for a in batch:
            record = {
                "id": a.id,
                "locator": locators.get(a.id),
                "url": a.url,
                "title": a.title,
                "source": a.source,
                "published": a.published.isoformat() if a.published else None,
                "tags": list(a.tags),
                "story": None,
            }
            if fmt is ArticlesFormat.jsonl:
                sys.stdout.write(json_line(record) + "\n")
            else:
                tags = " ".join(f"#{t}" for t in a.tags)
                out.print(safe(one_line(f"{a.id}  {a.title}  {tags}")))
        sys.stdout.flush()
        watermark = batch[-1].id


def register(app: typer.Typer) -> None:
    """Add `digestbot articles`."""
    app.command("articles")(articles_cmd)
