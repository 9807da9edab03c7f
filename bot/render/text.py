"""Terminal rendering with rich: what an operator sees from `digestbot digest` / `brief`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.text import Text

from bot.render import SHOWN_TAGS, digest_count, more_stories, nothing_about, sources_label
from digests.models import Brief, Digest, StoredArticle

_WHEN = "%d %b %Y %H:%M %Z"


@dataclass(frozen=True, slots=True)
class Nothing:
    """Why a terminal digest shows nothing: what is stored for it, and its last digest."""

    stored: int  # articles in the store
    tagged: int  # of them, those carrying any of ``topics`` (every one when no topics)
    inbox: str  # the folder files are dropped into
    topics: tuple[str, ...] = ()
    after: datetime | None = None  # `--since`
    last: datetime | None = None  # when this digest (these topics') last showed something
    skipped: int = 0  # pending articles dated before ``after``, marked delivered by this run


def nothing_line(why: Nothing) -> str:
    """One line that says why there is nothing to show, and what to do about it."""
    tags = " or ".join(f"#{t}" for t in why.topics)
    if not why.stored:
        return (
            f"No articles stored yet: drop files into {why.inbox} or run "
            "`digestbot ingest PATH|URL` (a file, folder, feed or page)."
        )
    if why.topics and not why.tagged:
        return (
            f"No stored article is tagged {tags} (of {why.stored:,} stored): "
            "`digestbot topics` lists the topics and how many articles carry each."
        )
    dated = f" is dated since {why.after:{_WHEN}}" if why.after else ""
    if why.skipped:
        n = why.skipped
        dated += f"; {n:,} older article{'s' * (n != 1)} skipped (marked delivered)"
    if why.last is not None:
        which = f"{', '.join(f'#{t}' for t in why.topics)} " if why.topics else ""
        return f"Nothing new since the last {which}digest ({why.last:{_WHEN}}){dated}."
    if why.after is not None:  # no digest yet: every article stored for it is older
        return f"No stored article{f' tagged {tags}' if why.topics else ''}{dated}."
    # No digest showed anything, yet none is pending: an earlier `--since` skipped them all.
    n = why.tagged
    which = f"{'the ' if n != 1 else ''}{n:,} stored article{'s' * (n != 1)}"
    were = f"{which}{f' tagged {tags}' if why.topics else ''} {'were' if n != 1 else 'was'}"
    return f"Nothing new: {were} shown or skipped by an earlier digest."


def skipped_line(skipped: int, after: datetime) -> str:
    """What a digest that showed something skipped with `--since` (for stderr)."""
    n = f"{skipped:,} article{'s' * (skipped != 1)}"
    return f"digest: {n} dated before {after:{_WHEN}} skipped (marked delivered)"


def _date(value: datetime | None) -> str:
    return value.strftime("%d %b %Y") if value else "undated"


def _byline(article: StoredArticle) -> str:
    parts = [article.source or "unknown source", _date(article.published)]
    if article.author:
        parts.insert(1, article.author)
    return " · ".join(parts)


def digest_text(digest: Digest, nothing: Nothing | None = None) -> Group:
    """A digest as rich renderables: a header per tag, then each story (or, when it is
    empty or shows no story, the line that says why)."""
    if digest.empty:
        return Group(Text(nothing_line(nothing) if nothing else "Nothing to show."))
    n = len(digest.article_ids)
    if not digest.sections and not digest.more:  # each story was shown: nothing new to say
        return Group(
            Text(
                f"Nothing new: {n:,} new article{'s' * (n != 1)} add{'s' * (n == 1)} nothing "
                "to the stories already shown."
            )
        )
    lines: list[RenderableType] = [
        Text.from_markup(
            f"[bold]News digest[/] — {digest_count(digest)}, "
            f"{digest.generated_at:%d %b %Y %H:%M %Z}"
        )
    ]
    for section in digest.sections:
        lines.append(
            Text.from_markup(f"\n[bold magenta]#{escape(section.tag)}[/] ({len(section.items)})")
        )
        for item in section.items:
            a = item.article
            label = "[yellow]Update:[/] " if item.update else ""
            lines.append(Text.from_markup(f"\n• {label}[bold]{escape(a.title)}[/]"))
            lines.append(Text(f"  {_byline(a)}", style="dim"))
            if a.url:
                lines.append(Text(f"  {a.url}", style="cyan"))
            if (item.also or item.update) and item.sentences:  # credit each sentence
                for c in item.sentences:
                    source = item.source_of(c)
                    credit = source.source or source.title
                    lines.append(Text(f"  {c.text} [{credit}]"))
            else:
                for sentence in a.summary:
                    lines.append(Text(f"  {sentence}"))
            if item.also or item.copy_sources:  # several sources (copies' too): name them
                label = sources_label(item)
                lines.append(Text(f"  {label}", style="dim"))
                for other in item.also:
                    if other.url:
                        lines.append(Text(f"    {other.url}", style="dim cyan"))
            if a.tags:
                lines.append(
                    Text("  " + " ".join(f"#{t}" for t in a.tags[:SHOWN_TAGS]), style="green")
                )
    if digest.more:
        lines.append(Text(f"\n{more_stories(digest.more)}", style="bold"))
    return Group(*lines)


def brief_text(brief: Brief) -> Group:
    """A brief as numbered, cited sentences and the list of sources."""
    if not brief.sentences:
        return Group(Text(nothing_about(brief.topic, brief.suggestions, brief.known_topics)))
    lines: list[RenderableType] = [Text.from_markup(f"[bold]Brief: {escape(brief.topic)}[/]\n")]
    index = {a.id: i for i, a in enumerate(brief.articles, 1)}
    for s in brief.sentences:
        lines.append(Text(f"{s.text} [{index[s.article_id]}]"))
    lines.append(Text("\nSources:", style="bold"))
    for a in brief.articles:
        where = f" — {a.url}" if a.url else ""
        lines.append(Text(f"[{index[a.id]}] {a.title} ({_byline(a)}){where}", style="dim"))
    return Group(*lines)
