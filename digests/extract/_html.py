"""The HTML path: trafilatura does the work (body and metadata); we only normalise."""

from __future__ import annotations

import logging
import re

from digests.errors import InputError
from digests.extract._dates import coerce_date
from digests.extract._fields import Fields

log = logging.getLogger(__name__)

_BLANKS = re.compile(r"\n\s*\n+")
MIN_WORDS = 5  # below this trafilatura has found a menu label, not an article
# Dates from the page's markup only (meta tags, <time>, JSON-LD, the URL). htmldate's
# "extensive search" guesses from any number in the text: "© 1995", a phone number or an
# image path became "01 Jan 1995" on pages that carry no date. No date means no date.
_DATES = {
    "extensive_search": False,
    "original_date": True,
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",  # the time too, where the page gives one
}
# What one page may cost. trafilatura parses a page several times (its own pass, readability,
# justext) at ~1.5 KB of memory per element: a 4.9 MB page of one million "<p>a</p>" took
# 61 s and 1 GB, a 15 MB fetched one would take 3 GB. A news article has a few thousand
# elements; even a long live blog well under this. Counted as "<" that do not close a tag
# (an upper bound on elements: comments and "<" in scripts count too).
MAX_ELEMENTS = 100_000
# ...and what it reads of one. trafilatura costs 0.15-0.4 ms of CPU an element, whatever the
# elements (its passes, readability's and the metadata's each walk the tree): a 5.3 MB page
# of 99,000 short numbered "<p>" (under MAX_ELEMENTS) took 40 s of CPU and 267 MB. The 60
# pages of the extraction set have 85-1,800 elements; a page past this is read up to its
# 10,000th element (the rest is cut off before parsing, a warning says so): ~2 s at most.
MAX_PARSED = 10_000
_OPENING = re.compile(r"<(?!/)")  # what MAX_ELEMENTS counts as an element
# libxml2's HTML parser is quadratic in the attributes of one tag (400,000 in one <p> kept
# ingest busy for minutes). A tag this long (a data: URI, an SVG path, a JSON blob in a
# data- attribute, or an attack) keeps only its name and its class and id, which are all
# the extraction reads; no tag of a page costs more than its share.
# Linear: possessive, and no span runs past the next "<".
_LONG_TAG = re.compile(r"<([A-Za-z][\w:-]*+)([^<>]{8192,}+)>")
_KEPT_ATTRIBUTE = re.compile(r"""\s(?:class|id)\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+)""", re.I)
# trafilatura's last resort for a page that names no site: the host of its URL, so spelt
# (trafilatura.metadata.META_URL). That is no name the page gave: a feed entry's page would
# hide its feed's title ("BBC News" became "127.0.0.1:8000", "bbc.co.uk"); left out, the
# article falls back as every kind does (the feed's title, then the host: extract._article).
_URL_HOST = re.compile(r"https?://(?:www\.|w[0-9]+\.)?([^/]+)")


def extract_fields(html: str, *, locator: str, url: str | None) -> Fields:
    """Body and metadata of an HTML page, by trafilatura (imported here: 0.25 s that a
    command which finds no new HTML page does not pay)."""
    import trafilatura

    html = _bounded(html, locator)
    doc = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        date_extraction_params=_DATES,
    )
    text = getattr(doc, "text", None) if doc is not None else None
    if not text or not text.strip():
        raise InputError(f"{locator}: no article text found in the HTML")
    # trafilatura separates paragraphs with one newline; the Article contract is blank lines.
    paragraphs = [" ".join(p.split()) for p in _BLANKS.sub("\n", text).split("\n")]
    title = (getattr(doc, "title", None) or "").strip()
    # trafilatura keeps the <h1> as the first line; the Article carries it as the title.
    if paragraphs and title and paragraphs[0] and title.startswith(paragraphs[0]):
        # ...unless it is all there is: a one-sentence story is its own headline.
        paragraphs = paragraphs[1:] if any(p.strip() for p in paragraphs[1:]) else [title]
    if sum(len(p.split()) for p in paragraphs) < MIN_WORDS:
        raise InputError(f"{locator}: no article text found in the HTML")
    tags = tuple(t.strip() for t in (getattr(doc, "tags", None) or []) if t and t.strip())
    return Fields(
        title=title,
        body="\n\n".join(p for p in paragraphs if p),
        author=(getattr(doc, "author", None) or None),
        published=coerce_date(getattr(doc, "date", None)),
        source=_site_name(getattr(doc, "sitename", None), getattr(doc, "url", None), url),
        url=(getattr(doc, "url", None) or None),
        tags=tuple(dict.fromkeys(tags)),
    )


