"""Discord rendering: digests and briefs as webhook / interaction message payloads with embeds.

Every number here is one of Discord's message limits (Discord's docs,
"Channel resource → Embed limits"): ≤ 10 embeds per message, title 256, description 4096,
≤ 25 fields (name 256, value 1024), footer 2048, author name 256, all embeds of one message
together ≤ 6000 characters, content ≤ 2000. A digest too big for one message is split.
An embed's ``url`` is at most 2048 characters: not in that table, but Discord refuses a longer
one ("embeds.0.url: Must be 2048 or fewer in length", error 50035).

Text taken from articles is escaped for Discord markdown and its mentions are neutralised;
every payload also carries ``allowed_mentions: {"parse": []}`` so nothing can ping anyone.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import quote, urlsplit

from bot.render import (
    LINK_URL_CHARS,
    SHOWN_TAGS,
    RenderedPart,
    counted,
    digest_count,
    fitted,
    grapheme_prefix,
    more_stories,
    nothing_about,
    short_name,
    source_entry,
    sources_count,
    story_sources,
)
from bot.topic_feedback import MORE_ACTION, NOT_ACTION, button_value, feedback_topic
from digests.errors import DeliveryError
from digests.models import Brief, Digest, DigestItem

MAX_EMBEDS = 10
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_AUTHOR = 256
MAX_EMBED_TOTAL = 6000
MAX_CONTENT = 2000
MAX_URL = 2048  # an embed's url (Discord's answer to a longer one; see above)
MAX_LABEL = 80  # button label ("Message Components → Button")
MAX_ROWS = 5  # action rows per message
ACTION_ROW, BUTTON, SECONDARY = 1, 2, 2  # component and button style types

# One item's summary is a few sentences; capping it well below 4096 keeps any single item
# embed far under the 6000 total so the packer never meets an embed that cannot fit.
_ITEM_DESCRIPTION = 1500
NO_MENTIONS: dict[str, list[str]] = {"parse": []}
_BLURPLE = 0x5865F2
DISCORD_MORE = "ask `/brief about topic:…` about any of them"  # Discord's /brief syntax
_SOURCE_ENTRY_CHARS = 300  # one source in a story's sources field, link included

# Discord markdown: emphasis, strike, spoiler, code, masked links, <@id>/<#id>/<t:…> tags.
_INLINE = re.compile(r"([\\*_~`|\[\]<>])")
# Only at the start of a line: headings, subtext (-#), lists, block quotes.
_LINE_START = re.compile(r"^([#>+-])", re.MULTILINE)
_MASS_MENTION = re.compile(r"@(everyone|here)", re.IGNORECASE)
_ZWSP = "\u200b"


def _no_mass_mention(text: str) -> str:
    # allowed_mentions already stops the ping; the zero-width space stops the highlight too.
    return _MASS_MENTION.sub(lambda m: "@" + _ZWSP + m.group(1), text)


def escape(text: str) -> str:
    """Text from an article, safe in Discord markdown: no formatting, links or mentions."""
    text = _INLINE.sub(r"\\\1", " ".join(text.split()))
    return _no_mass_mention(_LINE_START.sub(r"\\\1", text))


def plain(text: str) -> str:
    """Text for places Discord shows without markdown (author, footer): mentions neutralised."""
    return _no_mass_mention(" ".join(text.split())).replace("<", "<" + _ZWSP)


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = grapheme_prefix(text, limit - 1)  # never half a character (a flag, an accent)
    # Never end on a lone backslash: it would escape the ellipsis and look broken.
    while cut.endswith("\\") and not cut.endswith("\\\\"):
        cut = cut[:-1]
    return cut.rstrip() + "…"


def _http_url(url: str | None, limit: int = LINK_URL_CHARS) -> str | None:
    """An http(s) URL of at most ``limit`` characters, or None: embeds and masked links
    reject (or mis-render) anything else, and a link is never cut, so a longer URL would
    crowd out the text around it (a masked link in a field of 1024)."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return None
    # Masked links end at ")" or whitespace; percent-encode those so the link stays whole.
    quoted = quote(url.strip(), safe=":/?#[]@!$&'*+,;=%~")
    return quoted if len(quoted) <= limit else None


