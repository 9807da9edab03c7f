"""Feeds and pages from a real local server, through poll/update into the store."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler

import pytest

from digests.config import Settings, SourceConfig
from digests.ingest.document import IngestFailure
from digests.ingest.feeds import ENTRY_POLLS, MAX_FEED_ENTRIES, harvest, is_feed, parse_feed
from digests.ingest.sources import (
    SourceReport,
    due_sources,
    ingest_sources,
    make_fetcher,
    poll_source,
)
from digests.models import RawDocument, SourceKind
from digests.net.fetch import Fetcher
from digests.net.util import redact_urls
from digests.store import Store
from tests.conftest import NOW
from tests.digests import http_fixtures
from tests.digests.http_fixtures import ARTICLES, LocalWeb, rss, send

web = http_fixtures.web  # the local server fixture


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(allow_private_networks=True, deadline=10, sleep=lambda _s: None) as f:
        yield f


@pytest.fixture
def local(settings: Settings) -> Settings:
    """Settings that may fetch from the test server on 127.0.0.1."""
    return settings.model_copy(update={"allow_private_networks": True})


def poll(
    store: Store, settings: Settings, source: SourceConfig, *, now, fetcher: Fetcher | None = None
) -> SourceReport:
    """One poll job with a fetcher of its own (as the scheduler would share one)."""
    if fetcher is not None:
        return poll_source(store, settings, source, now=now, fetcher=fetcher)
    with make_fetcher(settings) as own:
        return poll_source(store, settings, source, now=now, fetcher=own)


def feed(web: LocalWeb, path: str, name: str = "news", **kw: object) -> SourceConfig:
    return SourceConfig(name=name, kind=SourceKind.FEED, location=web.url(path), **kw)


def titles(store: Store, ids: list[int]) -> list[str]:
    return sorted(a.title for a in store.articles.get(ids))


# -- telling feeds from pages, parsing ----------------------------------------------------


@pytest.mark.parametrize(
    ("content", "ctype", "expected"),
    [
        (b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>', "text/xml", True),
        (b'\xef\xbb\xbf<?xml version="1.0"?>\n<!-- hi --><feed xmlns="x"/>', "", True),
        (b'<rdf:RDF xmlns:rdf="x"><channel/></rdf:RDF>', "application/xml", True),
        (b"<!doctype html><html><body><p>rss</p></body></html>", "text/html", False),
        (b"<html><head><title>feed</title></head></html>", "application/rss+xml", False),
        (b"", "application/atom+xml", True),
    ],
)
def test_is_feed_judges_by_root_element(content: bytes, ctype: str, expected: bool) -> None:
    assert is_feed(content, ctype) is expected


def test_entry_identity_is_guid_else_link_else_content_hash() -> None:
    parsed = parse_feed(rss("http://n.example").encode(), url="http://n.example/rss.xml")
    assert parsed.title == "Example News" and parsed.problem is None
    one, two, three = parsed.entries
    assert one.identity == "urn:example:one" and one.full_text and one.categories == ("chips",)
    assert two.identity == "http://n.example/articles/two.html" and not two.full_text
    assert three.identity == "http://n.example/articles/three.html"  # no guid: the link
    assert one.published is not None and one.published.isoformat() == "2026-11-23T07:00:00+00:00"
    bare = b'<rss version="2.0"><channel><item><title>T</title><description>Only text</description></item></channel></rss>'
    (entry,) = parse_feed(bare, url="http://n.example/").entries
    assert entry.identity.startswith("sha256:") and entry.link is None
    assert parse_feed(bare, url="x").entries[0].identity == entry.identity  # stable


def test_feedparser_never_opens_local_files(tmp_path) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_text('<rss version="2.0"><channel><title>LOCAL FILE</title></channel></rss>')
    assert parse_feed(str(secret).encode(), url="http://x/").title == ""


def test_malformed_feed_yields_what_it_can() -> None:
    parsed = parse_feed(
        http_fixtures.broken_feed("http://n.example").encode(), url="http://n.example/"
    )
    assert parsed.problem
    assert [e.title for e in parsed.entries][0] == ARTICLES["two"][0]


# -- harvest: which documents, which pages fetched -----------------------------------------


@pytest.mark.parametrize(
    ("head", "tail", "entry"),
    [
        (
            '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>F</title>'
            '<image><url>u</url></image><atom:link href="x" rel="self"/>',
            "</channel></rss>",
            "<item><title>T{i}</title><link>http://x.test/{i}</link></item>",
        ),
        (
            '<feed xmlns="http://www.w3.org/2005/Atom"><title>F</title>',
            "</feed>",
            "<entry><id>e{i}</id><title>T{i}</title><link href='http://x.test/{i}'/></entry>",
        ),
        (
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            'xmlns="http://purl.org/rss/1.0/"><channel rdf:about="x"><title>F</title></channel>',
            "</rdf:RDF>",
            '<item rdf:about="http://x.test/{i}"><title>T{i}</title>'
            "<link>http://x.test/{i}</link></item>",
        ),
    ],
)
def test_a_feed_of_many_entries_is_read_to_its_first_thousand(
    head: str, tail: str, entry: str
) -> None:
    # feedparser holds every entry it reads: a 15 MB feed of 100k entries took 749 MB.
    entries = "".join(entry.format(i=i) for i in range(MAX_FEED_ENTRIES + 500))
    parsed = parse_feed(
        f'<?xml version="1.0"?>{head}{entries}{tail}'.encode(), url="http://x.test/f"
    )
    assert len(parsed.entries) == MAX_FEED_ENTRIES
    assert parsed.entries[-1].title == f"T{MAX_FEED_ENTRIES - 1}"
    assert (parsed.title, parsed.problem) == ("F", None)  # cut, then closed: well-formed


def test_an_entry_end_written_inside_cdata_or_a_comment_ends_no_entry() -> None:
    entries = "".join(
        f"<item><title>T{i}</title><description><![CDATA[a </item> in text]]></description>"
        f"<!-- </item> --></item>"
        for i in range(MAX_FEED_ENTRIES + 10)
    )
    feed = f'<rss version="2.0"><channel><title>F</title>{entries}</channel></rss>'
    parsed = parse_feed(feed.encode(), url="http://x.test/f")
    assert len(parsed.entries) == MAX_FEED_ENTRIES and parsed.problem is None
    assert parsed.entries[-1].title == f"T{MAX_FEED_ENTRIES - 1}"


def test_harvest_uses_full_text_and_fetches_teaser_pages(web: LocalWeb, fetcher: Fetcher) -> None:
    got = harvest(web.url("/rss.xml"), fetcher, kind="feed")
    assert got.kind == "feed" and got.warning is None
    docs = {d.locator: d for d in got.documents}
    assert all(isinstance(d, RawDocument) for d in docs.values())
    one = docs[web.url("/articles/one.html") + "#urn:example:one"]
    assert one.hints["title"] == ARTICLES["one"][0] and "tags" not in one.hints
    assert one.hints["source"] == "Example News"
    assert not web.seen("/articles/one.html")  # full text in the feed: no page fetch
    assert len(web.seen("/articles/two.html")) == 1 and len(web.seen("/articles/three.html")) == 1
    assert set(got.identities.values()) == {
        "urn:example:one",
        web.url("/articles/two.html"),
        web.url("/articles/three.html"),
    }


def test_harvest_skips_seen_entries_without_fetching_their_pages(
    web: LocalWeb, fetcher: Fetcher
) -> None:
    two = web.url("/articles/two.html")
    got = harvest(
        web.url("/rss.xml"), fetcher, kind="feed", seen=lambda ids: {i for i in ids if i == two}
    )
    assert got.seen == 1 and two not in got.identities.values()
    assert not web.seen("/articles/two.html")


def test_a_failing_article_page_fails_only_its_entry(web: LocalWeb, fetcher: Fetcher) -> None:
    web.routes["/articles/two.html"] = lambda h: send(h, 500, "oops")
    got = harvest(web.url("/rss.xml"), fetcher, kind="feed")
    failures = [d for d in got.documents if isinstance(d, IngestFailure)]
    assert [f.reason for f in failures] == [
        "article page: HTTP 500 Internal Server Error after 3 attempts"
    ]
    assert sum(isinstance(d, RawDocument) for d in got.documents) == 2


# -- poll: into the store, health, re-ingest ------------------------------------------------


def test_poll_ingests_a_feed_and_never_reposts_it(
    web: LocalWeb, local: Settings, store: Store
) -> None:
    source = feed(web, "/rss.xml", tags=("world",))
    first = poll(store, local, source, now=NOW)
    assert first.failed == [] and len(first.added) == 3
    assert titles(store, first.added) == sorted(t for t, _ in ARTICLES.values())
    assert all("world" in a.tags for a in store.articles.get(first.added))
    state = store.sources.all()[0]
    assert (state.name, state.kind, state.consecutive_failures, state.last_ok_at) == (
        "news",
        "feed",
        0,
        NOW,
    )
    # The feed re-dates and re-orders its entries: nothing is new.
    web.routes["/rss.xml"] = lambda h: send(
        h,
        200,
        rss(web.base, order=("three", "one", "two"), date="Tue, 24 Nov 2026 09:00:00 GMT"),
        ctype="application/rss+xml",
    )
    pages_before = len(web.requests)
    again = poll(store, local, source, now=NOW + timedelta(hours=1))
    assert again.added == [] and again.failed == [] and again.unchanged == 3
    assert [r.path for r in web.requests[pages_before:]] == ["/rss.xml"]


def test_conditional_get_304_parses_nothing(web: LocalWeb, local: Settings, store: Store) -> None:
    source = feed(web, "/cached.xml")
    assert len(poll(store, local, source, now=NOW).added) == 3
    assert store.sources.all()[0].etag == '"v1"'
    again = poll(store, local, source, now=NOW + timedelta(hours=1))
    assert again.added == [] and again.unchanged == 1
    assert web.seen("/cached.xml")[-1].headers["if-none-match"] == '"v1"'
    assert store.sources.all()[0].last_ok_at == NOW + timedelta(hours=1)


def test_entries_sharing_a_link_are_distinct_items(
    web: LocalWeb, local: Settings, store: Store
) -> None:
    link = web.url("/articles/two.html")
    items = "".join(
        f"<item><title>Ports</title><link>{link}</link><guid isPermaLink='false'>g{i}</guid></item>"
        for i in (1, 2)
    )
    web.routes["/shared.xml"] = lambda h: send(
        h,
        200,
        f'<rss version="2.0"><channel><title>S</title>{items}</channel></rss>',
        ctype="text/xml",
    )
    report = poll(store, local, feed(web, "/shared.xml"), now=NOW)
    assert len(report.added) == 1 and report.duplicates == 1  # same page text: stored once
    state = store.sources.all()[0]
    assert store.feed_items.seen(state.id, ["g1", "g2", "g3"]) == {"g1", "g2"}
    assert store.feed_items.article_id(state.id, "g1") == report.added[0]


def test_atom_feed(web: LocalWeb, local: Settings, store: Store) -> None:
    report = poll(store, local, feed(web, "/atom.xml"), now=NOW)
    assert len(report.added) == 2 and report.failed == []
    three = next(a for a in store.articles.get(report.added) if a.title == ARTICLES["three"][0])
    assert three.author == "Ann Author" and three.url == web.url("/articles/three.html")
    assert not web.seen("/articles/three.html") and web.seen("/articles/two.html")


def test_malformed_feed_is_ingested_and_flagged(
    web: LocalWeb, local: Settings, store: Store
) -> None:
    report = poll(store, local, feed(web, "/broken.xml"), now=NOW)
    assert len(report.added) == 1
    state = store.sources.all()[0]
    assert state.consecutive_failures == 0 and state.last_error
    assert state.last_error.startswith("malformed feed, 2 entries read:")


def test_failed_entry_is_retried_next_poll(web: LocalWeb, local: Settings, store: Store) -> None:
    web.routes["/articles/three.html"] = lambda h: send(h, 404, "no")
    source = feed(web, "/cached.xml")
    first = poll(store, local, source, now=NOW)
    assert len(first.added) == 2 and [r for _, r in first.failed] == [
        "article page: HTTP 404 Not Found; the feed's text (2 words) is too short"
    ]
    assert store.sources.all()[0].etag is None  # so the next poll is not a 304
    web.routes["/articles/three.html"] = lambda h: send(h, 200, http_fixtures.article_html("three"))
    second = poll(store, local, source, now=NOW + timedelta(hours=1))
    assert titles(store, second.added) == [ARTICLES["three"][0]]


def test_a_failing_source_never_blocks_the_others(
    web: LocalWeb, local: Settings, store: Store
) -> None:
    sources = [
        feed(web, "/missing", name="gone"),
        feed(web, "/not-a-feed.xml", name="png"),
        feed(web, "/slow", name="slow"),
        feed(web, "/rss.xml", name="good"),
    ]
    with Fetcher(allow_private_networks=True, deadline=0.5) as fetcher:
        configured = local.model_copy(update={"sources": tuple(sources)})
        urls = [s.location for s in sources]
        report = ingest_sources(store, configured, now=NOW, fetcher=fetcher, paths=urls)
        assert len(report.added) == 3
        reasons = dict(report.failed)
        assert reasons[web.url("/missing")] == "HTTP 404 Not Found"
        assert reasons[web.url("/not-a-feed.xml")] == "not an RSS or Atom feed (image/png)"
        assert reasons[web.url("/slow")] == "no complete response within 0.5 s"
        poll(store, local, sources[0], now=NOW + timedelta(hours=1), fetcher=fetcher)
    health = {s.name: s for s in store.sources.all()}
    assert health["gone"].consecutive_failures == 2 and health["gone"].last_ok_at is None
    assert health["good"].consecutive_failures == 0 and health["good"].last_error is None


def test_ssrf_guard_refuses_the_local_server_unless_allowed(
    web: LocalWeb, settings: Settings, store: Store
) -> None:
    report = poll(store, settings, feed(web, "/rss.xml"), now=NOW)
    assert report.added == [] and "loopback address 127.0.0.1" in report.failed[0][1]
    assert web.requests == []
    assert "loopback" in (store.sources.all()[0].last_error or "")


def test_redirect_to_a_private_address_is_refused(
    web: LocalWeb, settings: Settings, store: Store
) -> None:
    with Fetcher(trusted_networks=["127.0.0.1/32"], deadline=0.5) as fetcher:
        report = poll(store, settings, feed(web, "/to-private"), now=NOW, fetcher=fetcher)
    (reason,) = [r for _, r in report.failed]
    assert reason.startswith("redirected to http://10.1.2.3/feed: refused private address 10.1.2.3")


# -- update: URLs on the command line, configured sources, poll intervals --------------------


def test_update_takes_feed_and_page_urls_told_apart_by_content(
    web: LocalWeb, local: Settings, store: Store
) -> None:
    urls = [web.url("/atom.xml"), web.url("/articles/one.html")]
    report = ingest_sources(store, local, now=NOW, paths=urls)
    assert len(report.added) == 3 and report.failed == []  # no folder was read: paths were given
    again = ingest_sources(store, local, now=NOW, paths=urls)
    assert again.added == [] and again.unchanged == 3
    assert len(web.seen("/articles/one.html")) == 1  # a page once ingested is not fetched again
    assert {s.kind for s in store.sources.all()} == {"url"}


def test_update_polls_configured_sources_when_due(
    web: LocalWeb, local: Settings, store: Store
) -> None:
    configured = local.model_copy(update={"sources": (feed(web, "/rss.xml", poll_minutes=30),)})
    progress: list[str] = []
    report = ingest_sources(store, configured, now=NOW, on_progress=progress.append)
    assert len(report.added) == 8 and "news" in progress  # five seeds + three feed articles
    assert due_sources(store, configured, now=NOW + timedelta(minutes=10)) == []
    assert due_sources(store, configured, now=NOW + timedelta(minutes=10), force=True)
    assert due_sources(store, configured, now=NOW + timedelta(minutes=30))


# -- an entry whose article page fails: its own text, once --------------------------------------

TEASERS = {  # 20-59 words: teasers, so their pages are fetched
    "gone": "Rail unions and the transport ministry agreed on Tuesday to a new pay deal that ends "
    "three weeks of strikes, with higher wages for drivers and guards from January and a review "
    "of rosters next year.",
    "down": "The central bank held interest rates at four percent for a third meeting, saying "
    "inflation was easing more slowly than expected and that it would wait for wage figures "
    "before cutting borrowing costs in the spring.",
    "thin": "A new bridge across the river opened to traffic on Sunday after four years of "
    "building, cutting the drive between the two halves of the city from forty minutes to ten "
    "for most commuters.",
}


def teaser_feed(base: str) -> str:
    items = "".join(
        f"<item><title>{key.title()} story</title><link>{base}/articles/{key}.html</link>"
        f"<guid isPermaLink='false'>urn:teaser:{key}</guid><description>{text}</description></item>"
        for key, text in TEASERS.items()
    )
    return f'<rss version="2.0"><channel><title>Teasers</title>{items}</channel></rss>'


def test_an_entry_whose_page_fails_is_stored_once_with_the_feeds_own_text(
    web: LocalWeb,
    local: Settings,
    any_store: Store,
    fetcher: Fetcher,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 404 page: the entry's text at once. A 500 page: retried, then the entry's text at its
    ENTRY_POLLS-th poll; its page working afterwards stores nothing more. A page with less
    text than the entry: the entry's."""
    store = any_store
    web.routes["/teasers.xml"] = lambda h: _conditional_feed(h, teaser_feed(web.base))
    # /articles/gone.html is no route: 404.
    web.routes["/articles/down.html"] = lambda h: send(h, 500, "oops")
    web.routes["/articles/thin.html"] = lambda h: send(
        h, 200, "<html><body><article><p>Bridge opens to traffic today.</p></article></body></html>"
    )
    source = feed(web, "/teasers.xml")
    caplog.set_level(logging.INFO, logger="digests")

    first = poll(store, local, source, now=NOW, fetcher=fetcher)
    bodies = {a.title: a.body for a in store.articles.get(first.added, with_body=True)}
    assert bodies == {"Gone story": TEASERS["gone"], "Thin story": TEASERS["thin"]}
    assert [r for _, r in first.failed] == [
        "article page: HTTP 500 Internal Server Error after 3 attempts"
    ]
    used = [r.getMessage() for r in caplog.records if "feed's own text was used" in r.getMessage()]
    # The CLI's log handler, once a test installed it, redacts each record in place (a URL's
    # fragment goes): compare as it would show them either way.
    assert [redact_urls(line) for line in used] == [
        redact_urls(line)
        for line in (
            f"{web.url('/articles/gone.html')}#urn:teaser:gone: article page: HTTP 404 Not Found; "
            "the feed's own text was used",
            f"{web.url('/articles/thin.html')}#urn:teaser:thin: article page: 5 words of text, "
            f"fewer than the feed's {len(TEASERS['thin'].split())}; the feed's own text was used",
        )
    ]
    for hour in range(1, ENTRY_POLLS - 1):  # retried, never stored meanwhile
        again = poll(store, local, source, now=NOW + timedelta(hours=hour), fetcher=fetcher)
        assert again.added == [] and len(again.failed) == 1 and again.unchanged == 2
    last = poll(store, local, source, now=NOW + timedelta(hours=ENTRY_POLLS), fetcher=fetcher)
    (down,) = store.articles.get(last.added, with_body=True)
    assert last.failed == [] and down.body == TEASERS["down"]
    assert len(web.seen("/articles/down.html")) == 3 * ENTRY_POLLS  # 3 attempts a poll
    assert len(web.seen("/articles/gone.html")) == len(web.seen("/articles/thin.html")) == 1

    assert store.sources.all()[0].etag == '"t1"'  # nothing left to retry: validators kept
    assert poll(store, local, source, now=NOW + timedelta(hours=8), fetcher=fetcher).unchanged == 1

    # The pages work now, and the feed is served whole again: every entry is seen, no page
    # is fetched, nothing is stored twice.
    web.routes["/articles/down.html"] = lambda h: send(h, 200, http_fixtures.article_html("two"))
    web.routes["/articles/gone.html"] = lambda h: send(h, 200, http_fixtures.article_html("one"))
    web.routes["/teasers.xml"] = lambda h: send(h, 200, teaser_feed(web.base), ctype="text/xml")
    after = poll(store, local, source, now=NOW + timedelta(hours=9), fetcher=fetcher)
    assert after.added == [] and after.failed == [] and after.unchanged == 3
    assert len(web.seen("/articles/down.html")) == 3 * ENTRY_POLLS
    assert len(web.seen("/articles/gone.html")) == 1
    assert store.articles.count() == 3  # one article an entry
    assert store.feed_items.count(store.sources.all()[0].id) == 3


