"""The extract stage: a RawDocument's bytes to a clean Article (body plus metadata).

One entry point, :func:`extract`. Each kind has its own path: ``txt`` page text dumps go
through a learned block classifier (``_classify``), ``html`` through trafilatura, ``md`` and
``json`` are read directly. What the document itself says wins; ``raw.hints`` (from a feed,
say) fill the gaps.
"""

from __future__ import annotations

import re

from digests.errors import InputError
from digests.extract import _html, _markup, _meta, _text
from digests.extract._dates import coerce_date
from digests.extract._decode import decode
from digests.extract._fields import Fields
from digests.models import Article, RawDocument
from digests.sentences import split_sentences

__all__ = ["extract"]

_TITLE_MAX = 150


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
    title = found.title or _text.hint_str(hints, "title") or _first_sentence(found.body)
    hint_tags = hints.get("tags")
    tags = found.tags or (
        tuple(str(t).strip() for t in hint_tags if str(t).strip())
        if isinstance(hint_tags, list | tuple)
        else ()
    )
    return Article(
        title=title,
        body=found.body,
        source=found.source or _text.hint_str(hints, "source") or _meta.host_name(url),
        author=found.author or _text.hint_str(hints, "author"),
        published=found.published or coerce_date(hints.get("published")),
        url=found.url or url,
        page_tags=tuple(dict.fromkeys(tags)),
        locator=raw.locator,
    )


def _first_sentence(body: str) -> str:
    """A title for a page without one: its first sentence, shortened at a word boundary."""
    sentences = split_sentences(body.split("\n\n", 1)[0])
    first = sentences[0] if sentences else body
    if len(first) <= _TITLE_MAX:
        return first.rstrip(".")
    return re.sub(r"\s+\S*$", "", first[:_TITLE_MAX]) + "…"
