"""Hostile feeds (loopback): what one poll may hold in memory is bounded, whatever the feed.

A feed of a hundred entries, each linking to a page near the fetch limit, held every page at
once (1.4 GB of 14 MB pages, 1.7 GB peak for one `digestbot ingest URL`); now a poll stops
taking entries once their documents reach ``max_poll_bytes`` and leaves the rest to the next.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler

import pytest

from digests.ingest.feeds import harvest
from digests.models import RawDocument
from digests.net.fetch import Fetcher
from testkit.processes import run_python
from tests.digests import http_fixtures
from tests.digests.http_fixtures import LocalWeb, send

web = http_fixtures.web  # the local server fixture
MiB = 1 << 20
ENTRIES = 20


def _big_feed(web: LocalWeb) -> list[str]:
    page = http_fixtures.article_html("two").replace(
        "</article>", "<!-- " + "x" * MiB + " --></article>"
    )

    def answer(h: BaseHTTPRequestHandler) -> None:
        send(h, 200, page)

    links = [web.url(f"/big/{i}.html") for i in range(ENTRIES)]
    for i in range(ENTRIES):
        web.routes[f"/big/{i}.html"] = answer
    items = "".join(
        f"<item><title>Story {i}</title><link>{link}</link><description>Short.</description></item>"
        for i, link in enumerate(links)
    )
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>'
        f"<link>{web.url('/')}</link><description>d</description>{items}</channel></rss>"
    )
    web.routes["/big.xml"] = lambda h: send(h, 200, feed, ctype="application/rss+xml")
    return links


def test_a_poll_holds_a_bounded_amount_of_pages_and_leaves_the_rest(web: LocalWeb) -> None:
    links = _big_feed(web)
    taken: set[str] = set()
    with Fetcher(allow_private_networks=True, deadline=20) as fetcher:
        first = harvest(
            web.url("/big.xml"), fetcher, kind="feed", max_poll_bytes=3 * MiB, workers=2
        )
        # Two pages at a time, each a little over 1 MiB: the poll stops taking entries once
        # 3 MiB are held, which is after the third page or the fourth, as the two workers
        # happen to finish (both at once, or one by one): never more than the bound and the
        # pages still being fetched.
        taken_now = len(first.documents)
        assert first.truncated and 3 <= taken_now <= 4
        assert all(isinstance(d, RawDocument) for d in first.documents)
        assert [d.locator for d in first.documents] == links[:taken_now]  # the first ones
        fetched = [link for link in links if web.seen(link.removeprefix(web.url("")))]
        assert len(fetched) == taken_now  # the pages past the bound were not even fetched
        taken |= set(first.identities.values())
        rest = harvest(
            web.url("/big.xml"),
            fetcher,
            kind="feed",
            seen=lambda ids: taken & set(ids),
            max_poll_bytes=100 * MiB,
        )
    assert not rest.truncated and len(rest.documents) == ENTRIES - taken_now
    assert taken.isdisjoint(rest.identities.values())


_PARSE_FEED = """
import sys
from digests.ingest.feeds import MAX_FEED_ENTRIES, parse_feed
channel = b"<rss><channel><title>T</title>" + eval(sys.argv[1])
items = b"".join(
    b"<item><title>Story %d</title><link>https://x.test/%d</link></item>" % (i, i)
    for i in range(MAX_FEED_ENTRIES + 1)
)
print(len(parse_feed(channel + items + b"</channel></rss>", url="https://x.test/f").entries))
"""


@pytest.mark.parametrize(
    "channel",
    [
        "b'<?' * 200_000",  # declarations, comments, tags that never close, before the
        "b'<!--' * 100_000",  # first entry: each scanned the rest of the channel when the
        "b'<!DOCTYPE' * 200_000",  # feed was cut to its first entries (minutes to hours)
        "b'<a' * 200_000",
    ],
)
def test_a_channel_built_to_backtrack_is_cut_in_linear_time(channel: str) -> None:
    outcome = run_python(_PARSE_FEED, channel, timeout=30)
    assert not outcome.timed_out and outcome.returncode == 0, outcome.describe()
    assert outcome.stdout.strip().isdigit(), outcome.describe()  # the entries it parsed


def test_a_slow_page_holds_up_no_other_page_of_the_poll(web: LocalWeb) -> None:
    # Pages were fetched in lock-step groups of `workers`: each group waited for its slowest
    # page before the next began. Now a worker that is done takes the next entry: while one
    # page is slow, the other worker fetches every other page.
    fast = [f"/fast/{i}.html" for i in range(1, 6)]
    all_fast_asked = threading.Event()
    asked: list[str] = []
    lock = threading.Lock()
    released: list[bool] = []

    def fast_page(h: BaseHTTPRequestHandler) -> None:
        with lock:
            asked.append(h.path)
            if len(asked) == len(fast):
                all_fast_asked.set()
        send(h, 200, http_fixtures.article_html("two"))

    def slow_page(h: BaseHTTPRequestHandler) -> None:
        # Answered once every other page was asked for (by the old lock-step code: never,
        # so it waited its 10 s out and the rest came after).
        released.append(all_fast_asked.wait(10))
        send(h, 200, http_fixtures.article_html("three"))

    paths = ["/slow/0.html", *fast]
    web.routes[paths[0]] = slow_page
    for path in fast:
        web.routes[path] = fast_page
    items = "".join(
        f"<item><title>Story {i}</title><link>{web.url(p)}</link><description>Short."
        "</description></item>"
        for i, p in enumerate(paths)
    )
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Slow</title>'
        f"<link>{web.url('/')}</link><description>d</description>{items}</channel></rss>"
    )
    web.routes["/slow.xml"] = lambda h: send(h, 200, feed, ctype="application/rss+xml")
    with Fetcher(allow_private_networks=True, deadline=30) as fetcher:
        got = harvest(web.url("/slow.xml"), fetcher, kind="feed", workers=2)
    assert released == [True], "the other pages waited for the slow one"
    assert not got.truncated and all(isinstance(d, RawDocument) for d in got.documents)
    assert [d.url for d in got.documents if isinstance(d, RawDocument)] == [
        web.url(p) for p in paths
    ]  # the entries' order, not the order the pages came in
