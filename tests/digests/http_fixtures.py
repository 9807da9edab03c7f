"""A real HTTP server on 127.0.0.1 (port 0) serving feeds, pages and misbehaving endpoints.

Import the ``web`` fixture into a test module: ``from tests.digests.http_fixtures import web``.
Every request is recorded (path and headers) so tests can assert on what was sent.
"""

from __future__ import annotations

import gzip
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

TRICKLE_INTERVAL = 0.05  # seconds between the slow endpoint's bytes

ARTICLES = {
    "one": (
        "Taiwan weighs new chip export rules",
        [
            "Officials in Taipei said on Monday that Taiwan is weighing new rules on exports of "
            "advanced chips, after months of pressure from trading partners.",
            "The proposal would require licences for shipments of the most advanced "
            "semiconductors and the machines used to make them.",
            "Industry groups warned that the rules could slow investment, while lawmakers "
            "argued that the island must protect its technological lead.",
            "A final decision is expected before the end of the year, the economy ministry said.",
        ],
    ),
    "two": (
        "Ports brace for a slower shipping season",
        [
            "Container ports across the region are preparing for a slower season as trade "
            "volumes fall for the third month in a row.",
            "Shipping lines have cancelled dozens of sailings, and freight rates have dropped "
            "to their lowest level since the pandemic.",
            "Port operators said they would use the lull to upgrade cranes and expand storage "
            "yards before demand recovers next spring.",
            "Analysts expect tariffs and weaker consumer spending to weigh on imports.",
        ],
    ),
    "three": (
        "Farmers turn to drought-resistant crops",
        [
            "Farmers in the southern provinces are planting drought-resistant varieties of "
            "wheat and sorghum after a second dry summer.",
            "Agronomists say the new seeds need a third less water and still deliver most of "
            "the usual harvest in a poor year.",
            "Seed companies report record orders, and local cooperatives are pooling money to "
            "buy irrigation sensors.",
            "The agriculture ministry plans subsidies for farms that switch before next season.",
        ],
    ),
}


def article_html(key: str) -> str:
    """A complete article page, as a news site would serve it."""
    title, paragraphs = ARTICLES[key]
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!doctype html><html><head><title>{title}</title>"
        f'<meta name="author" content="Jo Reporter"></head><body>'
        f"<nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
        f"<article><h1>{title}</h1>{body}</article>"
        f"<footer>Copyright Example News</footer></body></html>"
    )


def rss(
    base: str,
    *,
    order: tuple[str, ...] = ("one", "two", "three"),
    date: str = "Mon, 23 Nov 2026 07:00:00 GMT",
) -> str:
    """RSS 2.0: `one` carries full text; `two` and `three` only a teaser and a link."""
    items = {
        "one": (
            f"<item><title>{ARTICLES['one'][0]}</title><link>{base}/articles/one.html</link>"
            f"<guid isPermaLink='false'>urn:example:one</guid><pubDate>{date}</pubDate>"
            f"<category>chips</category>"
            f"<content:encoded><![CDATA[{''.join(f'<p>{p}</p>' for p in ARTICLES['one'][1])}]]></content:encoded>"
            f"</item>"
        ),
        "two": (
            f"<item><title>{ARTICLES['two'][0]}</title><link>{base}/articles/two.html</link>"
            f"<guid>{base}/articles/two.html</guid><pubDate>{date}</pubDate>"
            f"<description>Ports prepare for a slow season.</description></item>"
        ),
        # No guid: identity falls back to the link.
        "three": (
            f"<item><title>{ARTICLES['three'][0]}</title><link>{base}/articles/three.html</link>"
            f"<pubDate>{date}</pubDate><description>Farmers adapt.</description></item>"
        ),
    }
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>Example News</title><link>{base}/</link><description>News</description>"
        + "".join(items[k] for k in order)
        + "</channel></rss>"
    )