def test_an_entry_retried_and_dropped_by_its_feed_is_forgotten(
    web: LocalWeb, local: Settings, any_store: Store, fetcher: Fetcher
) -> None:
    """An entry whose page failed is retried while its feed lists it; once the feed drops it
    (before it was ingested or given up) its retry row goes at the next poll, and the rows of
    the entries it still lists stay."""
    store = any_store
    web.routes["/articles/down.html"] = lambda h: send(h, 500, "oops")
    web.routes["/articles/gone.html"] = lambda h: send(h, 503, "busy")
    web.routes["/teasers.xml"] = lambda h: send(h, 200, teaser_feed(web.base), ctype="text/xml")
    source = feed(web, "/teasers.xml")
    first = poll(store, local, source, now=NOW, fetcher=fetcher)
    assert len(first.failed) == 2
    source_id = store.sources.all()[0].id
    retried = ["urn:teaser:down", "urn:teaser:gone"]
    assert store.feed_items.failures(source_id, retried) == dict.fromkeys(retried, 1)

    without_down = teaser_feed(web.base).replace("urn:teaser:down", "urn:teaser:later")
    without_down = without_down.replace("/articles/down.html", "/articles/later.html")
    web.routes["/teasers.xml"] = lambda h: send(h, 200, without_down, ctype="text/xml")
    web.routes["/articles/later.html"] = lambda h: send(h, 200, http_fixtures.article_html("two"))
    second = poll(store, local, source, now=NOW + timedelta(hours=1), fetcher=fetcher)
    assert len(second.added) == 1 and len(second.failed) == 1
    assert store.feed_items.failures(source_id, retried) == {"urn:teaser:gone": 2}
    assert store.feed_items.count(source_id) == 2  # thin and later: seen, kept


