"""Feeds and article URLs to RawDocuments: download, parse with feedparser, fetch missing pages.

One entry point, :func:`harvest`: fetch a feed or page URL (conditionally), and return the
documents that are new since the last poll. Feed entries carry their identity (guid, else
link, else a content hash; two distinct entries may share a link), so the caller can record
which ones were ingested and never post them again when the feed re-dates or re-orders them.
An entry with full text in the feed is used as it is; otherwise its article page is fetched
(with the same bounded fetcher) and extracted later like any HTML page, with the entry's own
text as its fallback (``RawDocument.fallback``: used if the page yields less). A page that
fails for good (a 4xx, not HTML) gives way to the entry's text at once; one that may work
later (5xx, 429, a timeout) fails the entry, which the next poll tries again, until its
:data:`ENTRY_POLLS`-th poll takes the entry's text. An entry's text is used only if it is
long enough to be an article (:data:`digests.extract.MIN_WORDS`). A malformed feed
(feedparser's ``bozo``) still yields what it can, with a warning.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import io
import logging
import re
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import feedparser

from digests.errors import FetchError, InputError
from digests.extract import MIN_WORDS
from digests.ingest.document import IngestFailure
from digests.models import RawDocument
from digests.net.fetch import Fetched, Fetcher
from digests.net.util import locator_of, public_url, without_userinfo

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
MAX_POLL_BYTES = 64 * 1024 * 1024  # the entries' documents one poll holds (see harvest)
# Entries of a feed that are parsed: feeds list their newest first, and feedparser holds every
# entry it reads (~7 KB each: a 15 MB feed of 100k entries took 749 MB and 78 s).
MAX_FEED_ENTRIES = 1000
FULL_TEXT_WORDS = 60  # fewer words in the feed is a teaser: fetch the article page instead
# Polls an entry may fail before it is settled: its page still failing, the entry's own text
# is used; an entry that fails anyway is given up (digests.ingest.sources).
ENTRY_POLLS = 3
# Declarations, comments and a doctype: one that is never closed runs to the end (\Z), so
# each start is scanned past once; with only the closer, every unclosed "<!--" scanned the
# rest of the text (quadratic: 40 KB of them before a feed's first entry took 8 s).
_MARKUP = re.compile(rb"<\?.*?(?:\?>|\Z)|<!--.*?(?:-->|\Z)|<!DOCTYPE[^>]*(?:>|\Z)", re.S | re.I)
_ROOT = re.compile(rb"<([A-Za-z][\w.:-]*)")
_TAGS = re.compile(r"<[^>]+>")
_ENTRY_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s/>]", re.I)
# An entry's end, or text that is not markup (CDATA, a comment: an "</item>" written inside
# one ends nothing); an unclosed one runs to the end in one scan.
_ENTRY_END = re.compile(
    rb"<!\[CDATA\[.*?(?:\]\]>|\Z)|<!--.*?(?:-->|\Z)|</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>",
    re.S | re.I,
)
# A tag (in XML no "<" is inside one: a scan stops at the next, so "<a<a<a…" is linear).
_TAG = re.compile(rb"<(/?)([A-Za-z_][\w.:-]*)[^<>]*?(/?)>")

Seen = Callable[[Sequence[str]], set[str]]
Failures = Callable[[Sequence[str]], dict[str, int]]
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One feed entry, reduced to what ingest needs."""

    identity: str
    link: str | None
    title: str
    published: datetime | None
    author: str | None
    categories: tuple[str, ...]
    text: str  # the entry's longest HTML/text (full text or a teaser)

    @property
    def words(self) -> int:
        return len(_TAGS.sub(" ", self.text).split())

    @property
    def full_text(self) -> bool:
        return self.words >= FULL_TEXT_WORDS


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed's title and entries; ``problem`` says why feedparser found it malformed."""

    title: str
    entries: tuple[FeedEntry, ...]
    problem: str | None = None


