"""Mattermost rendering: a digest or a brief as Markdown posts.

Mattermost holds at most 16,383 characters in a post (server 5.0 and later; docs,
"Incoming webhooks"), so a digest is split between stories, never inside one, into parts
well under that. Text taken from articles is escaped: no formatting, links, tables, headings
or @-mentions of its own (``props.disable_group_highlight`` stops @channel / @all too).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from bot.render import (
    CHAT_MORE,
    LINK_URL_CHARS,
    SHOWN_TAGS,
    RenderedPart,
    digest_count,
    fitted,
    grapheme_prefix,
    more_stories,
    nothing_about,
    short_name,
    source_entry,
    sources_count,
    story_sources,
    whole_lines,
)
from digests.errors import DeliveryError
from digests.models import Brief, Digest, DigestItem

MAX_POST = 16_383  # Mattermost's post limit (characters)
PART_BUDGET = 16_000  # a part's text at most: room below the limit for the part line
STORY_CHARS = 4_000  # one story at most (a huge summary is cut, the story kept whole)
ALSO_CHARS = 1_500  # a story's other sources, in whole links
TITLE_CHARS = 300  # a headline at most (Slack's too)
SOURCE_ENTRY_CHARS = 300  # one source in a story's "Also:" list, link included

# Markdown that article text must not start: emphasis, code, links, tables, strike, html.
_INLINE = re.compile(r"([\\`*_\[\]()<>|~#!])")
_MENTION = re.compile(r"@(?=[\w.-])")  # @user, @channel, @all, @here: not a ping
_ZWSP = "\u200b"


def escape(text: str) -> str:
    """Text from an article or a user, shown literally in Mattermost Markdown."""
    flat = " ".join(text.split())
    return _MENTION.sub("@" + _ZWSP, _INLINE.sub(r"\\\1", flat))


def in_code(text: str) -> str:
    """Text from a user, shown inside a `code span`: Markdown and mentions are not read there,
    so only a backtick, which would end the span, is replaced."""
    return " ".join(text.split()).replace("`", "'")


def _http_url(url: str | None) -> str | None:
    """A web URL to link, or None: not http(s), or over LINK_URL_CHARS (a link is never cut,
    so a longer one would crowd out the story or answer around it)."""
    if not url or not url.startswith(("http://", "https://")) or any(c in url for c in " <>\n"):
        return None
    safe = url.replace("(", "%28").replace(")", "%29")
    return safe if len(safe) <= LINK_URL_CHARS else None


def _link(label: str, url: str | None) -> str:
    """``label`` (escaped here) as a Markdown link when ``url`` is a web URL."""
    return _linked(escape(label), url)


def _linked(text: str, url: str | None) -> str:
    """``text`` (already escaped) as a Markdown link when ``url`` is a web URL."""
    safe = _http_url(url)
    return f"[{text}]({safe})" if safe else text


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = grapheme_prefix(text, limit - 1)  # never half a character (a flag, an accent)
    while cut.endswith("\\") and not cut.endswith("\\\\"):  # never a lone escape at the cut
        cut = cut[:-1]
    return cut + "…"


def _date(value: datetime | None) -> str | None:
    return value.strftime("%d %b %Y") if value else None


def _story(item: DigestItem) -> str:
    """One story, at most STORY_CHARS: its headline line (headline cut to TITLE_CHARS: a link
    and bold that always close; names cut to NAME_CHARS), then its quoted sentences cut to
    what is left, then its other sources and tags, whole. The headline line (under 2,100
    characters escaped, its URL at most LINK_URL_CHARS), the other sources (ALSO_CHARS) and
    the tags (SHOWN_TAGS names of 63) are bounded, so they always leave the quotes room."""
    a = item.article
    names = [_name(p) for p in (a.source, a.author) if p]
    byline = " · ".join(escape(p) for p in (*names, _date(a.published)) if p)
    # The headline is cut before it is linked; a URL over LINK_URL_CHARS is not linked.
    title = f"**{_link(_cut(a.title or '(untitled)', TITLE_CHARS), a.url)}**"
    if item.update:  # a story this channel was shown: only what is new since
        title = f"Update: {title}"
    head = title + (f" — {byline}" if byline else "")
    # Several sources, or an update (its sentences are only the new ones): credit each sentence.
    if (item.also or item.update) and item.sentences:
        quotes = [
            f"> {escape(c.text)} — *{escape(_name(item.source_of(c).source))}*"
            for c in item.sentences
        ]
    else:
        quotes = [f"> {escape(s)}" for s in a.summary]
    tail = []
    if item.update and (item.also or item.copy_sources):  # counted as Slack and Discord do
        entries = [_source_entry(n, url) for n, url in story_sources(item)]
        tail.append(f"{sources_count(item)}: " + fitted(entries, ALSO_CHARS))
    elif item.also or item.copy_sources:  # a copy's source has no link of its own
        lead = a.source or a.title  # in the byline (or the headline): each other source once
        others = [_source_entry(n, url) for n, url in story_sources(item) if n != lead]
        if others:  # whole links, the rest counted: the story's cut never falls in a link
            tail.append("Also: " + fitted(others, ALSO_CHARS))
    if a.tags:
        tail.append(" ".join(f"`#{t.replace('`', '')}`" for t in a.tags[:SHOWN_TAGS]))
    room = STORY_CHARS - len(head) - sum(len(t) + 1 for t in tail) - 1
    body = [_cut("\n".join(quotes), room)] if quotes and room > 1 else []  # never past the limit
    return "\n".join([head, *body, *tail])


def _name(name: str | None) -> str:
    """A source's or author's name, cut to NAME_CHARS (not escaped)."""
    return short_name(name or "another source", _cut)


def _source_entry(name: str, url: str | None) -> str:
    """A source in a story's list (:func:`bot.render.source_entry`), its name escaped."""
    label = escape(short_name(name, _cut))
    return source_entry(label, url, link=_linked, limit=SOURCE_ENTRY_CHARS)