def _link(label: str, url: str | None) -> str:
    return _linked(escape(label), url)


def _linked(text: str, url: str | None) -> str:
    """``text`` (already escaped) as a masked link when ``url`` is a web URL."""
    target = _http_url(url)
    return f"[{text}]({target})" if target else text


def _name(name: str) -> str:
    """A source's or author's name, cut to NAME_CHARS (not escaped)."""
    return short_name(name, _cut)


def _date(value: datetime | None) -> str | None:
    return value.strftime("%d %b %Y") if value else None


def _color(tag: str) -> int:
    # Stable per tag across runs and processes (hash() is salted per process).
    return zlib.crc32(tag.encode()) & 0xFFFFFF


def _item_embed(tag: str, item: DigestItem) -> dict:
    a = item.article
    lines = [escape(s) for s in a.summary] or ["*(no summary)*"]
    if (item.also or item.update) and item.sentences:  # credit each sentence
        lines = [
            f"{escape(c.text)} — *{escape(_name(item.source_of(c).source or 'another source'))}*"
            for c in item.sentences
        ]
    if a.tags:
        lines.append(" ".join(f"`#{t.replace('`', '')}`" for t in a.tags[:SHOWN_TAGS]))
    embed: dict = {
        "author": {"name": _cut(plain(f"#{tag}"), MAX_AUTHOR)},
        "title": _cut(
            ("Update: " if item.update else "") + (escape(a.title) or "(untitled)"), MAX_TITLE
        ),
        "description": _cut("\n".join(lines), _ITEM_DESCRIPTION),
        "color": _color(tag),
    }
    if url := _http_url(a.url, MAX_URL):  # not in the 6000: up to Discord's own limit
        embed["url"] = url
    names = [_name(p) for p in (a.source, a.author) if p]
    byline = " · ".join(p for p in (*names, _date(a.published)) if p)
    if byline:
        embed["footer"] = {"text": _cut(plain(byline), MAX_FOOTER)}
    fields = []
    if item.update and item.earlier:
        # The sender makes this a jump link to the earlier message (bot/platforms/discord/webhook.py).
        fields.append({"name": "Earlier", "value": earlier_ref(item.earlier), "inline": False})
    if item.also or item.copy_sources:  # several sources; a copy's has no link of its own
        # Each source once, however many articles it ran; whole links, the rest counted.
        names = [_source_entry(name, url) for name, url in story_sources(item)]
        embed["fields"] = fields + [
            {
                "name": sources_count(item),
                "value": fitted(names, MAX_FIELD_VALUE),
                "inline": False,
            }
        ]
    elif fields:
        embed["fields"] = fields
    return embed


def _source_entry(name: str, url: str | None) -> str:
    """A source in a story's list (:func:`bot.render.source_entry`), its name escaped."""
    return source_entry(escape(_name(name)), url, link=_linked, limit=_SOURCE_ENTRY_CHARS)


def _feedback_buttons(tag: str, item: DigestItem, correctable: frozenset[str] | None) -> list[dict]:
    """ "Not #topic" and "More like this" for a story (bot/topic_feedback.py), named by its
    headline: a message's buttons sit under all of its embeds."""
    a = item.article
    topic = feedback_topic(a, tag, correctable)
    if not topic:  # the "other" section, or only a source's tags: no topic to correct
        return []
    value = button_value(a.id, topic)
    headline = plain(a.title) or "(untitled)"
    return [
        {
            "type": BUTTON,
            "style": SECONDARY,
            "label": _cut(f"Not #{topic}: {headline}", MAX_LABEL),
            "custom_id": f"{NOT_ACTION}:{value}",
        },
        {
            "type": BUTTON,
            "style": SECONDARY,
            "label": _cut(f"More like this: {headline}", MAX_LABEL),
            "custom_id": f"{MORE_ACTION}:{value}",
        },
    ]


def earlier_ref(message_id: str) -> str:
    """How an update names the earlier message of its story (the sender links it)."""
    return f"story first posted in message {plain(message_id)}"