@dataclass(slots=True)
class Harvest:
    """What one poll of a URL yielded: new documents, their entry identities, validators."""

    kind: str  # feed | page
    fetched: Fetched
    documents: list[RawDocument | IngestFailure] = field(default_factory=list)
    identities: dict[str, str] = field(default_factory=dict)  # locator → entry identity
    seen: int = 0  # entries skipped because they were ingested before
    failures: dict[str, int] = field(default_factory=dict)  # identity → polls failed before
    # Every entry the feed lists now, when it parsed whole (None: not a feed, or malformed):
    # an entry retried and no longer listed is forgotten (FeedItems.prune).
    listed: frozenset[str] | None = None
    warning: str | None = None
    truncated: bool = False  # more new entries than one poll takes: the rest come next time


def is_feed(content: bytes, content_type: str = "") -> bool:
    """True when ``content`` is RSS/Atom/RDF, judged by its root element (else its type)."""
    head = _MARKUP.sub(b"", content[:4096].lstrip(b"\xef\xbb\xbf \t\r\n"))
    if root := _ROOT.search(head):
        name = root.group(1).lower().split(b":")[-1]
        return name in (b"rss", b"feed", b"rdf")
    ctype = content_type.split(";", 1)[0].strip().lower()
    return ctype in ("application/rss+xml", "application/atom+xml", "application/rdf+xml")


def parse_feed(content: bytes, *, url: str, content_type: str = "") -> ParsedFeed:
    """Parse RSS/Atom bytes with feedparser (never letting it open URLs or files itself)."""
    # A BytesIO, not bytes: feedparser tries a bytes argument as a *file name* first.
    parsed = feedparser.parse(
        io.BytesIO(first_entries(content, MAX_FEED_ENTRIES)),
        response_headers={"content-location": url, "content-type": content_type or "text/xml"},
    )
    problem = None
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        problem = " ".join(str(exc).split()) if exc else "malformed feed"
    title = str(parsed.get("feed", {}).get("title") or "").strip()
    entries = tuple(_entry(e) for e in parsed.get("entries", []))
    return ParsedFeed(title=title, entries=entries, problem=problem)


def first_entries(content: bytes, n: int) -> bytes:
    """``content`` cut after its ``n``-th entry (``</item>`` or ``</entry>``) and closed again
    (the tags still open before its first entry, the root and RSS's channel, closed in
    order); a feed of at most ``n`` entries is returned as it is."""
    end, count = None, 0
    for match in _ENTRY_END.finditer(content):
        if match.group().startswith(b"<!"):
            continue  # CDATA or a comment
        count += 1
        if count == n:
            end = match.end()
            break
    if end is None or not _ENTRY_START.search(content, end):
        return content
    first = _ENTRY_START.search(content)
    head = _MARKUP.sub(b"", content[: first.start() if first else 0])
    open_tags: list[bytes] = []
    for closing, name, empty in _TAG.findall(head):
        if empty:
            continue
        if not closing:
            open_tags.append(name)
        elif name in open_tags:
            del open_tags[len(open_tags) - 1 - open_tags[::-1].index(name) :]
    return content[:end] + b"".join(b"</" + t + b">" for t in reversed(open_tags))


