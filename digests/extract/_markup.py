"""The Markdown and JSON paths: lightweight formats whose structure we can read directly."""

from __future__ import annotations

import bisect
import html as html_lib
import json
import re
from collections.abc import Mapping

from digests.errors import InputError, invalid_json
from digests.extract import _html
from digests.extract._dates import coerce_date
from digests.extract._fields import Fields

_FRONT_MATTER = re.compile(r"\A---\s*\n(?P<meta>.*?)\n(?:---|\.\.\.)\s*(?:\n|\Z)", re.S)
_ATX = re.compile(r"^\s{0,3}(#{1,6})\s+(?P<text>.*?)\s*#*\s*$")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_LIST = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
# Each pattern costs time linear in the line, however hostile (one Markdown line may be
# megabytes): a span never runs past the next opening bracket, so an unclosed "[" or "<"
# scans only to the next one instead of to the end of the line for every one of them
# ("[" * 20,000 took 4.5 s, and a 5 MB line hours). Single emphasis, whose closing rule no such
# class can express, is matched by _emphasis (then ~~strikethrough~~).
_INLINE = [
    (re.compile(r"!\[[^\[\]]*\]\([^)\[]*\)"), ""),  # images
    (re.compile(r"\[([^\[\]]+)\]\([^)\[]*\)"), r"\1"),  # inline links
    (re.compile(r"\[([^\[\]]+)\]\[[^\[\]]*\]"), r"\1"),  # reference links
    (re.compile(r"<[^<>]+>"), ""),  # inline HTML
    (re.compile(r"`([^`]*)`"), r"\1"),
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),
]
_STRIKE = re.compile(r"~~(.+?)~~")
# Single emphasis, *a* or _a_: an opener not after a word character or "*" and not before a
# space; its span ends at the first closer of the same character (not after a space, not
# before a word character or "*"), at least one character on. As one regex
# ((?<![\w*])([*_])(?!\s)(.+?)(?<!\s)\1(?![\w*])), every unclosed opener scanned the rest
# of the line: '*a **a ' * 20,000 (140 KB) took 40 s.
_OPENER = re.compile(r"(?<![\w*])[*_](?!\s)")
_CLOSER = re.compile(r"(?<!\s)[*_](?![\w*])")
_REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+\S+")
# Where a JSON article keeps its text and its title, first found wins: the names feeds and
# most exports use, then those of news data sets (BBC, CNN/DailyMail: "article") and
# scrapers ("content", "headline"). `summarize --plain` reads the same keys.
# "description" last: NewsAPI's articles often have "content": null and their text there.
_TEXT_KEYS = ("text", "body", "article", "content", "description")
NO_TEXT = 'the JSON object has no text (no "text", "body", "article", "content" or "description")'
# NewsAPI cuts "content" and says how much it left out: "… [+2893 chars]".
_CUT_MARK = re.compile(r"\s*…?\s*\[\+\d+ chars\]\s*$")
_TITLE_KEYS = ("title", "headline")
# NewsAPI's articles give "publishedAt" and "source": {"name": …}.
_DATE_KEYS = ("published", "date", "publishedAt", "published_at")


def markdown_fields(text: str, *, locator: str) -> Fields:
    """Body and metadata of a Markdown document (front matter and first heading)."""
    meta: dict[str, str] = {}
    match = _FRONT_MATTER.match(text)
    if match:
        for line in match.group("meta").splitlines():
            key, sep, value = line.partition(":")
            if sep and value.strip():
                meta[key.strip().lower()] = value.strip().strip("\"'")
        text = text[match.end() :]
    title = meta.get("title", "")
    paragraphs: list[str] = []
    current: list[str] = []
    in_fence = False
    lines = text.splitlines()

    def flush() -> None:
        if current:
            paragraphs.append(" ".join(" ".join(current).split()))
            current.clear()

    for n, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
            flush()
            continue
        if in_fence:
            current.append(line)
            continue
        heading = _ATX.match(line)
        nxt = lines[n + 1] if n + 1 < len(lines) else ""
        if heading or (line.strip() and _SETEXT.match(nxt) and not current):
            flush()
            head = _inline(heading.group("text") if heading else line.strip())
            if not title:
                title = head  # the first heading names the document; later ones stay
            elif head:
                paragraphs.append(head)
            continue
        if not line.strip() or _SETEXT.match(line) or _RULE.match(line) or _REF_DEF.match(line):
            flush()
            continue
        if _LIST.match(line):
            flush()
        current.append(_inline(_LIST.sub("", line.lstrip("> ").rstrip())))
    flush()
    # A heading alone is a one-sentence story: its own text, as an HTML page's <h1> alone.
    body = "\n\n".join(p for p in paragraphs if p) or _headline(title)
    if not body:
        raise InputError(f"{locator}: the Markdown document has no text")
    tags = tuple(t.strip() for t in meta.get("tags", "").strip("[]").split(",") if t.strip())
    return Fields(
        title=title,
        body=body,
        author=meta.get("author") or None,
        published=coerce_date(meta.get("date") or meta.get("published")),
        source=meta.get("source") or None,
        url=meta.get("url") or None,
        tags=tuple(t.strip("\"'") for t in tags),
    )


