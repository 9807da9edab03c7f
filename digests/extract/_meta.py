"""Metadata of a text dump: title, byline, date, source and tags, found around the body.

Pages put these in different places, but always near the article: the title and byline
just before the first body paragraph (or, with no title line, among its first lines), tags
in a short list just after it. So every search here is anchored on the body's block span.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit

from digests.extract._blocks import Block
from digests.extract._dates import parse_date

_WORD = re.compile(r"\w+", re.UNICODE)
_BYLINE = re.compile(
    r"^(?:written\s+|posted\s+|story\s+|words\s+)?by\s*:?\s+(?P<name>.+)$|^author\s*:\s*(?P<name2>.+)$",
    re.I,
)
_NAME_END = re.compile(r"\s*(?:[|,•·/]|\bon\b|\bupdated\b|\bpublished\b|\d).*$", re.I)
_SOURCE = re.compile(r"^(?:source|publisher|via)\s*:\s*(?P<name>.{2,60})$", re.I)
_COPY_MARK = re.compile(r"(?:copyright\s*)?(?:©|\(c\))|\bcopyright\b", re.I)
_YEARS = re.compile(r"^[\s.:]*(?:\d{4}(?:\s*[-–]\s*\d{4})?)?[\s.,]*")
_NAME_STOP = re.compile(r"\.(?:\s|$)|[|,©;]|\s[-–—]\s|\ball rights\b", re.I)
# "Rokna Political Desk:", "Tehran Times Economic Desk —", "Reuters Desk:"
_DESK = re.compile(
    r"^(?P<name>(?:[A-Z][\w.&'’-]*\s+){0,3}?[A-Z][\w.&'’-]*)\s+(?:[A-Z][a-z]+\s+)?Desk\s*[:–—-]"
)
# "WASHINGTON (Reuters) —", "(AP) -"
_DATELINE = re.compile(
    r"^(?:[A-Z][A-Za-z.,'’ -]{0,40}\s)?\((?P<name>[A-Z][\w.&'’ -]{0,30}[\w.])\)\s*[—–-]{1,2}\s"
)
_DOMAIN_NAME = re.compile(r"(?<![\w@/.-])[A-Za-z][\w-]*\.[A-Za-z]{2,6}(?![\w.-]*[\w/])")
# Leading "by", a trailing year, a Cyrillic "(с)": not part of the holder's name.
_HOLDER_TRIM = re.compile(r"^(?:by\s+|\([cс]\)\s*)|\s+\d{4}$", re.I)
_NOT_A_HOLDER = ("all rights", "copyright", "designed", "powered", "theme", "site by")
_FILE_EXTENSIONS = frozenset(
    "jpg jpeg png gif svg webp html htm php asp aspx pdf js css mp4 mp3".split()
)
_TAG_LABEL = re.compile(r"^(?:tags?|topics?|keywords?|related topics|filed under)\s*:?\s*$", re.I)
_HEADER_SPAN = 15


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _headline_like(text: str) -> bool:
    """Short, unpunctuated at the end (a question mark is fine), not a date or byline."""
    words = len(text.split())
    if not 3 <= words <= 25 or len(text) > 200:
        return False
    if text.rstrip("\"'”’)").endswith((".", ":", ";", ",")):
        return False
    return not (_BYLINE.match(text) or parse_date(text) or "©" in text or "|" in text)


def find_title(
    blocks: Sequence[Block], first: int, body: Sequence[int], url: str | None
) -> int | None:
    """Index of the title block: a headline-like block before the body, else among its first."""
    slug = set(_tokens(urlsplit(url).path.replace("-", " ").replace("_", " "))) if url else set()
    prose_indent = blocks[body[0]].indent if body else 0
    best: tuple[float, int] | None = None
    # Before the body, or (for pages with no title line) among its first few blocks.
    end = body[min(3, len(body) - 1)] + 1 if body else first
    candidates = range(max(0, first - _HEADER_SPAN), end)
    for i in candidates:
        block = blocks[i]
        if block.bullet or not _headline_like(block.text):
            continue
        toks = _tokens(block.text)
        score = 1.0 - abs(first - i) / (_HEADER_SPAN * 2)
        if slug:
            score += 2.0 * len(slug.intersection(toks)) / max(len(set(toks)), 1)
        if block.indent < prose_indent:  # lynx prints headings left of the paragraphs
            score += 0.5
        if 5 <= len(toks) <= 20:
            score += 0.3
        if i >= first:
            score -= 0.4
        if best is None or score > best[0]:
            best = (score, i)
    return best[1] if best else None


def find_byline(blocks: Sequence[Block], lo: int, hi: int) -> tuple[int | None, str | None]:
    """(index, author) of a byline block within ``lo:hi``."""
    for i in range(max(0, lo), min(hi, len(blocks))):
        text = blocks[i].text
        match = _BYLINE.match(text)
        if match:
            name = _NAME_END.sub("", match.group("name") or match.group("name2") or "").strip()
            if 1 <= len(name.split()) <= 6:
                return i, name
        words = text.split()
        # A name printed twice ("Jane Doe Jane Doe"): an author widget's link and caption.
        half = len(words) // 2
        if (
            2 <= half <= 4
            and len(words) % 2 == 0
            and words[:half] == words[half:]
            and all(w[:1].isupper() for w in words)
        ):
            return i, " ".join(words[:half])
    return None, None


def find_date(blocks: Sequence[Block], lo: int, hi: int) -> tuple[int | None, datetime | None]:
    """(index, date) of the first short block within ``lo:hi`` that holds a date."""
    for i in range(max(0, lo), min(hi, len(blocks))):
        if len(blocks[i].text) <= 120:
            found = parse_date(blocks[i].text)
            if found is not None:
                return i, found
    return None, None


def find_source(blocks: Sequence[Block], lo: int, hi: int) -> str | None:
    """A "Source: X" label near the header."""
    for i in range(max(0, lo), min(hi, len(blocks))):
        match = _SOURCE.match(blocks[i].text)
        if match:
            return match.group("name").strip()
    return None


def _copyright_name(text: str) -> str | None:
    """The holder in one copyright notice: "© 2026 Name", "Name © 2026", "Copyright 2010 NAME"."""
    mark = _COPY_MARK.search(text)
    if mark is None:
        return None
    after = _YEARS.sub("", text[mark.end() :], count=1)
    name = _NAME_STOP.split(after, maxsplit=1)[0].strip(" -–—")
    name = _HOLDER_TRIM.sub("", name).strip(" -–—")
    if (
        len(name) >= 2
        and any(c.isalpha() for c in name)
        and len(name.split()) <= 6
        and not name.lower().startswith(_NOT_A_HOLDER)
    ):
        return name
    # "Name © 2026." : the notice follows the name.
    if not any(c.isalpha() for c in re.split(r"all rights", after, flags=re.I)[0]):
        before = text[: mark.start()].strip(" -–—|,")
        if 1 <= len(before.split()) <= 5 and any(c.isalpha() for c in before):
            return before
    return None


def find_copyright_holder(blocks: Sequence[Block]) -> str | None:
    """The holder named in the last copyright notice among ``blocks``."""
    for block in reversed(blocks):
        if len(block.text) <= 160 and _COPY_MARK.search(block.text):
            name = _copyright_name(block.text)
            if name:
                return name
    return None


def find_credit(text: str) -> str | None:
    """A desk or agency credit opening the first paragraph: "Rokna Political Desk:", "(AP) —"."""
    match = _DESK.match(text) or _DATELINE.match(text)
    return match.group("name").strip() if match else None


def find_site_name(blocks: Sequence[Block], body: range, url: str | None) -> str | None:
    """The site's name from its boilerplate: a masthead repeated at the page's foot, or a
    domain-like name ("Example.com") mentioned at least twice outside the article (with a
    URL, only the page's own host counts: a "Blog at WordPress.com" credit is not the site).
    """
    host = host_name(url)
    outside = [b for i, b in enumerate(blocks) if i not in body]
    foot = {b.text.lower() for b in blocks[max(body.stop, len(blocks) * 3 // 4) :]}
    for block in blocks[: min(3, body.start)]:
        words = block.text.split()
        if (
            not block.bullet
            and 1 <= len(words) <= 5
            and all(w[:1].isupper() for w in words)
            and block.text.lower() in foot
            and not parse_date(block.text)
        ):
            return block.text
    seen: dict[str, list[str]] = {}
    for block in outside:
        for match in _DOMAIN_NAME.finditer(block.text):
            name = match.group(0)
            if name.rsplit(".", 1)[1].lower() in _FILE_EXTENSIONS:
                continue
            if host is None or host.lower().endswith(name.lower()):
                seen.setdefault(name.lower(), []).append(name)
    ranked = sorted(seen.values(), key=len, reverse=True)
    if ranked and len(ranked[0]) >= 2:
        forms = ranked[0]
        return max(forms, key=forms.count)  # ties: the first spelling on the page
    return None


def find_tags(blocks: Sequence[Block], last: int, body_text: str) -> tuple[str, ...]:
    """Page tags: a run of short list items just after the body (or after a "Tags" label).

    Without a label, most items must also occur in the body, which is what tells tags from
    the footer menu that often follows in the same shape.
    """
    i = last + 1
    labelled = False
    for j in range(last + 1, min(last + 4, len(blocks))):
        if _TAG_LABEL.match(blocks[j].text):
            i, labelled = j + 1, True
            break
        if blocks[j].bullet:
            i = j
            break
    items: list[str] = []
    while i < len(blocks) and blocks[i].bullet and len(items) < 30:
        text = blocks[i].text.strip()
        if len(text.split()) > 4 or len(text) > 40:
            break
        items.append(text)
        i += 1
    if len(items) < 2 and not (labelled and items):
        return ()
    body = f" {' '.join(_tokens(body_text))} "
    found = sum(1 for item in items if f" {' '.join(_tokens(item))} " in body)
    if not labelled and found * 2 < len(items):
        return ()
    return tuple(dict.fromkeys(items))


def host_name(url: str | None) -> str | None:
    """The site's host name without "www.", as a last-resort source."""
    if not url:
        return None
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.") or None