def harvest(
    url: str,
    fetcher: Fetcher,
    *,
    kind: str = "auto",
    etag: str | None = None,
    last_modified: str | None = None,
    seen: Seen = lambda _ids: set(),
    failures: Failures = lambda _ids: {},
    max_entries: int = 100,
    max_poll_bytes: int = MAX_POLL_BYTES,
    workers: int = 4,
) -> Harvest:
    """Fetch ``url`` (a feed, a page, or ``auto``: told apart by content) into new documents.

    Raises FetchError (or InputError) when the URL itself cannot be used; a failing article
    page of a feed entry becomes an IngestFailure for that entry only, or its own text (see
    the module doc; ``failures`` says how many polls the new entries failed before). At most
    ``max_entries`` new entries are taken, and no more once their documents reach
    ``max_poll_bytes`` (``truncated``: the rest come with the next poll).
    """
    fetched = fetcher.fetch(
        url,
        etag=etag,
        last_modified=last_modified,
        accept=PAGE_ACCEPT if kind == "page" else FEED_ACCEPT,
    )
    if fetched.not_modified:
        return Harvest(kind=kind if kind != "auto" else "feed", fetched=fetched)
    feed = is_feed(fetched.content, fetched.content_type)
    if kind == "feed" and not feed:
        raise FetchError(f"not an RSS or Atom feed ({_type_of(fetched)})")
    if kind == "page" or (kind == "auto" and not feed):
        # The page's URL is its identity: once ingested, the caller need not fetch it again.
        # Its link is the configured URL, which may carry a password or an api_key: the
        # article (shown in chat, and the site name taken from it) gets the public form.
        # Stored under the URL without its secrets (the sealed source row keeps them).
        at = locator_of(url)
        page = replace(_page(fetched, at), url=public_url(fetched.url))
        return Harvest(kind="page", fetched=fetched, documents=[page], identities={at: at})
    parsed = parse_feed(fetched.content, url=fetched.url, content_type=fetched.content_type)
    if parsed.problem and not parsed.entries:
        raise FetchError(f"malformed feed with no readable entries: {parsed.problem}")
    known = seen([e.identity for e in parsed.entries])
    fresh = list({e.identity: e for e in parsed.entries if e.identity not in known}.values())
    result = Harvest(kind="feed", fetched=fetched, seen=len(parsed.entries) - len(fresh))
    if parsed.problem:
        result.warning = f"malformed feed, {len(parsed.entries)} entries read: {parsed.problem}"
    else:
        result.listed = frozenset(e.identity for e in parsed.entries)
    result.truncated = len(fresh) > max_entries
    fresh = fresh[:max_entries]
    result.failures = failures([e.identity for e in fresh]) if fresh else {}
    source = parsed.title or None

    def document(entry: FeedEntry) -> RawDocument | IngestFailure:
        failed = result.failures.get(entry.identity, 0)
        return _entry_document(entry, fetcher, url, source, last_try=failed + 1 >= ENTRY_POLLS)

    if len(fresh) <= 1:  # the common case (0 or 1 new entry): no threads to start
        docs = [document(e) for e in fresh]
    else:
        docs = _bounded(document, fresh, workers, max_poll_bytes)
        result.truncated = result.truncated or len(docs) < len(fresh)
    for entry, doc in zip(fresh, docs, strict=False):
        result.documents.append(doc)
        result.identities[doc.locator] = entry.identity
    return result


def _bounded(
    fetch: Callable[[FeedEntry], RawDocument | IngestFailure],
    entries: list[FeedEntry],
    workers: int,
    max_bytes: int,
) -> list[RawDocument | IngestFailure]:
    """The documents of the first entries, ``workers`` fetched at a time, until they hold
    ``max_bytes``: a hundred entries linking to 15 MB pages held 1.4 GB at once (and a server
    polls several feeds together). The entries left out are fetched by the next poll.

    A worker that is done takes the next entry: in lock-step groups of ``workers`` each group
    waited for its slowest page (up to the fetch deadline) while the other workers idled.
    Entries are taken in order and each one taken is awaited, so the result is the first
    ones, in order; what is held stays under ``max_bytes`` and ``workers`` pages more.
    """
    done: dict[int, RawDocument | IngestFailure] = {}
    held = 0
    with ThreadPoolExecutor(min(workers, len(entries))) as pool:
        pending: dict[Future[RawDocument | IngestFailure], int] = {}
        for place, entry in enumerate(entries):
            if len(pending) >= workers:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    doc = done[pending.pop(future)] = future.result()
                    held += len(doc.content) if isinstance(doc, RawDocument) else 0
            if held >= max_bytes:
                break
            pending[pool.submit(fetch, entry)] = place
        for future in pending:
            done[pending[future]] = future.result()
    return [done[place] for place in range(len(done))]