def atom(base: str) -> str:
    """Atom 1.0 with one full-text entry and one link-only entry."""
    full = "".join(f"<p>{p}</p>" for p in ARTICLES["three"][1])
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>Example Atom</title>'
        f"<id>urn:example:atom</id><updated>2026-11-23T07:00:00Z</updated>"
        f"<entry><title>{ARTICLES['three'][0]}</title><id>urn:example:atom:three</id>"
        f'<link href="{base}/articles/three.html"/><updated>2026-11-23T07:00:00Z</updated>'
        f"<author><name>Ann Author</name></author>"
        f'<content type="html"><![CDATA[{full}]]></content></entry>'
        f"<entry><title>{ARTICLES['two'][0]}</title><id>urn:example:atom:two</id>"
        f'<link href="{base}/articles/two.html"/><updated>2026-11-22T07:00:00Z</updated>'
        f"<summary>Ports prepare.</summary></entry></feed>"
    )


def broken_feed(base: str) -> str:
    """RSS that is not well-formed XML (an unescaped & and an unclosed tag), one usable item."""
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Broken & Co</title>'
        f"<item><title>{ARTICLES['two'][0]}</title><link>{base}/articles/two.html</link>"
        "<description>Ports & harbours</description></item>"
        "<item><title>Unclosed</title></channel></rss>"
    )


@dataclass
class Recorded:
    """One request the server saw."""

    path: str
    headers: dict[str, str]


@dataclass
class LocalWeb:
    """The running server: its base URL, routes (path → handler) and the requests it saw."""

    base: str = ""
    routes: dict[str, Callable[[BaseHTTPRequestHandler], None]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base + path

    def seen(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    def hit(self, path: str) -> int:
        self.counters[path] = self.counters.get(path, 0) + 1
        return self.counters[path]


def send(
    h: BaseHTTPRequestHandler,
    status: int,
    body: bytes | str = b"",
    *,
    ctype: str = "text/html; charset=utf-8",
    headers: dict[str, str] | None = None,
) -> None:
    """Answer with a complete body and an honest Content-Length."""
    data = body.encode() if isinstance(body, str) else body
    h.send_response(status)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(data)))
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.end_headers()
    h.wfile.write(data)


def _default_routes(web: LocalWeb) -> dict[str, Callable[[BaseHTTPRequestHandler], None]]:
    xml = "application/rss+xml; charset=utf-8"
    routes: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {
        "/rss.xml": lambda h: send(h, 200, rss(web.base), ctype=xml),
        "/atom.xml": lambda h: send(h, 200, atom(web.base), ctype="application/atom+xml"),
        "/broken.xml": lambda h: send(h, 200, broken_feed(web.base), ctype=xml),
        "/not-a-feed.xml": lambda h: send(h, 200, b"\x89PNG\r\n\x1a\n", ctype="image/png"),
        "/missing": lambda h: send(h, 404, "gone"),
        "/loop": lambda h: send(h, 302, "", headers={"Location": "/loop2"}),
        "/loop2": lambda h: send(h, 302, "", headers={"Location": "/loop"}),
        "/moved.xml": lambda h: send(h, 301, "", headers={"Location": "/rss.xml"}),
        "/to-private": lambda h: send(h, 302, "", headers={"Location": "http://10.1.2.3/feed"}),
        "/to-metadata": lambda h: send(
            h, 302, "", headers={"Location": "http://169.254.169.254/latest/meta-data/"}
        ),
        "/to-file": lambda h: send(h, 302, "", headers={"Location": "file:///etc/passwd"}),
        "/slow": _trickle,
        "/stall-headers": _stall_headers,
        "/huge": lambda h: send(h, 200, b"x" * (1024 * 1024)),
        "/unsized": _unsized,
        "/bomb": _gzip_bomb,
        "/cached.xml": lambda h: _conditional(h, rss(web.base)),
    }
    for key in ARTICLES:
        routes[f"/articles/{key}.html"] = lambda h, k=key: send(h, 200, article_html(k))

    def limited(h: BaseHTTPRequestHandler) -> None:
        if web.hit("/limited") == 1:
            send(h, 429, "slow down", headers={"Retry-After": "2"})
        else:
            send(h, 200, article_html("one"))

    def flaky(h: BaseHTTPRequestHandler) -> None:
        if web.hit("/flaky") <= 2:
            send(h, 503, "busy")
        else:
            send(h, 200, article_html("two"))

    lock = threading.Lock()

    def busy(h: BaseHTTPRequestHandler) -> None:
        # Counts requests in flight at once, to check the fetcher's per-host limit.
        with lock:
            web.counters["in-flight"] = web.counters.get("in-flight", 0) + 1
            web.counters["max-in-flight"] = max(
                web.counters.get("max-in-flight", 0), web.counters["in-flight"]
            )
        time.sleep(0.05)
        with lock:
            web.counters["in-flight"] -= 1
        send(h, 200, "ok")

    routes["/busy"] = busy
    routes["/limited"] = limited
    routes["/flaky"] = flaky
    routes["/always-503"] = lambda h: send(h, 503, "busy")
    routes["/patient"] = lambda h: send(h, 429, "later", headers={"Retry-After": "86400"})
    return routes