def embed_size(embed: dict) -> int:
    """Characters Discord counts toward the 6000 total: title, description, fields, footer, author."""
    size = len(embed.get("title", "")) + len(embed.get("description", ""))
    size += len(embed.get("footer", {}).get("text", ""))
    size += len(embed.get("author", {}).get("name", ""))
    size += sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))
    return size


def _pack(embeds: Sequence[dict]) -> list[list[dict]]:
    """Embeds grouped into messages: ≤ 10 per message and ≤ 6000 characters together."""
    groups: list[list[dict]] = []
    current: list[dict] = []
    used = 0
    for embed in embeds:
        size = embed_size(embed)
        if current and (len(current) == MAX_EMBEDS or used + size > MAX_EMBED_TOTAL):
            groups.append(current)
            current, used = [], 0
        current.append(embed)
        used += size
    if current:
        groups.append(current)
    return groups


_PART_LINE = "-# part "  # a rendered part's last line; the sender puts the digest key in it
_KEY_ROOM = 80  # characters kept free in the content for that key


def with_key(payload: dict, key: str) -> dict:
    """``payload`` as posted: its part line (``-# part 2/3``) names the outbox ``key`` too,
    the marker by which the webhook sender reconciles an unknown outcome."""
    content = str(payload.get("content") or "")
    head, _, last = content.rpartition("\n")
    if not last.startswith(_PART_LINE):
        return payload
    marked = f"-# digest `{plain(key).replace('`', '')}` · part {last[len(_PART_LINE) :]}"
    return {**payload, "content": f"{head}\n{marked}" if head else marked}


def digest_parts(digest: Digest) -> list[RenderedPart]:
    """A digest as validated webhook messages, each with the ids of the articles it shows
    (no outbox key: the sender adds it with :func:`with_key`)."""
    if digest.empty:
        return []
    headline = (
        f"**News digest** — {digest_count(digest)}, "
        f"{digest.generated_at:%d %b %Y %H:%M %Z}".rstrip()
    )
    # Cut the tag list, never the marker line: the sender reconciles by it.
    tags = _cut(escape(", ".join(f"#{s.tag} ({len(s.items)})" for s in digest.sections)), 1000)
    items = [(s.tag, item) for s in digest.sections for item in s.items]
    embeds = [_item_embed(tag, item) for tag, item in items]
    feedback = {
        id(embed): _feedback_buttons(tag, item, digest.correctable)
        for embed, (tag, item) in zip(embeds, items, strict=True)
    }
    ids = {
        id(embed): (item.article.id, *(o.id for o in item.also))
        for embed, (_, item) in zip(embeds, items, strict=True)
    }
    if digest.more:  # last, where the digest ends: Discord shows a message's content above
        # its embeds, so the line is an embed of its own (our words: not escaped)
        embeds.append({"description": more_stories(digest.more, DISCORD_MORE), "color": _BLURPLE})
    groups = _pack(embeds)
    parts = []
    for i, group in enumerate(groups, start=1):
        lines = [headline, tags] if i == 1 else []
        lines.append(f"{_PART_LINE}{i}/{len(groups)}")
        message = {
            "content": _cut("\n".join(lines), MAX_CONTENT - _KEY_ROOM),
            "embeds": group,
            "allowed_mentions": NO_MENTIONS,
        }
        buttons = [b for e in group for b in feedback.get(id(e), [])]
        if buttons:  # two stories a row: 5 rows hold the 10 embeds' buttons
            message["components"] = [
                {"type": ACTION_ROW, "components": buttons[i : i + 4]}
                for i in range(0, len(buttons), 4)
            ]
        validate_message(message)
        parts.append(RenderedPart(message, tuple(a for e in group for a in ids.get(id(e), ()))))
    return parts


