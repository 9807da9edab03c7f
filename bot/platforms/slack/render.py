"""Slack Block Kit rendering: the only module that builds blocks (with slack_sdk.models.blocks).

Limits (from Slack's Block Kit reference): ≤ 50 blocks per message, section
text ≤ 3000 chars, header ≤ 150, context ≤ 10 elements, button value ≤ 2000, and a short
top-level ``text`` fallback (notifications, screen readers). Every piece of article or user
text goes through :func:`escape_mrkdwn` before it reaches a block.

The ``text`` of every message says what it holds in one plain line ("Topics: taiwan (3),
trade (1) and 6 more"), never a bare heading nor the blocks' markup: Slack shows it in
notifications and screen readers read it. It is still read as mrkdwn (a ``<!channel>`` in
it would ping), so what it quotes is escaped too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

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
from bot.topic_feedback import MORE_ACTION, NOT_ACTION, button_value, feedback_topic
from digests.errors import DeliveryError
from digests.models import Brief, Digest, DigestItem, StoredArticle

MAX_BLOCKS = 50  # Slack: "up to 50 blocks in each message"
SECTION_CHARS = 3000  # section text limit
HEADER_CHARS = 150  # header text limit
CONTEXT_ELEMENTS = 10  # context elements limit
BUTTON_VALUE_CHARS = 2000
# Slack documents no total size for blocks, but very large payloads are rejected
# (msg_too_long); a soft per-message budget keeps each part well clear of that.
MESSAGE_CHARS = 12000
FALLBACK_CHARS = 300  # the `text` fallback is cut past 40,000 chars: keep it short
EVENT_TYPE = "digestbot_digest"  # message metadata type: lets the sender find a sent part
SHARE_ACTION = "brief_share"
_SOURCE_ENTRY_CHARS = 400  # one source in a story's sources line, link included
TITLE_CHARS = 300  # a story's headline at most (escaped), so its summary always has room

_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")
# The markup our notices use, for their plain summary (summary()): an emoji code, *bold*,
# `code` (Slack's own rules: no space inside the marks, nothing across a line).
_EMOJI = re.compile(r":[a-z][a-z0-9_+-]*:\s*")
_BOLD = re.compile(r"\*(\S(?:[^*\n]*\S)?)\*")
_CODE = re.compile(r"`([^`\n]+)`")


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control sequences (&, <, >)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    # Never leave half an escape entity (``&am``) nor half a character (a flag) at the cut.
    return _PARTIAL_ENTITY.sub("", grapheme_prefix(text, limit - 1)) + "…"


def _plain(text: str, limit: int) -> str:
    # plain_text is not parsed as mrkdwn, so it needs no escaping, only a length cut.
    return _clip(" ".join(text.split()), limit)


def summary(text: str) -> str:
    """A notice's mrkdwn (escaped) as its ``text`` fallback: one line without its emoji
    codes, bold or code marks and bullets, at most FALLBACK_CHARS (still escaped)."""
    text = _CODE.sub(r"\1", _BOLD.sub(r"\1", _EMOJI.sub("", text)))
    lines = (line.strip().removeprefix("•").strip() for line in text.splitlines())
    return _clip(" ".join(" ".join(line.split()) for line in lines if line), FALLBACK_CHARS)


def _link(url: str | None, label: str) -> str:
    """``label`` (already escaped) as a mrkdwn link when ``url`` is a web URL of at most
    LINK_URL_CHARS (a longer one would crowd out the text around it: ``label`` alone)."""
    if not url or not url.startswith(("http://", "https://")):
        return label
    safe = escape_mrkdwn(url).replace("|", "%7C").replace(" ", "%20")
    return f"<{safe}|{label}>" if len(safe) <= LINK_URL_CHARS else label


def _name(name: str) -> str:
    """A source's or author's name, escaped, cut to NAME_CHARS (never inside an entity)."""
    return short_name(escape_mrkdwn(name), _clip)


def _date(value: datetime | None) -> str:
    return value.strftime("%d %b %Y") if value else "undated"


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=_clip(text, SECTION_CHARS)))


def _context(parts: Sequence[str]) -> list[Block]:
    """A context block of the non-empty ``parts``, or nothing: Slack needs 1–10 elements."""
    parts = [p for p in parts if p.strip()][:CONTEXT_ELEMENTS]
    if not parts:
        return []
    return [
        ContextBlock(elements=[MarkdownTextObject(text=_clip(p, SECTION_CHARS)) for p in parts])
    ]


def _dicts(blocks: Iterable[Block]) -> list[dict]:
    return [b.to_dict() for b in blocks]  # to_dict() runs slack_sdk's limit validators


# -- briefs -----------------------------------------------------------------------------------


def brief_message(brief: Brief, *, shareable: bool = True, shared_by: str | None = None) -> dict:
    """A brief as one message: cited sentences, a sources line, and a "Share to channel" button."""
    topic = escape_mrkdwn(brief.topic)
    if not brief.sentences:
        text = nothing_about(
            topic,
            [escape_mrkdwn(s) for s in brief.suggestions],
            [escape_mrkdwn(s) for s in brief.known_topics],
        )
        return {"text": _clip(text, FALLBACK_CHARS), "blocks": _dicts([_section(text)])}
    index = {a.id: i for i, a in enumerate(brief.articles, 1)}
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=_plain(f"Brief: {brief.topic}", HEADER_CHARS)))
    ]
    lines = [
        f"{escape_mrkdwn(s.text)} {_link(s.url, f'[{index[s.article_id]}]')}"
        for s in brief.sentences
    ]
    blocks.extend(_section(chunk) for chunk in _pack(lines, SECTION_CHARS))
    sources = [
        f"[{index[a.id]}] {_link(a.url, escape_mrkdwn(_clip(a.title, 200)))} — "
        f"{_name(a.source or 'unknown source')}, {_date(a.published)}"
        for a in brief.articles
    ]
    blocks.extend(_context(sources))
    if shared_by:
        blocks.extend(_context([f"Shared by <@{escape_mrkdwn(shared_by)}> with /brief"]))
    if shareable and len(brief.topic) <= BUTTON_VALUE_CHARS:
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(
                        text="Share to channel", action_id=SHARE_ACTION, value=brief.topic
                    )
                ]
            )
        )
    n = len(brief.articles)
    k = len(brief.sentences)
    fallback = f"Brief: {topic} — {k} sentence{'s' * (k != 1)} from {n} source{'s' * (n != 1)}"
    return {"text": _clip(fallback, FALLBACK_CHARS), "blocks": _dicts(blocks)}


def _pack(lines: Sequence[str], limit: int) -> list[str]:
    """Join lines into as few chunks of at most ``limit`` chars as possible."""
    chunks: list[str] = []
    for line in lines:
        line = _clip(line, limit)
        if chunks and len(chunks[-1]) + 1 + len(line) <= limit:
            chunks[-1] += "\n" + line
        else:
            chunks.append(line)
    return chunks


def text_message(text: str, *, fallback: str | None = None) -> dict:
    """A notice (help, errors, confirmations); ``text`` must already be escaped. Its ``text``
    fallback: ``fallback`` (plain, escaped), else :func:`summary` of ``text``."""
    plain = _clip(fallback, FALLBACK_CHARS) if fallback else summary(text)
    return {"text": plain, "blocks": _dicts([_section(text)])}


def lines_message(head: str, lines: Sequence[str], *, noun: str, fallback: str) -> dict:
    """A list (``/brief topics``): ``head``, then whole ``lines`` packed into sections of at
    most SECTION_CHARS, as many as fit in MESSAGE_CHARS; the rest counted (``… and 120 more
    topics``), never a line cut. ``head`` and ``lines`` must already be escaped; so must
    ``fallback``, the plain line that says what the list holds (cut to FALLBACK_CHARS)."""
    shown = whole_lines([head, *lines], MESSAGE_CHARS, noun=noun)
    return {
        "text": _clip(fallback, FALLBACK_CHARS),
        "blocks": _dicts(map(_section, _pack(shown, SECTION_CHARS))),
    }


def listed(label: str, entries: Sequence[str]) -> str:
    """``label: a, b and 3 more``: whole ``entries`` (escaped) within FALLBACK_CHARS."""
    head = f"{label}: "
    return head + fitted(entries, FALLBACK_CHARS - len(head))


# -- digests ----------------------------------------------------------------------------------


def _feedback_block(
    article: StoredArticle, tag: str | None, correctable: frozenset[str] | None
) -> list[Block]:
    """ "Not #topic" and "More like this" for a story filed under a topic (bot/topic_feedback)."""
    topic = feedback_topic(article, tag, correctable)
    if not topic:  # the "other" section, or only a source's tags: no topic to correct
        return []
    value = button_value(article.id, topic)
    return [
        ActionsBlock(
            elements=[
                ButtonElement(text=_plain(f"Not #{topic}", 75), action_id=NOT_ACTION, value=value),
                ButtonElement(text="More like this", action_id=MORE_ACTION, value=value),
            ]
        )
    ]


def _item_blocks(
    item: DigestItem, tag: str | None = None, correctable: frozenset[str] | None = None
) -> list[Block]:
    """A story: its section (headline, byline, summary), sources and tags, buttons.

    The headline (TITLE_CHARS, its link only when the URL is at most LINK_URL_CHARS) and the
    byline (a name of NAME_CHARS) are bounded, so only the summary is ever cut, to the room
    they leave: the section never ends inside ``<https://…`` nor loses its summary."""
    a: StoredArticle = item.article
    label = _clip(escape_mrkdwn(" ".join(a.title.split()) or "(untitled)"), TITLE_CHARS)
    title = f"*{_link(a.url, label)}*"
    if item.update:
        title = f"Update: {title}"
    byline = f"{_name(a.source or 'unknown source')} · {_date(a.published)}"
    summary = escape_mrkdwn(" ".join(a.summary))
    if (item.also or item.update) and item.sentences:  # credit each sentence
        summary = " ".join(
            f"{escape_mrkdwn(c.text)} _({_name(_source_name(item.source_of(c)))})_"
            for c in item.sentences
        )
    head = f"{title}\n{byline}"
    summary = _clip(summary, SECTION_CHARS - len(head) - 1)
    context = [" ".join(f"#{escape_mrkdwn(t)}" for t in a.tags[:SHOWN_TAGS])]
    if item.also or item.copy_sources:  # several sources; a copy's has no link of its own
        # Each source once, however many articles it ran; whole links, the rest counted.
        names = [_source_entry(name, url) for name, url in story_sources(item)]
        count = f"{sources_count(item)}: "
        context.append(count + fitted(names, SECTION_CHARS - len(count)))
    return [
        _section(f"{head}\n{summary}".rstrip()),
        *_context(context),
        *_feedback_block(a, tag, correctable),
    ]