def _inline(text: str) -> str:
    for pattern, repl in _INLINE:
        text = pattern.sub(repl, text)
    text = _STRIKE.sub(r"\1", _emphasis(text))
    return html_lib.unescape(text).strip()


def _emphasis(text: str) -> str:
    """``text`` with single emphasis marks removed (see _OPENER), in one pass: each opener
    finds its closer by bisection in the list of closers of its character."""
    if "*" not in text and "_" not in text:
        return text
    closers: dict[str, list[int]] = {"*": [], "_": []}
    for m in _CLOSER.finditer(text):
        closers[m.group()].append(m.start())
    out: list[str] = []
    done = 0  # text[:done] is in ``out``
    for m in _OPENER.finditer(text):
        start = m.start()
        if start < done:
            continue  # inside the span just removed
        found = closers[m.group()]
        at = bisect.bisect_left(found, start + 2)
        if at == len(found):
            continue
        end = found[at]
        out += (text[done:start], text[start + 1 : end])
        done = end + 1
    out.append(text[done:])
    return "".join(out)


def json_fields(text: str, *, locator: str, url: str | None) -> Fields:
    """Body and metadata of a JSON article object; a whole HTML page in it goes through
    trafilatura, an HTML fragment (a feed's description) is taken whole, as text."""
    try:
        data = parse_json(text)
    except InputError as exc:
        raise InputError(f"{locator}: {exc}") from exc
    if not isinstance(data, dict):
        raise InputError(f"{locator}: expected a JSON object with title and text")
    raw_body = json_body(data)
    if not raw_body:
        raise InputError(f"{locator}: {NO_TEXT}")
    raw_body = _CUT_MARK.sub("", raw_body)
    page_url = _str(data.get("url")) or url
    if _html.looks_like_html(raw_body) and _html.is_fragment(raw_body):
        body = _html.fragment_text(raw_body)  # a feed's description: all of it is the article
        if not body:
            raise InputError(f"{locator}: the JSON object's text has no words")
    elif _html.looks_like_html(raw_body):
        body = _html.extract_fields(raw_body, locator=locator, url=page_url).body
    else:
        paragraphs = re.split(r"\n\s*\n", raw_body.replace("\r\n", "\n"))
        body = "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())
    raw_tags = data.get("tags")
    tags: tuple[str, ...] = ()
    if isinstance(raw_tags, list):
        tags = tuple(str(t).strip() for t in raw_tags if str(t).strip())
    elif isinstance(raw_tags, str):
        tags = tuple(t.strip() for t in raw_tags.split(",") if t.strip())
    return Fields(
        title=_str(json_title(data)) or "",
        body=body,
        author=_str(data.get("author")),
        published=coerce_date(_first(data, _DATE_KEYS)),
        source=_str(
            source.get("name") if isinstance(source := data.get("source"), dict) else source
        ),
        url=page_url,
        tags=tags,
    )


def parse_json(text: str) -> object:
    """``json.loads(text)``; every way a text fails as JSON is an InputError of one line.

    Besides syntax errors, the parser raises RecursionError on nesting deeper than Python's
    recursion limit (``[[[[...``) and ValueError on an integer of more digits than
    ``sys.get_int_max_str_digits()``: those are the input's fault too, not a bug.
    """
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise InputError(invalid_json(exc)) from exc


def _str(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def json_text(data: Mapping[str, object]) -> str | None:
    """A JSON article's text as given: the first of :data:`_TEXT_KEYS` holding words."""
    return _first(data, _TEXT_KEYS)


def json_body(data: Mapping[str, object]) -> str | None:
    """What a JSON article is made of: its text, else a title that is a sentence of its own
    (a story told in its headline alone, as an HTML page's <h1> alone)."""
    return json_text(data) or _headline(json_title(data) or "")


def _headline(title: str) -> str:
    """``title`` when it can stand as a story's text (:data:`MIN_WORDS` words), else ``""``."""
    return title if len(title.split()) >= _html.MIN_WORDS else ""


def json_title(data: Mapping[str, object]) -> str | None:
    """A JSON article's title as given: the first of :data:`_TITLE_KEYS` holding words."""
    return _first(data, _TITLE_KEYS)


def _first(data: Mapping[str, object], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None