def validate_message(message: dict) -> None:
    """Raise DeliveryError (not retryable) if Discord would refuse ``message`` (its limits)."""
    content, embeds = message.get("content") or "", message.get("embeds") or []
    problems = []
    if not content.strip() and not embeds:
        problems.append("empty message")
    if len(content) > MAX_CONTENT:
        problems.append(f"content over {MAX_CONTENT} characters")
    if len(embeds) > MAX_EMBEDS:
        problems.append(f"more than {MAX_EMBEDS} embeds")
    if sum(embed_size(e) for e in embeds) > MAX_EMBED_TOTAL:
        problems.append(f"embeds over {MAX_EMBED_TOTAL} characters together")
    for n, e in enumerate(embeds, 1):
        limits = (
            ("title", len(e.get("title", "")), MAX_TITLE),
            ("description", len(e.get("description", "")), MAX_DESCRIPTION),
            ("footer", len((e.get("footer") or {}).get("text", "")), MAX_FOOTER),
            ("author", len((e.get("author") or {}).get("name", "")), MAX_AUTHOR),
            ("url", len(e.get("url") or ""), MAX_URL),
            ("fields", len(e.get("fields") or []), MAX_FIELDS),
        )
        problems += [f"embed {n} {what} over {top}" for what, size, top in limits if size > top]
        for f in e.get("fields") or []:
            if not 1 <= len(f.get("name", "")) <= MAX_FIELD_NAME:
                problems.append(f"embed {n} field name empty or over {MAX_FIELD_NAME}")
            if not 1 <= len(f.get("value", "")) <= MAX_FIELD_VALUE:
                problems.append(f"embed {n} field value empty or over {MAX_FIELD_VALUE}")
    rows = message.get("components") or []
    if len(rows) > MAX_ROWS or any(len(r.get("components") or []) > 5 for r in rows):
        problems.append(f"more than {MAX_ROWS} rows of at most 5 components")
    if problems:
        raise DeliveryError("Discord would refuse the message: " + "; ".join(problems))


def brief_message(brief: Brief) -> dict:
    """A brief as one message: cited sentences in an embed, sources as a field."""
    topic = escape(brief.topic)  # embed titles render markdown
    if not brief.sentences:
        tries = [f"`{s.replace('`', '')}`" for s in brief.suggestions]
        known = [f"`{s.replace('`', '')}`" for s in brief.known_topics]
        text = nothing_about(escape(brief.topic), tries, known)
        return {"content": _cut(text, MAX_CONTENT), "embeds": [], "allowed_mentions": NO_MENTIONS}
    numbers: dict[int, int] = {}
    for s in brief.sentences:
        numbers.setdefault(s.article_id, len(numbers) + 1)
    lines = []
    for s in brief.sentences:
        n = numbers[s.article_id]
        cite = f"[\\[{n}\\]]({url})" if (url := _http_url(s.url)) else f"\\[{n}\\]"
        lines.append(f"{escape(s.text)} {cite}")
    description = _fit_lines(lines, MAX_DESCRIPTION)
    sources = []
    titles = {s.article_id: s for s in brief.sentences}
    for article_id, n in numbers.items():
        s = titles[article_id]
        label = _cut(f"{_name(s.source)} — {s.title}" if s.source else s.title, 200)
        line = f"{n}. {_link(label, s.url)}"  # too long for the field: the label alone
        sources.append(line if len(line) <= MAX_FIELD_VALUE else f"{n}. {escape(label)}")
    embed: dict = {
        "title": _cut(f"Brief: {topic}", MAX_TITLE),
        "description": description,
        "color": _BLURPLE,
        "fields": [
            {"name": "Sources", "value": _fit_lines(sources, MAX_FIELD_VALUE), "inline": False}
        ],
        "footer": {
            "text": f"{counted(len(brief.sentences), 'sentence')} from {counted(len(numbers), 'source')}"
        },
    }
    return {"content": "", "embeds": [embed], "allowed_mentions": NO_MENTIONS}


def _fit_lines(lines: Sequence[str], limit: int) -> str:
    """Whole lines that fit in ``limit`` characters (a cut link would render as garbage)."""
    kept: list[str] = []
    used = 0
    for line in lines:
        extra = len(line) + (1 if kept else 0)
        if used + extra > limit:
            if not kept:  # even one line is too long: cut it, losing only its link
                kept.append(_cut(line, limit))
            break
        kept.append(line)
        used += extra
    return "\n".join(kept)