def _conditional_feed(h: BaseHTTPRequestHandler, body: str) -> None:
    if h.headers.get("If-None-Match") == '"t1"':
        h.send_response(304)
        h.send_header("ETag", '"t1"')
        h.end_headers()
        return
    send(h, 200, body, ctype="application/rss+xml", headers={"ETag": '"t1"'})


def test_an_entry_too_short_to_stand_for_its_failing_page_is_given_up(
    web: LocalWeb, local: Settings, store: Store, fetcher: Fetcher
) -> None:
    """'Farmers adapt.' cannot be an article: its page failing, the entry is retried, and at
    its ENTRY_POLLS-th failed poll given up, never fetched again (and the feed's validators
    kept, so it is a 304 again)."""
    web.routes["/articles/three.html"] = lambda h: send(h, 503, "busy")
    source = feed(web, "/cached.xml")
    for hour in range(ENTRY_POLLS):
        report = poll(store, local, source, now=NOW + timedelta(hours=hour), fetcher=fetcher)
        assert [r for _, r in report.failed] == [
            "article page: HTTP 503 Service Unavailable after 3 attempts"
            + ("; the feed's text (2 words) is too short" if hour == ENTRY_POLLS - 1 else "")
        ]
    assert store.sources.all()[0].etag == '"v1"'
    later = poll(store, local, source, now=NOW + timedelta(hours=9), fetcher=fetcher)
    assert later.failed == [] and later.unchanged == 1
    assert len(web.seen("/articles/three.html")) == 3 * ENTRY_POLLS
    assert store.articles.count() == 2