def _source_entry(name: str, url: str | None) -> str:
    """A source in a story's list (:func:`bot.render.source_entry`), its name escaped."""
    return source_entry(
        _name(name), url, link=lambda label, u: _link(u, label), limit=_SOURCE_ENTRY_CHARS
    )


def _source_name(article: StoredArticle) -> str:
    return article.source or article.title or "unknown source"


def _size(blocks: Sequence[dict]) -> int:
    return sum(len(str(b)) for b in blocks)


def digest_parts(digest: Digest) -> list[RenderedPart]:
    """A digest as validated messages, each with the ids of the articles it shows (no outbox
    key: the sender adds it with :func:`with_key`)."""
    if digest.empty:
        return []
    # Units are kept whole: a tag header travels with its first item, an item's blocks together.
    units: list[tuple[list[dict], tuple[int, ...]]] = []
    for section in digest.sections:
        header = HeaderBlock(
            text=PlainTextObject(
                text=_plain(f"#{section.tag} ({len(section.items)})", HEADER_CHARS)
            )
        )
        for i, item in enumerate(section.items):
            blocks = _item_blocks(item, section.tag, digest.correctable)
            ids = (item.article.id, *(o.id for o in item.also))
            units.append((_dicts(([DividerBlock(), header] if i == 0 else []) + blocks), ids))
    if digest.more:
        units.append((_dicts([_section(more_stories(digest.more, CHAT_MORE))]), ()))
    title = f"News digest — {digest_count(digest)}, {digest.generated_at:%d %b %Y}"
    parts: list[tuple[list[dict], list[int]]] = [([], [])]
    budget = MAX_BLOCKS - 1  # room for each part's own header
    for unit, ids in units:
        current = parts[-1][0]
        if current and (
            len(current) + len(unit) > budget or _size(current) + _size(unit) > MESSAGE_CHARS
        ):
            parts.append(([], []))
        parts[-1][0].extend(unit)
        parts[-1][1].extend(ids)
    total = len(parts)
    out = []
    for i, (part_blocks, part_ids) in enumerate(parts):
        label = title if total == 1 else f"{title} ({i + 1}/{total})"
        head = HeaderBlock(text=PlainTextObject(text=_plain(label, HEADER_CHARS))).to_dict()
        if part_blocks and part_blocks[0].get("type") == "divider":
            part_blocks = part_blocks[1:]
        message = {"text": _clip(label, FALLBACK_CHARS), "blocks": [head, *part_blocks]}
        validate_message(message)
        out.append(RenderedPart(message, tuple(part_ids)))
    return out


