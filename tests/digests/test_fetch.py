"""The fetcher against a real local server: bounds, retries, conditional GET, the SSRF guard."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from digests.errors import BlockedURLError, FetchError
from digests.net.fetch import Fetcher, refusal, user_agent
from tests.digests import http_fixtures
from tests.digests.http_fixtures import LocalWeb

web = http_fixtures.web  # the local server fixture

KiB = 1024


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def fetcher(sleeps: list[float]) -> Iterator[Fetcher]:
    """A fetcher for the local server: private networks allowed, small bounds, no real waits."""
    with Fetcher(
        allow_private_networks=True, deadline=0.5, max_bytes=64 * KiB, sleep=sleeps.append
    ) as f:
        yield f


@pytest.fixture
def patient(sleeps: list[float]) -> Iterator[Fetcher]:
    """Like ``fetcher``, with a deadline long enough for the (recorded, not slept) retry waits."""
    with Fetcher(
        allow_private_networks=True, deadline=30, max_bytes=64 * KiB, sleep=sleeps.append
    ) as f:
        yield f


def test_fetches_a_page_with_a_clear_user_agent(web: LocalWeb, fetcher: Fetcher) -> None:
    got = fetcher.fetch(web.url("/articles/one.html"))
    assert got.status == 200 and b"Taiwan weighs" in got.content
    assert got.content_type.startswith("text/html")
    agent = web.seen("/articles/one.html")[0].headers["user-agent"]
    assert agent == user_agent() and agent.startswith("digestbot/") and "(+http" in agent


def test_conditional_get_sends_validators_and_304_means_nothing(
    web: LocalWeb, fetcher: Fetcher
) -> None:
    first = fetcher.fetch(web.url("/cached.xml"))
    assert first.status == 200 and first.etag == '"v1"' and first.last_modified
    again = fetcher.fetch(
        web.url("/cached.xml"), etag=first.etag, last_modified=first.last_modified
    )
    assert again.not_modified and again.content == b""
    sent = web.seen("/cached.xml")[1].headers
    assert sent["if-none-match"] == '"v1"' and sent["if-modified-since"] == first.last_modified


def test_unchanged_feeds_reuse_one_connection(web: LocalWeb, fetcher: Fetcher) -> None:
    """A 304 leaves its connection alive: polling many unchanged feeds is no new connection each."""
    ports: list[int] = []

    def not_modified(h: BaseHTTPRequestHandler) -> None:
        ports.append(h.client_address[1])
        h.send_response(304)
        h.send_header("ETag", '"v1"')
        h.end_headers()

    web.routes["/same.xml"] = not_modified
    for _ in range(3):
        assert fetcher.fetch(web.url("/same.xml"), etag='"v1"').not_modified
    assert len(ports) == 3 and len(set(ports)) == 1


def test_slow_trickle_hits_the_total_deadline(web: LocalWeb, fetcher: Fetcher) -> None:
    # Each byte arrives well within httpx's per-read timeout; only a total deadline stops it.
    with pytest.raises(FetchError, match=r"no complete response within 0.5 s"):
        fetcher.fetch(web.url("/slow"))


def test_total_deadline_covers_a_header_trickle_too(web: LocalWeb, fetcher: Fetcher) -> None:
    with pytest.raises(FetchError, match=r"no complete response within 0.5 s"):
        fetcher.fetch(web.url("/stall-headers"))


def test_at_most_per_host_requests_at_once(web: LocalWeb) -> None:
    with (
        Fetcher(allow_private_networks=True, per_host=2, deadline=5) as polite,
        ThreadPoolExecutor(6) as pool,
    ):
        statuses = list(pool.map(lambda _: polite.fetch(web.url("/busy")).status, range(6)))
    assert statuses == [200] * 6
    assert web.counters["max-in-flight"] <= 2


def test_body_over_the_cap_is_refused(web: LocalWeb, fetcher: Fetcher) -> None:
    with pytest.raises(FetchError, match=r"1,048,576 bytes is over the 65,536-byte limit"):
        fetcher.fetch(web.url("/huge"))


def test_cap_is_enforced_while_streaming_without_content_length(
    web: LocalWeb, fetcher: Fetcher
) -> None:
    with pytest.raises(FetchError, match=r"over the 65,536-byte limit"):
        fetcher.fetch(web.url("/unsized"))


def test_cap_counts_decoded_bytes_of_a_gzip_bomb(web: LocalWeb, fetcher: Fetcher) -> None:
    with pytest.raises(FetchError, match=r"body is over the 65,536-byte limit"):
        fetcher.fetch(web.url("/bomb"))


def test_redirects_are_followed_and_loops_stop(web: LocalWeb, fetcher: Fetcher) -> None:
    moved = fetcher.fetch(web.url("/moved.xml"))
    assert moved.url == web.url("/rss.xml") and b"<rss" in moved.content
    with pytest.raises(FetchError, match=r"too many redirects \(more than 5\)"):
        fetcher.fetch(web.url("/loop"))
    assert len(web.seen("/loop")) + len(web.seen("/loop2")) == 6


def test_429_is_retried_after_retry_after(
    web: LocalWeb, patient: Fetcher, sleeps: list[float]
) -> None:
    got = patient.fetch(web.url("/limited"))
    assert got.status == 200 and sleeps == [2.0]


def test_5xx_is_retried_with_backoff_then_gives_up(
    web: LocalWeb, patient: Fetcher, sleeps: list[float]
) -> None:
    assert patient.fetch(web.url("/flaky")).status == 200
    assert sleeps == [1.0, 2.0]
    sleeps.clear()
    with pytest.raises(FetchError, match=r"HTTP 503 Service Unavailable after 3 attempts"):
        patient.fetch(web.url("/always-503"))
    assert sleeps == [1.0, 2.0]


def test_retry_after_beyond_the_bound_fails_at_once(
    web: LocalWeb, patient: Fetcher, sleeps: list[float]
) -> None:
    with pytest.raises(
        FetchError, match=r"HTTP 429 Too Many Requests: asked to retry after 86400 s"
    ):
        patient.fetch(web.url("/patient"))
    assert sleeps == []


def test_client_errors_are_one_line(web: LocalWeb, fetcher: Fetcher) -> None:
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(web.url("/missing"))
    assert str(caught.value) == "HTTP 404 Not Found"


def test_an_error_says_its_status_and_whether_a_later_try_may_work(
    web: LocalWeb, patient: Fetcher
) -> None:
    web.routes["/forbidden"] = lambda h: http_fixtures.send(h, 403, "no")
    web.routes["/timeout"] = lambda h: http_fixtures.send(h, 408, "late")
    web.routes["/moved-to-missing"] = lambda h: http_fixtures.send(
        h, 302, "", headers={"Location": "/missing"}
    )
    with socket.socket() as closed:  # a port nothing listens on: connection refused
        closed.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{closed.getsockname()[1]}/feed"
    cases = {
        web.url("/missing"): (404, False),
        web.url("/forbidden"): (403, False),
        web.url("/moved-to-missing"): (404, False),  # said after the redirect, still a 404
        web.url("/timeout"): (408, True),
        web.url("/always-503"): (503, True),
        web.url("/patient"): (429, True),
        web.url("/loop"): (None, False),
        refused: (None, True),
    }
    for url, expected in cases.items():
        with pytest.raises(FetchError) as caught:
            patient.fetch(url)
        assert (caught.value.status, caught.value.retryable) == expected, (url, caught.value)
    with Fetcher(deadline=0.5) as strict, pytest.raises(BlockedURLError) as blocked:
        strict.fetch(web.url("/rss.xml"))
    assert (blocked.value.status, blocked.value.retryable) == (None, False)


def test_only_http_and_https(fetcher: Fetcher) -> None:
    for url in ("file:///etc/passwd", "ftp://example.com/x", "gopher://x/"):
        with pytest.raises(BlockedURLError, match="only http and https"):
            fetcher.fetch(url)


def test_loopback_is_refused_unless_private_networks_are_allowed(web: LocalWeb) -> None:
    with Fetcher(deadline=0.5) as strict, pytest.raises(BlockedURLError) as caught:
        strict.fetch(web.url("/rss.xml"))
    assert "loopback address 127.0.0.1" in str(caught.value)
    assert "allow_private_networks" in str(caught.value)
    assert web.requests == []  # refused before connecting


def test_host_names_are_checked_on_the_resolved_address(web: LocalWeb) -> None:
    # A public-looking name that resolves to a private address is refused, not connected to.
    resolved: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        resolved.append(host)
        return {"news.example": ["93.184.216.34", "10.0.0.7"], "cgnat.example": ["100.64.1.1"]}[
            host
        ]

    with Fetcher(deadline=0.5, resolver=resolver) as strict:
        with pytest.raises(
            BlockedURLError, match=r"refused news.example: it resolves to private address 10.0.0.7"
        ):
            strict.fetch("http://news.example/feed")
        with pytest.raises(BlockedURLError, match=r"carrier-grade NAT"):
            strict.fetch("https://cgnat.example/feed")
    assert resolved == ["news.example", "cgnat.example"]


def test_every_redirect_hop_is_checked_again(web: LocalWeb) -> None:
    # The local server itself is trusted explicitly; where it redirects to is not.
    with Fetcher(deadline=0.5, trusted_networks=["127.0.0.1/32"]) as guarded:
        assert guarded.fetch(web.url("/moved.xml")).status == 200
        with pytest.raises(
            BlockedURLError,
            match=r"redirected to http://10.1.2.3/feed: refused private address 10.1.2.3",
        ):
            guarded.fetch(web.url("/to-private"))
        with pytest.raises(BlockedURLError, match=r"refused link-local address 169.254.169.254"):
            guarded.fetch(web.url("/to-metadata"))
        with pytest.raises(
            BlockedURLError,
            match=r"redirected to file:/etc/passwd: only http and https URLs are fetched, not file:",
        ):
            guarded.fetch(web.url("/to-file"))


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.1.1", "private"),
        ("172.16.0.1", "private"),
        ("192.168.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("fd00::1", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("64:ff9b::a00:1", "private"),
        ("2002:7f00:1::", "loopback"),
        ("fec0::1", "site-local"),
        ("::127.0.0.1", "loopback"),
        ("64:ff9b:1::a00:1", "private"),
        ("::ffff:100.64.0.1", "carrier-grade NAT"),
        ("93.184.216.34", None),
        ("2606:2800:220:1:248:1893:25c8:1946", None),
    ],
)
def test_refusal_categories(address: str, reason: str | None) -> None:
    found = refusal(address)
    assert (found is None) if reason is None else (found is not None and reason in found)


@pytest.fixture
def tls_site(tmp_path: Path, web: LocalWeb) -> Iterator[tuple[int, Path]]:
    """The local site over HTTPS, with a self-signed certificate for ``feeds.test``."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=feeds.test",
         "-addext", "subjectAltName=DNS:feeds.test"],
        check=True, capture_output=True,
    )  # fmt: skip
    server = http_fixtures.QuietServer(("127.0.0.1", 0), http_fixtures._handler(web))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1], cert
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_tls_verifies_the_host_name_while_connecting_to_the_vetted_address(
    tls_site: tuple[int, Path],
) -> None:
    # The name resolves (here, by the injected resolver) to the address the guard vetted;
    # the certificate is still checked against the *name*, through SNI.
    port, cert = tls_site
    names = {"feeds.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]}
    trusted = ssl.create_default_context(cafile=str(cert))
    with Fetcher(
        trusted_networks=["127.0.0.1/32"],
        resolver=lambda host, _port: names[host],
        ssl_context=trusted,
        deadline=2,
    ) as fetcher:
        got = fetcher.fetch(f"https://feeds.test:{port}/articles/one.html")
        assert got.status == 200 and b"Taiwan weighs" in got.content
        with pytest.raises(FetchError, match="cannot connect: .*certificate"):
            fetcher.fetch(f"https://other.test:{port}/articles/one.html")


# -- the guard wraps an injected transport; the deadline is total -----------------------------


def _recording(seen: list[httpx.Request]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, html="<html><body>ok</body></html>")

    return httpx.MockTransport(answer)


def test_an_injected_transport_cannot_bypass_the_guard() -> None:
    seen: list[httpx.Request] = []
    names = {"news.example": ["93.184.216.34", "10.0.0.7"]}
    with Fetcher(transport=_recording(seen), resolver=lambda h, _p: names[h]) as fetcher:
        with pytest.raises(BlockedURLError, match=r"resolves to private address 10.0.0.7"):
            fetcher.fetch("http://news.example/feed")
        with pytest.raises(BlockedURLError, match=r"site-local address fec0::1"):
            fetcher.fetch("http://[fec0::1]/feed")
    assert seen == []  # refused before the injected transport was ever called


def test_an_injected_transport_is_sent_the_vetted_address_and_keeps_the_name() -> None:
    seen: list[httpx.Request] = []
    names = {"news.example": ["93.184.216.34"]}
    with Fetcher(transport=_recording(seen), resolver=lambda h, _p: names[h]) as fetcher:
        got = fetcher.fetch("https://news.example:8443/feed?x=1")
    assert got.status == 200 and got.url == "https://news.example:8443/feed?x=1"
    (request,) = seen
    assert request.url.host == "93.184.216.34" and request.url.port == 8443
    assert request.url.raw_path == b"/feed?x=1"
    assert request.headers["host"] == "news.example:8443"
    assert request.extensions["sni_hostname"] == "news.example"  # TLS checks the name


def test_an_injected_transport_cannot_outlast_the_deadline(web: LocalWeb) -> None:
    # httpx's own transport, injected: its timeouts are per read, and the header trickle
    # never lets one expire; the guard still ends the request at the total deadline.
    with Fetcher(
        deadline=0.5, trusted_networks=["127.0.0.1/32"], transport=httpx.HTTPTransport()
    ) as fetcher:
        with pytest.raises(FetchError, match=r"no complete response within 0.5 s"):
            fetcher.fetch(web.url("/stall-headers"))
        with pytest.raises(FetchError, match=r"no complete response within 0.5 s"):
            fetcher.fetch(web.url("/slow"))
        assert fetcher.fetch(web.url("/moved.xml")).status == 200


def test_the_deadline_covers_every_retry(web: LocalWeb) -> None:
    def slow_busy(h: BaseHTTPRequestHandler) -> None:
        web.hit("/slow-503")
        time.sleep(0.2)
        http_fixtures.send(h, 503, "busy", headers={"Retry-After": "0"})

    web.routes["/slow-503"] = slow_busy
    with (
        Fetcher(
            allow_private_networks=True, deadline=0.5, retries=10, sleep=lambda _s: None
        ) as fetcher,
        pytest.raises(FetchError, match=r"no complete response within 0.5 s"),
    ):
        fetcher.fetch(web.url("/slow-503"))
    assert web.counters["/slow-503"] <= 3  # not eleven attempts of 0.2 s each


def test_a_retry_wait_past_the_deadline_fails_at_once(
    web: LocalWeb, fetcher: Fetcher, sleeps: list[float]
) -> None:
    with pytest.raises(
        FetchError, match=r"HTTP 429 Too Many Requests; a retry in 2 s would pass the 0.5 s"
    ):
        fetcher.fetch(web.url("/limited"))
    assert sleeps == []


def test_errors_never_quote_credentials(web: LocalWeb) -> None:
    web.routes["/to-secret"] = lambda h: http_fixtures.send(
        h, 302, "", headers={"Location": "http://user:hunter2@10.1.2.3/hook?token=abc"}
    )
    with (
        Fetcher(deadline=0.5, trusted_networks=["127.0.0.1/32"]) as guarded,
        pytest.raises(BlockedURLError) as caught,
    ):
        guarded.fetch(web.url("/to-secret"))
    message = str(caught.value)
    assert "redirected to http://***@10.1.2.3/hook?token=***" in message
    assert "hunter2" not in message and "abc" not in message