def _serve_mirror(web: LocalWeb) -> None:
    """A wire's mirror of /rss.xml at /mirror.xml: other links, the same articles' text."""
    mirror = web.url("/mirror")
    web.routes["/mirror.xml"] = lambda h: send(
        h, 200, rss(mirror), ctype="application/rss+xml; charset=utf-8"
    )
    for key in ARTICLES:
        web.routes[f"/mirror/articles/{key}.html"] = lambda h, k=key: send(
            h, 200, http_fixtures.article_html(k)
        )


def test_a_text_two_feeds_carry_has_both_feeds_declared_tags(
    web: LocalWeb, local: Settings, any_store: Store
) -> None:
    """The same articles from two feeds (a wire's mirror: other links, the same text), each
    declaring tags: the text is stored once and carries both feeds' tags, each declared by
    its feed (no re-tag takes it off); the mirror's changed tags reach its copies too."""
    _serve_mirror(web)
    news = feed(web, "/rss.xml", name="news", tags=("world",))
    wire = feed(web, "/mirror.xml", name="wire", tags=("wire", "world"))
    configured = local.model_copy(update={"sources": (news, wire)})
    first = poll(any_store, configured, news, now=NOW)
    assert len(first.added) == 3
    # A reader said "Not #wire" of one of them: that one is not given it.
    refused, _ = any_store.topics.add_story_feedback(
        max(first.added), "wire", "not", user_id="U1", workspace="T1", platform="slack", now=NOW
    )
    copied = poll(any_store, configured, wire, now=NOW)
    assert copied.added == [] and copied.duplicates == 3, copied
    ids = sorted(set(first.added) - set(refused))
    assert ids and all({"world", "wire"} <= set(a.tags) for a in any_store.articles.get(ids))
    declared = any_store.topics.declared(first.added)
    assert all(declared[a] == {"world": "news", "wire": "wire"} for a in ids), declared
    assert all(declared[a] == {"world": "news"} for a in refused), declared

    # The first feed no longer declares "world": the mirror still does, so they keep it.
    plain = news.model_copy(update={"tags": ()})
    poll(any_store, local.model_copy(update={"sources": (plain, wire)}), plain, now=NOW)
    declared = any_store.topics.declared(ids)
    assert all(declared[a] == {"world": "wire", "wire": "wire"} for a in ids), declared
    # The mirror now declares "wire" alone: its copies lose "world" (no source gives it).
    later = wire.model_copy(update={"tags": ("wire",)})
    again = local.model_copy(update={"sources": (plain, later)})
    poll(any_store, again, later, now=NOW + timedelta(hours=1))
    declared = any_store.topics.declared(ids)
    assert all(declared[a] == {"wire": "wire"} for a in ids), declared