def thread_parts(digest: Digest) -> list[RenderedPart]:
    """A digest as a thread: one headline (date, topics, story count), then the stories as
    replies (:func:`digest_parts`; queued under ``{key}:thread``), so the channel sees one
    message."""
    if digest.empty:
        return []
    tags = [section.tag for section in digest.sections]
    shown = ", ".join(f"#{escape_mrkdwn(t)}" for t in tags[:20])
    if len(tags) > 20:
        shown += f" and {len(tags) - 20} more"
    label = f"News digest — {digest.generated_at:%d %b %Y}"
    summary = f"*{digest_count(digest)}* · {shown or 'all topics'}"
    message = {
        "text": _clip(f"{label}: {digest_count(digest)}", FALLBACK_CHARS),
        "blocks": _dicts(
            [
                HeaderBlock(text=PlainTextObject(text=_plain(label, HEADER_CHARS))),
                _section(summary),
                *_context(["The stories are in the thread below."]),
            ]
        ),
    }
    validate_message(message)
    head = RenderedPart(message, (), thread_head=True)
    return [head, *digest_parts(digest)]


def with_key(payload: dict, key: str, part: int) -> dict:
    """``payload`` as posted: message metadata naming its outbox key and part, by which the
    sender finds a message whose send had an unknown outcome."""
    event = {"event_type": EVENT_TYPE, "event_payload": {"digest_key": key, "part": part}}
    return {**payload, "metadata": event}


