"""The extract stage: a RawDocument's bytes to a clean Article (body plus metadata).

One entry point, :func:`extract`. Each kind has its own path: ``txt`` page text dumps go
through a learned block classifier (``_classify``), ``html`` through trafilatura, ``md`` and
``json`` are read directly. What the document itself says wins; ``raw.hints`` (from a feed,
say) fill the gaps.
"""

from __future__ import annotations

import re
from typing import overload

from digests.errors import InputError
from digests.extract import _html, _markup, _meta, _text
from digests.extract._dates import coerce_date, date_in_locator
from digests.extract._decode import decode
from digests.extract._fields import Fields
from digests.extract._html import MIN_WORDS
from digests.extract._markup import NO_TEXT, json_body, json_text, json_title, parse_json
from digests.models import Article, RawDocument
from digests.sentences import split_sentences

__all__ = [
    "MIN_WORDS",
    "NO_TEXT",
    "extract",
    "json_body",
    "json_text",
    "json_title",
    "parse_json",
]

_TITLE_MAX = 150
# What a document may give as its title, author or source: a headline, a name. A 4 MB JSON
# "title" took 780 MB to ingest (each stage tokenizes the title: stories, tags, the index)
# and would be posted whole; past this it is cut at a word boundary.
_FIELD_MAX = 300
# What no database can store as text, though a JSON escape (\u0000, a lone \ud800) or a
# feed's metadata can carry it: PostgreSQL refuses NUL, and a lone surrogate cannot be encoded
# as UTF-8 by either store. NUL is dropped, a lone surrogate becomes U+FFFD.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def extract(raw: RawDocument) -> Article:
    """Clean ``raw`` into an Article; raise InputError when it holds no usable article."""
    kind = raw.kind.lower().lstrip(".")
    text = decode(raw.content, raw.locator)
    url = raw.url or _text.hint_str(raw.hints, "url")
    if kind == "txt":
        fields = _text.extract_fields(text, locator=raw.locator, url=url)
    elif kind in ("html", "htm"):
        fields = _html.extract_fields(text, locator=raw.locator, url=url)
    elif kind in ("md", "markdown"):
        fields = _markup.markdown_fields(text, locator=raw.locator)
    elif kind == "json":
        fields = _markup.json_fields(text, locator=raw.locator, url=url)
    else:
        raise InputError(f"{raw.locator}: unsupported document kind {raw.kind!r}")
    return _article(raw, fields, url)


def _article(raw: RawDocument, found: Fields, url: str | None) -> Article:
    hints = raw.hints
    body = _storable(found.body)
    if not body.strip():
        raise InputError(f"{raw.locator}: the document has no text")
    title = found.title or _text.hint_str(hints, "title") or _first_sentence(body)
    hint_tags = hints.get("tags")
    tags = found.tags or (
        tuple(str(t).strip() for t in hint_tags if str(t).strip())
        if isinstance(hint_tags, list | tuple)
        else ()
    )
    return Article(
        title=_storable(_clipped(title)),
        body=body,
        source=_storable(
            _clipped(found.source or _text.hint_str(hints, "source") or _meta.host_name(url))
        ),
        author=_storable(_clipped(found.author or _text.hint_str(hints, "author"))),
        published=(
            found.published
            or coerce_date(hints.get("published"))
            or date_in_locator(raw.url or raw.locator)
        ),
        url=_storable(found.url or url),
        page_tags=tuple(dict.fromkeys(t for t in map(_storable, tags) if t)),
        locator=raw.locator,
    )


@overload
def _storable(text: str) -> str: ...
@overload
def _storable(text: None) -> None: ...
def _storable(text: str | None) -> str | None:
    """``text`` without what no store can hold (``_UNSTORABLE``)."""
    if text is None or not _UNSTORABLE.search(text):
        return text
    return _UNSTORABLE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", text)


@overload
def _clipped(text: str, limit: int = ...) -> str: ...
@overload
def _clipped(text: None, limit: int = ...) -> None: ...
def _clipped(text: str | None, limit: int = _FIELD_MAX) -> str | None:
    """``text`` cut at a word boundary to at most ``limit`` characters (and "…")."""
    if text is None or len(text) <= limit:
        return text
    return re.sub(r"\s+\S*$", "", text[:limit]) + "…"


def _first_sentence(body: str) -> str:
    """A title for a page without one: its first sentence, shortened at a word boundary."""
    sentences = split_sentences(body.split("\n\n", 1)[0])
    first = sentences[0] if sentences else body
    if len(first) <= _TITLE_MAX:
        return first.rstrip(".")
    return _clipped(first, _TITLE_MAX)