def _site_name(name: str | None, *urls: str | None) -> str | None:
    """The site's name as the page gives it, not trafilatura's stand-in (its URL's host)."""
    if not name:
        return None
    hosts = {m[1] for u in urls if u and (m := _URL_HOST.match(u))}
    return None if name in hosts else name


def _bounded(html: str, locator: str) -> str:
    """``html`` cut after its MAX_PARSED-th element, over-long tags cut down (_LONG_TAG);
    InputError past MAX_ELEMENTS."""
    elements = html.count("<") - html.count("</")
    if elements > MAX_ELEMENTS:
        raise InputError(
            f"{locator}: the HTML has over {MAX_ELEMENTS:,} elements ({elements:,}); "
            "too large to be an article page"
        )
    if elements > MAX_PARSED:
        html = _first_elements(html, MAX_PARSED)
        log.warning("%s: the HTML has %s elements; only the first %s are read",
                    locator, f"{elements:,}", f"{MAX_PARSED:,}")  # fmt: skip
    return _LONG_TAG.sub(_short_tag, html)


def _first_elements(html: str, count: int) -> str:
    """``html`` up to (not including) its ``count + 1``-th element: the parser closes what is
    left open at the end, as it does for any page cut short."""
    for n, opening in enumerate(_OPENING.finditer(html)):
        if n == count:
            return html[: opening.start()]
    return html


def _short_tag(match: re.Match[str]) -> str:
    kept = "".join(_KEPT_ATTRIBUTE.findall(match.group(2)))
    return f"<{match.group(1)}{kept}>"


# Elements that start and end a paragraph in a fragment's text.
_BLOCKS = ("p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "br", "tr")


def is_fragment(html: str) -> bool:
    """Markup that is a piece of a page (a feed entry's description), not a page."""
    head = html[:2000].lower()
    return "<html" not in head and "<body" not in head and "<!doctype" not in head


def fragment_text(html: str) -> str:
    """The text of an HTML fragment, paragraphs apart: a fragment is all content (there is no
    page around it for trafilatura to strip), links keep their words, scripts go."""
    from lxml import html as lxml_html  # trafilatura's parser, here without its page rules

    # All on the parsed tree (linear): no pattern over the raw markup, which a hostile
    # fragment (thousands of unclosed "<script") turns quadratic; _LONG_TAG is linear.
    root = lxml_html.fragment_fromstring(_LONG_TAG.sub(_short_tag, html), create_parent="div")
    for gone in list(root.iter("script", "style")):
        gone.drop_tree()  # keeps its tail text
    for block in root.iter(*_BLOCKS):  # a paragraph break where each starts and ends
        block.text = "\n\n" + (block.text or "")
        block.tail = "\n\n" + (block.tail or "")
    paragraphs = (" ".join(p.split()) for p in _BLANKS.split(root.text_content()))
    return "\n\n".join(p for p in paragraphs if p)


def looks_like_html(text: str) -> bool:
    """True when ``text`` is markup rather than prose (a feed's HTML body, say)."""
    head = text[:2000].lower()
    return (
        "<html" in head
        or "<!doctype" in head
        or len(re.findall(r"</?(?:p|div|br|a|span)\b", head)) >= 2
    )