def _trickle(h: BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "text/html")
    h.send_header("Content-Length", "1000")
    h.end_headers()
    end = time.monotonic() + 5  # the client gives up long before; this only bounds the thread
    try:
        while time.monotonic() < end:
            h.wfile.write(b"<")
            h.wfile.flush()
            time.sleep(TRICKLE_INTERVAL)
    except OSError:
        pass  # the client hung up: that is the point


def _stall_headers(h: BaseHTTPRequestHandler) -> None:
    # The status line, then a header that never ends: httpx is still waiting for headers.
    end = time.monotonic() + 5
    try:
        h.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        while time.monotonic() < end:
            h.wfile.write(b"a")
            h.wfile.flush()
            time.sleep(TRICKLE_INTERVAL)
    except OSError:
        pass
    h.close_connection = True


def _unsized(h: BaseHTTPRequestHandler) -> None:
    # No Content-Length at all: the body ends when the connection closes.
    h.send_response(200)
    h.send_header("Content-Type", "text/html")
    h.send_header("Connection", "close")
    h.end_headers()
    h.close_connection = True
    try:
        for _ in range(64):
            h.wfile.write(b"y" * 16384)
    except OSError:
        pass


def _gzip_bomb(h: BaseHTTPRequestHandler) -> None:
    # An honest Content-Length for a few KB that inflate to 1 MiB: the header "lies" about size.
    send(h, 200, gzip.compress(b"z" * (1024 * 1024)), headers={"Content-Encoding": "gzip"})


def _conditional(h: BaseHTTPRequestHandler, body: str) -> None:
    etag, stamp = '"v1"', "Mon, 23 Nov 2026 07:00:00 GMT"
    if h.headers.get("If-None-Match") == etag or h.headers.get("If-Modified-Since") == stamp:
        h.send_response(304)
        h.send_header("ETag", etag)
        h.end_headers()
        return
    send(h, 200, body, ctype="application/rss+xml", headers={"ETag": etag, "Last-Modified": stamp})


def _handler(web: LocalWeb) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            path = self.path.split("?", 1)[0]
            web.requests.append(Recorded(path, {k.lower(): v for k, v in self.headers.items()}))
            route = web.routes.get(path)
            if route is None:
                send(self, 404, "not found")
            else:
                route(self)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # keep test output clean

    return Handler


class QuietServer(ThreadingHTTPServer):
    """Tests cut connections on purpose (deadlines, size caps): a reset peer is not news."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture
def web() -> Iterator[LocalWeb]:
    """A LocalWeb serving the default routes on 127.0.0.1, port chosen by the OS."""
    site = LocalWeb()
    server = QuietServer(("127.0.0.1", 0), _handler(site))
    server.daemon_threads = True
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    site.routes.update(_default_routes(site))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
