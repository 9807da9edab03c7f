"""`digestbot articles` and `digestbot stories`: stream what is stored, one line per row.

Rows are written as they are read (digests/store/export.py pages by id), so an export of a
million articles holds one page in memory. Nothing is ingested first: an export shows the
store as it is.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Annotated, Any

import typer

from bot.cli._app import now, open_store, state
from bot.cli.options import since_bound, topic_option
from bot.cli.output import clean, json_line, one_line, stdout_gone


class ExportFormat(StrEnum):
    """How an export writes its rows: all three as the rows are read."""

    jsonl = "jsonl"  # one JSON object a line
    json = "json"  # one JSON array (the same objects), as `digest` and `brief` write JSON
    text = "text"  # one tab-separated line a row


def _write(rows: Iterable[Mapping[str, Any]], fmt: ExportFormat, text: Any) -> None:
    write = sys.stdout.write
    try:
        if fmt is ExportFormat.json:
            sep = "["
            for row in rows:
                write(f"{sep}\n{json_line(row)}")
                sep = ","
            write("[]\n" if sep == "[" else "\n]\n")
        else:
            for row in rows:
                write((json_line(row) if fmt is ExportFormat.jsonl else clean(text(row))) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # `digestbot articles | head`: the reader has all it wanted
        stdout_gone()  # no flush error at exit (the same as every other command's output)


def _article_text(row: Mapping[str, Any]) -> str:
    date = (row["published"] or "")[:10] or "-"
    story = f"story {row['story']}" if row["story"] is not None else "no story"
    tags = ",".join(row["tags"]) or "-"
    return (
        f"{row['id']}\t{date}\t{story}\t{one_line(row['source'] or '-')}\t{tags}\t"
        f"{one_line(row['title'])}\t{one_line(row['locator'])}"
    )


def _story_text(row: Mapping[str, Any]) -> str:
    first = (row["first_seen"] or "")[:10]
    last = (row["last_seen"] or "")[:10]
    sources = ", ".join(one_line(s) for s in row["sources"]) or "-"
    n = row["articles"]
    return (
        f"{row['id']}\t{first}..{last}\t{n} article{'s' if n != 1 else ''}\t{sources}\t"
        f"{one_line(row['headline'])}"
    )


SinceOption = Annotated[
    str | None,
    typer.Option(
        help="Only those dated since (published, else stored): 24h, 7d, 2025-06-01.",
    ),
]
TopicOption = Annotated[
    list[str] | None,
    typer.Option(
        "--topic",
        "-t",
        metavar="TOPIC",
        help="Only these topics (repeatable: any of them).",
        callback=topic_option,
    ),
]
FormatOption = Annotated[ExportFormat, typer.Option("--format", "-f")]


def articles_cmd(
    ctx: typer.Context,
    since: SinceOption = None,
    topic: TopicOption = None,
    story: Annotated[int | None, typer.Option(help="Only the articles of this story id.")] = None,
    fmt: FormatOption = ExportFormat.jsonl,
) -> None:
    """Stream every stored article: id, locator, url, title, source, published, tags
    (strongest first), story. A text found at several places is listed once per place (same
    id, that place's locator and source)."""
    from bot.cli.options import check_topics, parse_topic, storable_id
    from digests.errors import InputError
    from digests.store.export import articles_rows, known_story

    after = since_bound(ctx, since, now())
    tags = tuple(parse_topic(t) for t in topic or [])
    settings = state.settings()
    store = open_store(settings)
    if story is not None and not (storable_id(story) and known_story(store.engine, story)):
        raise InputError(f"no story {story}")
    check_topics(topic or [], tags, settings, store)
    rows = articles_rows(store.engine, since=after, topics=tags, story=story)
    _write(rows, fmt, _article_text)


def stories_cmd(
    ctx: typer.Context,
    since: SinceOption = None,
    topic: TopicOption = None,
    fmt: FormatOption = ExportFormat.jsonl,
) -> None:
    """Stream every story: id, headline, article count, sources, first and last seen. The
    count and sources include copies of a text found at other places (what `articles --story
    ID` lists)."""
    from bot.cli.options import check_topics, parse_topic
    from digests.store.export import stories_rows

    after = since_bound(ctx, since, now())
    tags = tuple(parse_topic(t) for t in topic or [])
    settings = state.settings()
    store = open_store(settings)
    check_topics(topic or [], tags, settings, store)
    rows = stories_rows(store.engine, since=after, topics=tags)
    _write(rows, fmt, _story_text)


def register(app: typer.Typer) -> None:
    """Add the articles and stories commands."""
    app.command("articles")(articles_cmd)
    app.command("stories")(stories_cmd)