def _entry(raw: Any) -> FeedEntry:
    # A relative link (or guid) resolves against the feed URL, its user:password included:
    # the link fetches with them, but the entry's identity (stored) is without them.
    link = str(raw.get("link") or "").strip() or None
    texts = [str(c.get("value") or "") for c in raw.get("content", []) or []]
    texts.append(str(raw.get("summary") or ""))
    text = max(texts, key=lambda t: len(_TAGS.sub(" ", t).split()))
    title = html.unescape(_TAGS.sub("", str(raw.get("title") or ""))).strip()
    guid = str(raw.get("id") or "").strip()
    if guid or link:  # a URL (relative ones resolved) without the feed's user:password
        identity = without_userinfo(guid or link or "")
    else:  # neither guid nor link: the entry is what it says
        identity = "sha256:" + hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()[:32]
    stamp = raw.get("published_parsed") or raw.get("updated_parsed")
    published = datetime.fromtimestamp(calendar.timegm(stamp), UTC) if stamp else None
    categories = tuple(
        str(t.get("term")).strip() for t in raw.get("tags", []) or [] if t.get("term")
    )
    return FeedEntry(
        identity=identity,
        link=link,
        title=title,
        published=published,
        author=str(raw.get("author") or "").strip() or None,
        categories=categories,
        text=text,
    )


def _locator(entry: FeedEntry, feed_url: str) -> str:
    # Distinct entries may share a link: keep the locator unique per identity.
    base = without_userinfo(entry.link) if entry.link else locator_of(feed_url)
    return base if entry.identity == base else f"{base}#{entry.identity}"


def _hints(entry: FeedEntry, source: str | None) -> dict[str, object]:
    hints: dict[str, object] = {"title": entry.title, "categories": entry.categories}
    for key, value in (
        ("published", entry.published),
        ("author", entry.author),
        ("source", source),
        ("url", entry.link and without_userinfo(entry.link)),
    ):
        if value:
            hints[key] = value
    return hints


def _entry_document(
    entry: FeedEntry, fetcher: Fetcher, feed_url: str, source: str | None, *, last_try: bool
) -> RawDocument | IngestFailure:
    """The entry's own text, or its article page (the entry's text as its fallback); see the
    module doc. ``last_try``: the entry's ENTRY_POLLS-th poll (it failed all the others), where
    a page that may work later gives way to the entry's text as well."""
    locator = _locator(entry, feed_url)
    hints = _hints(entry, source)
    if entry.full_text or (not entry.link and entry.text.strip()):
        return _own_text(entry, locator, hints)
    if not entry.link:
        return IngestFailure(locator, "feed entry has no text and no link")
    own = _own_text(entry, locator, hints) if entry.words >= MIN_WORDS else None
    try:
        fetched = fetcher.fetch(entry.link, accept=PAGE_ACCEPT)
        page = _page(fetched, locator, hints)
    except (FetchError, InputError) as exc:
        again = isinstance(exc, FetchError) and exc.retryable and not last_try
        if own is None or again:
            short = "" if again else f"; the feed's text ({entry.words} words) is too short"
            return IngestFailure(locator, f"article page: {exc}{short}")
        log.info("%s: article page: %s; the feed's own text was used", locator, exc)
        return own
    return replace(page, fallback=own)


def _own_text(entry: FeedEntry, locator: str, hints: dict[str, object]) -> RawDocument:
    """The entry's text from the feed, as an HTML page of its own."""
    title = html.escape(entry.title)
    page = (
        f"<html><head><title>{title}</title></head><body><article>"
        f"<h1>{title}</h1>{entry.text}</article></body></html>"
    )
    link = entry.link and without_userinfo(entry.link)
    return RawDocument(locator, "html", page.encode(), link, hints)


def _page(fetched: Fetched, locator: str, hints: dict[str, object] | None = None) -> RawDocument:
    ctype = fetched.content_type.split(";", 1)[0].strip().lower()
    head = fetched.content[:2048].lower()
    if ctype not in ("text/html", "application/xhtml+xml") and b"<html" not in head:
        raise InputError(f"not an HTML page ({_type_of(fetched)})")
    return RawDocument(
        locator, "html", fetched.content, without_userinfo(fetched.url), dict(hints or {})
    )


def _type_of(fetched: Fetched) -> str:
    return fetched.content_type.split(";", 1)[0].strip() or "no content type"