def update_parts(digest: Digest) -> list[RenderedPart]:
    """A developing story's update as one message (a reply in the earlier story's thread):
    the item's blocks, "Update:" before its title, only the new sentences (no outbox key:
    the sender adds it with :func:`with_key`)."""
    items = [(section.tag, item) for section in digest.sections for item in section.items]
    if not items:
        return []
    blocks = [b for tag, item in items for b in _item_blocks(item, tag, digest.correctable)]
    blocks = blocks[:MAX_BLOCKS]
    title = " ".join(items[0][1].article.title.split()) or "(untitled)"
    label = f"Update: {escape_mrkdwn(title)}"  # `text` is mrkdwn too: a <!channel> would ping
    message = {"text": _clip(label, FALLBACK_CHARS), "blocks": _dicts(blocks)}
    validate_message(message)
    return [RenderedPart(message, ())]


# -- validation -------------------------------------------------------------------------------

_TEXT_LIMITS = {"header": HEADER_CHARS, "section": SECTION_CHARS}


def validate_message(message: dict) -> None:
    """Raise DeliveryError (not retryable) if Slack would refuse ``message`` (``invalid_blocks``).

    slack_sdk's models check element limits when serialized (``to_dict()``) but not the
    50-block limit, nor the minimums Slack enforces (a context needs 1–10 elements, text
    objects cannot be empty), so those are checked here too.
    """
    text, blocks = message.get("text"), message.get("blocks")
    if not (isinstance(text, str) and text.strip()) and not blocks:
        raise DeliveryError("Slack would refuse the message: no text and no blocks (no_text)")
    if isinstance(text, str) and len(text) > 40_000:
        raise DeliveryError("Slack would refuse the message: text over 40,000 characters")
    if blocks is None:
        return
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        raise DeliveryError(f"Slack would refuse the message: more than {MAX_BLOCKS} blocks")
    for n, raw in enumerate(blocks, 1):
        problem = _block_problem(raw)
        if problem:
            raise DeliveryError(f"Slack would refuse the message: block {n} {problem}")
    meta = message.get("metadata")
    if meta is not None and not (
        isinstance(meta, dict)
        and isinstance(meta.get("event_type"), str)
        and isinstance(meta.get("event_payload"), dict)
    ):
        raise DeliveryError("Slack would refuse the message: malformed metadata")


def _block_problem(raw: object) -> str | None:
    if not isinstance(raw, dict):
        return "is not an object"
    kind = raw.get("type")
    block = Block.parse(raw)
    if block is None or kind is None:
        return f"has an unknown type {kind!r}"
    try:
        block.to_dict()  # slack_sdk's validators: element and length limits
    except SlackObjectFormationError as exc:
        return f"({kind}): {exc}"
    if kind == "context":
        elements = raw.get("elements") or []
        if not 1 <= len(elements) <= CONTEXT_ELEMENTS:
            return f"(context): needs 1–{CONTEXT_ELEMENTS} elements, has {len(elements)}"
        if any(not str((e or {}).get("text", "x")).strip() for e in elements):
            return "(context): an element has empty text"
    if kind in _TEXT_LIMITS:
        body = str((raw.get("text") or {}).get("text") or "")
        if kind == "header" and not body.strip():
            return "(header): empty text"
        if kind == "section" and not body.strip() and not raw.get("fields"):
            return "(section): empty text"
        if len(body) > _TEXT_LIMITS[kind]:
            return f"({kind}): text over {_TEXT_LIMITS[kind]} characters"
    block_id = raw.get("block_id")
    if block_id is not None and len(str(block_id)) > 255:
        return "has a block_id over 255 characters"
    return None