def test_a_copy_is_given_its_feeds_tag_whatever_a_reader_whose_word_does_not_count_said(
    web: LocalWeb, local: Settings, any_store: Store
) -> None:
    """Only the corrections that count ([topics] feedback_workspaces) keep a copy source's
    declared tag off the text it copied: a "Not #wire" from another workspace's reader does
    not (it changes no tag any other workspace reads), one from a listed workspace does."""
    _serve_mirror(web)
    news = feed(web, "/rss.xml", name="news", tags=("world",))
    wire = feed(web, "/mirror.xml", name="wire", tags=("wire",))
    configured = local.model_copy(update={"sources": (news, wire)})
    any_store.topics.feedback_workspaces = ("T2",)
    added = sorted(poll(any_store, configured, news, now=NOW).added)
    assert len(added) == 3
    outside, listed = added[0], added[1]
    for article_id, workspace in ((outside, "T1"), (listed, "T2")):
        any_store.topics.add_story_feedback(
            article_id, "wire", "not", user_id="U1", workspace=workspace, platform="slack", now=NOW
        )
    copied = poll(any_store, configured, wire, now=NOW)
    assert copied.duplicates == 3, copied
    declared = any_store.topics.declared(added)
    assert declared[outside] == {"world": "news", "wire": "wire"}, declared
    assert declared[listed] == {"world": "news"}, declared