def digest_parts(digest: Digest) -> list[RenderedPart]:
    """A digest as Markdown posts under the post limit, each with the articles it shows (no
    outbox key: the sender puts it in the post's props)."""
    if digest.empty:
        return []
    title = f"News digest — {digest_count(digest)}, {digest.generated_at:%d %b %Y %H:%M %Z}"
    units: list[tuple[str, tuple[int, ...]]] = []
    for section in digest.sections:
        for i, item in enumerate(section.items):
            head = f"#### #{escape(section.tag)} ({len(section.items)})\n" if i == 0 else ""
            units.append((head + _story(item), (item.article.id, *(o.id for o in item.also))))
    if digest.more:  # the stories past max_stories: counted, and how to see them
        units.append((f"**{more_stories(digest.more, CHAT_MORE)}**", ()))
    groups: list[tuple[list[str], list[int]]] = [([], [])]
    for text, unit_ids in units:
        used = sum(len(t) + 2 for t in groups[-1][0])
        if groups[-1][0] and used + len(text) > PART_BUDGET - len(title) - 40:
            groups.append(([], []))
        groups[-1][0].append(text)
        groups[-1][1].extend(unit_ids)
    parts = []
    for i, (texts, ids) in enumerate(groups, start=1):
        label = title if len(groups) == 1 else f"{title} ({i}/{len(groups)})"
        message = {"text": "\n\n".join([f"### {label}", *texts])}
        validate_message(message)
        parts.append(RenderedPart(message, tuple(ids)))
    return parts


def update_parts(digest: Digest) -> list[RenderedPart]:
    """A developing story's update as one post (a reply in the earlier post's thread): the
    story as a digest shows it, "Update:" before its headline, only its new sentences (no
    outbox key: the sender puts it in the post's props)."""
    stories = [_story(item) for section in digest.sections for item in section.items]
    if not stories:
        return []
    message = {"text": "\n\n".join(stories)}  # one story (deliver's _one_item): STORY_CHARS
    validate_message(message)
    return [RenderedPart(message, ())]


def validate_message(message: dict) -> None:
    """Raise DeliveryError (not retryable) if Mattermost would refuse ``message``."""
    text = message.get("text")
    if not isinstance(text, str) or not text.strip():
        raise DeliveryError("Mattermost would refuse the post: no text")
    if len(text) > MAX_POST:
        raise DeliveryError(f"Mattermost would refuse the post: over {MAX_POST} characters")


def with_key(message: dict, key: str, part: int) -> dict:
    """``message`` as posted: its props name the outbox key and part (the REST sender finds
    a post whose outcome was unknown by them); group mentions never highlight."""
    props = {**message.get("props", {}), "digestbot_key": key, "digestbot_part": part}
    return {**message, "props": {**props, "disable_group_highlight": True}}


def brief_text(brief: Brief) -> str:
    """A brief as Markdown: cited sentences (each citation links its article), then sources."""
    if not brief.sentences:
        tries = [f"`{s.replace('`', '')}`" for s in brief.suggestions]
        known = [f"`{s.replace('`', '')}`" for s in brief.known_topics]
        return nothing_about(escape(brief.topic), tries, known)
    numbers: dict[int, int] = {}
    for s in brief.sentences:
        numbers.setdefault(s.article_id, len(numbers) + 1)
    lines = [f"#### Brief: {escape(brief.topic)}"]
    for s in brief.sentences:
        n = numbers[s.article_id]
        cite = f"[\\[{n}\\]]({url})" if (url := _http_url(s.url)) else f"\\[{n}\\]"
        lines.append(f"{escape(s.text)} {cite}")
    lines.append("\n**Sources**")
    first = {s.article_id: s for s in reversed(brief.sentences)}
    for article_id, n in numbers.items():
        s = first[article_id]
        label = f"{s.source} — {s.title}" if s.source else s.title
        lines.append(f"{n}. {_link(_cut(label, 300), s.url)}")
    return _cut("\n".join(lines), PART_BUDGET)


def lines_text(lines: Sequence[str], *, noun: str = "lines") -> str:
    """Lines of an answer as one post's text under the limit: whole lines, the rest counted
    (``… and 120 more topics``), never a line cut."""
    return "\n".join(whole_lines(lines, PART_BUDGET, noun=noun))
