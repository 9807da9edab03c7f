"""The text-dump path: blocks, classify, then trim the header and find the metadata."""

from __future__ import annotations

import re
from collections.abc import Mapping

from digests.errors import InputError
from digests.extract import _meta, _trim
from digests.extract._blocks import Block, split_blocks
from digests.extract._classify import BlockModel, article_blocks
from digests.extract._features import STOP_WORDS
from digests.extract._fields import Fields

# How far into the kept blocks a byline or date may sit and still mark the body's start:
# anything kept before it is the header (kicker, deck, share bar), not the article.
_HEADER_REACH = 4
_MIN_CONTAINED_WORDS = 8
_MIN_HEADLINE_WORDS = 4  # a page that is one headline-sentence long is still an article
_MIN_PROSE_WORDS = 8
_SENTENCE_END = re.compile(r"""[.!?…]["”’)]?(?:\s|$)""")


def extract_fields(
    text: str, *, locator: str, url: str | None, model: BlockModel | None = None
) -> Fields:
    """Body and metadata of a browser-style page text dump (``model``: for training only)."""
    blocks = split_blocks(text)
    if not blocks:
        raise InputError(f"{locator}: no text found in the page")
    # One or two blocks have no page around them for the classifier to judge by (it dropped
    # the story of "headline, blank line, story" files and kept their headline).
    kept = (len(blocks) <= 2 and _news_flash(blocks)) or article_blocks(blocks, model)
    kept = kept or _news_flash(blocks)
    if not kept:
        raise InputError(f"{locator}: no article text found in the page")
    first, last = kept[0], kept[-1]
    header_hi = kept[min(_HEADER_REACH, len(kept) - 1)]
    by_i, author = _meta.find_byline(blocks, first - 15, header_hi)
    if author is None:
        by_i, author = _meta.find_byline(blocks, last + 1, last + 4)
    date_i, published = _meta.find_date(blocks, first - 15, header_hi)
    if published is None:
        date_i, published = _meta.find_date(blocks, last + 1, last + 4)
    cut = max((i for i in (by_i, date_i) if i is not None and first <= i <= header_hi), default=-1)
    body_idx = [i for i in kept if i > cut]
    if not body_idx:
        body_idx = [i for i in kept if i not in (by_i, date_i)]
    title_i = _meta.find_title(blocks, body_idx[0], body_idx, url)
    title = blocks[title_i].text if title_i is not None else ""
    paragraphs = _trim.trim_tail(
        _clean_paragraphs(blocks, [i for i in body_idx if i != title_i], title), author
    )
    if not paragraphs and title and len(title.split()) >= _MIN_HEADLINE_WORDS:
        paragraphs = [title]  # a news flash: the one sentence is both headline and story
    if not paragraphs:
        raise InputError(f"{locator}: no article text found in the page")
    body = "\n\n".join(paragraphs)
    source = (
        _meta.find_source(blocks, first - 15, header_hi + 1)
        or _meta.find_credit(paragraphs[0])
        or _meta.find_copyright_holder(blocks[last + 1 :])
        or _meta.find_copyright_holder(blocks[:first])
        or _meta.find_copyright_holder(blocks[first : last + 1])
        or _meta.find_site_name(blocks, range(first, last + 1), url)
    )
    return Fields(
        title=title,
        body=body,
        author=author,
        published=published,
        source=source,
        tags=_meta.find_tags(blocks, last, body),
    )


def _clean_paragraphs(blocks: list[Block], indices: list[int], title: str) -> list[str]:
    """Kept texts minus title repeats and pull quotes (paragraphs contained in another)."""
    texts = [blocks[i].text for i in indices]
    keys = [" ".join(t.lower().split()) for t in texts]
    title_key = " ".join(title.lower().split())
    # Keys are unique here (the classifier keeps each text once), so a key found twice in
    # the joined page is also inside some other, longer paragraph.
    joined = "\n".join(keys)
    out = []
    for text, key in zip(texts, keys, strict=True):
        if key == title_key:
            continue
        if len(key.split()) >= _MIN_CONTAINED_WORDS and joined.count(key) > 1:
            continue
        out.append(text)
    return out


def hint_str(hints: Mapping[str, object], key: str) -> str | None:
    """A string hint, stripped, or None."""
    value = hints.get(key)
    return value.strip() or None if isinstance(value, str) else None


def _news_flash(blocks: list[Block]) -> list[int]:
    """A text of one or two blocks with a sentence in it: a headline that is the whole story, a
    headline and its one sentence, a whole article on one line (a wire story ending in its
    desk tag, "(kjd)"), a headline and a teaser cut off mid-sentence. No page around it, so nothing for the classifier to strip and too
    little context for it to judge; still an article."""
    if len(blocks) > 2:
        return []
    return [
        i
        for i, b in enumerate(blocks)
        if len(b.text.split()) >= _MIN_HEADLINE_WORDS and _prose(b.text)
    ]


def _prose(text: str) -> bool:
    """A sentence, or a run of words that reads like one (a teaser cut off mid-sentence):
    a menu line has neither a sentence end nor function words between its items."""
    if _SENTENCE_END.search(text):
        return True
    words = text.lower().split()
    return len(words) >= _MIN_PROSE_WORDS and sum(w in STOP_WORDS for w in words) >= 2
