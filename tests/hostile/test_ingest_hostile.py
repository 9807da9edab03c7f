"""Hostile inputs to ingest and fetch (issue #12): each gives one clear line, loses nothing else.

Files: a FIFO, a symlink out of the inbox, NUL bytes past the first 8 KiB, a file that fails
twice, an HTML page with no date. Network (loopback only): a gzip bomb, single and stacked
(peak RSS of a child process), a deadline spread over retries and redirects, credentials in
URLs, address spellings of private networks.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from bot.platforms.discord.register import register_commands
from digests.config import Settings
from digests.errors import BlockedURLError, DeliveryError, FetchError, InputError
from digests.extract import extract
from digests.ingest.sources import ingest_sources
from digests.models import RawDocument
from digests.net.fetch import Fetcher
from digests.store import Store
from testkit.processes import free_port, run_digestbot, run_python
from tests.conftest import NOW, SEEDS
from tests.digests import http_fixtures
from tests.digests.http_fixtures import LocalWeb, QuietServer, send
from tests.hostile.conftest import Install

web = http_fixtures.web  # the local server fixture
PEAK_MB = 400  # issue #12's bound for the bomb
HANG_S = 60.0  # a hang guard, not a timing assertion
GiB = 1 << 30


def _seed(folder: Path, name: str = "good.txt") -> Path:
    target = folder / name
    shutil.copy(next(SEEDS.glob("*.txt")), target)
    return target


def _one_line(stderr: str, needle: str) -> str:
    lines = [line for line in stderr.splitlines() if needle in line]
    assert len(lines) == 1, stderr
    return lines[0]


# -- files ----------------------------------------------------------------------------------


def test_a_fifo_named_on_the_command_line_is_refused_without_a_hang(install: Install) -> None:
    fifo = install.root / "y.txt"
    os.mkfifo(fifo)
    outcome = run_digestbot("ingest", str(fifo), env=install.env, timeout=HANG_S)
    assert not outcome.timed_out, outcome.describe()
    assert outcome.returncode == 1, outcome.describe()
    line = _one_line(outcome.stderr, "y.txt")
    assert "not a regular file (a FIFO)" in line and "Traceback" not in outcome.stderr


def test_a_fifo_in_the_inbox_costs_only_itself(install: Install) -> None:
    os.mkfifo(install.inbox / "y.txt")
    _seed(install.inbox)
    outcome = run_digestbot("ingest", env=install.env, timeout=HANG_S)
    # The FIFO is a failure (exit 1); the good file still went in.
    assert not outcome.timed_out and outcome.returncode == 1, outcome.describe()
    assert "not a regular file (a FIFO)" in _one_line(outcome.stderr, "y.txt")
    assert "1 added" in outcome.stderr


@pytest.mark.parametrize(
    "markup",
    [
        "<a href='x'>Wire</a> " + "<script " * 500_000,  # opened scripts never closed
        "A report <a href='x'>from the wire</a> says the talks went on. " + "<p" * 1_000_000,
        "<div>" * 200_000 + "deep",  # deeper than the parser goes
    ],
)
def test_a_hostile_html_fragment_in_json_costs_only_itself(install: Install, markup: str) -> None:
    # A feed-style JSON item whose text is a few MB of hostile markup: parsed as a tree in
    # linear time (a pattern over it was quadratic: 40k "<script" took 47 s), stored or one
    # clear line, and the good file beside it still goes in.
    (install.inbox / "hostile.json").write_text(json.dumps({"title": "Talks", "text": markup}))
    _seed(install.inbox)
    outcome = run_digestbot("ingest", env=install.env, timeout=HANG_S)
    assert not outcome.timed_out, outcome.describe()
    assert "Traceback" not in outcome.stderr, outcome.describe()
    if outcome.returncode == 1:  # refused: one line naming the file
        assert "no words" in _one_line(outcome.stderr, "hostile.json")
        assert "1 added" in outcome.stderr
    else:
        assert outcome.returncode == 0 and "2 added" in outcome.stderr, outcome.describe()


def test_a_symlink_out_of_the_inbox_is_refused_unless_the_source_allows_it(
    install: Install,
) -> None:
    outside = install.root / "private"
    outside.mkdir()
    secret = _seed(outside, "secret.txt")
    (install.inbox / "link.txt").symlink_to(secret)
    (install.inbox / "linked-dir").symlink_to(outside, target_is_directory=True)
    _seed(install.inbox)
    (install.inbox / "inside.txt").symlink_to(install.inbox / "good.txt")  # stays inside: fine
    outcome = run_digestbot("ingest", env=install.env, timeout=HANG_S)
    assert outcome.returncode == 1, outcome.describe()  # refused links are failures
    assert "symlink leads outside the folder" in _one_line(outcome.stderr, "link.txt")
    assert "symlink leads outside the folder" in _one_line(outcome.stderr, "linked-dir")
    assert "1 added, 0 unchanged, 1 duplicate, 2 failed" in outcome.stderr  # inside.txt = dup

    sources = install.config / "sources.toml"
    sources.write_text('[[source]]\nname = "inbox"\nfolder = "seeds"\nfollow_symlinks = true\n')
    allowed = run_digestbot("ingest", env=install.env, timeout=HANG_S)
    assert allowed.returncode == 0, allowed.describe()
    assert "symlink" not in allowed.stderr and "0 failed" in allowed.stderr


def test_nul_bytes_anywhere_are_refused(settings: Settings, store: Store) -> None:
    late = settings.inbox / "late-nul.txt"
    late.write_bytes(b"A perfectly normal sentence about ports. " * 400 + b"\x00tail")
    assert late.read_bytes().index(b"\x00") > 8192
    report = ingest_sources(store, settings, now=NOW)
    assert len(report.added) == 5  # the seeds: nothing else lost
    ((locator, reason),) = report.failed
    assert locator.endswith("late-nul.txt")
    assert reason == "file looks binary (a NUL byte at offset 16,400), not text"


def test_a_failed_file_stays_failed_until_it_changes(settings: Settings, store: Store) -> None:
    bad = settings.inbox / "menu.html"
    bad.write_text("<html><body><nav>Home</nav></body></html>")
    first = ingest_sources(store, settings, now=NOW)
    assert [Path(p).name for p, _ in first.failed] == ["menu.html"]
    again = ingest_sources(store, settings, now=NOW)
    assert (again.unchanged, [Path(p).name for p, _ in again.failed]) == (5, ["menu.html"])
    assert again.failed[0][1] == first.failed[0][1]  # the same one-line reason, every run
    assert first.failed[0][1] == "no article text found in the HTML"  # not the path twice
    bad.write_text(http_fixtures.article_html("one"))  # fixed: retried, now an article
    fixed = ingest_sources(store, settings, now=NOW)
    assert fixed.failed == [] and len(fixed.added) == 1


def test_an_html_page_without_a_date_has_no_date(settings: Settings, store: Store) -> None:
    page = settings.inbox / "undated.html"
    page.write_text(
        http_fixtures.article_html("two").replace(
            "<footer>Copyright Example News</footer>",
            "<footer>© 1995 Example News, call 555-1995</footer><img src='/img/1995/x.jpg'>",
        )
    )
    dated = settings.inbox / "dated.html"
    dated.write_text(
        http_fixtures.article_html("three").replace(
            "<head>",
            '<head><meta property="article:published_time" content="2026-11-20T06:00:00Z">',
        )
    )
    empty = settings.model_copy(update={"sources": ()})
    report = ingest_sources(store, empty, now=NOW, paths=[page, dated])
    assert report.failed == [] and len(report.added) == 2
    published = {a.title: a.published for a in store.articles.get(report.added)}
    assert published[http_fixtures.ARTICLES["two"][0]] is None
    assert published[http_fixtures.ARTICLES["three"][0]].date().isoformat() == "2026-11-20"


# -- network --------------------------------------------------------------------------------


def _gzip_bomb(size: int) -> bytes:
    """``size`` zero bytes, gzipped (fast level: the bomb is the ratio, not the level)."""
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    return b"".join([*(packer.compress(block) for _ in range(size >> 20)), packer.flush()])


def _gzip(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    return packer.compress(data) + packer.flush()


@pytest.fixture(scope="module")
def bombs() -> Iterator[tuple[str, dict[str, int]]]:
    """A loopback server with 1 GiB gzip bombs: ``/gzip`` (one layer), ``/gzip-gzip`` (two)."""
    inner = _gzip_bomb(GiB)
    bodies = {"/gzip": (inner, "gzip"), "/gzip-gzip": (_gzip(inner), "gzip, gzip")}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            body, coding = bodies[self.path]
            send(self, 200, body, headers={"Content-Encoding": coding})

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield (
            f"http://127.0.0.1:{server.server_address[1]}",
            {path: len(body) for path, (body, _) in bodies.items()},
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


_FETCH = """
import sys
from digests.errors import FetchError
from digests.net.fetch import Fetcher
with Fetcher(allow_private_networks=True, deadline=50) as fetcher:
    try:
        got = fetcher.fetch(sys.argv[1])
        print("fetched", len(got.content))
    except FetchError as exc:
        print("refused:", exc)
"""


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/gzip", "refused: body is over the 15,728,640-byte limit"),
        (
            "/gzip-gzip",
            "refused: content coding 'gzip, gzip' refused: at most one coding is accepted",
        ),
    ],
)
def test_a_gzip_bomb_is_refused_in_bounded_memory(
    bombs: tuple[str, dict[str, int]], path: str, expected: str
) -> None:
    base, wire = bombs
    assert wire[path] < 5 << 20  # a few KB (stacked) to ~5 MB (one layer) on the wire
    outcome = run_python(_FETCH, base + path, timeout=HANG_S)
    assert outcome.returncode == 0 and not outcome.timed_out, outcome.describe()
    assert outcome.stdout.strip() == expected
    assert outcome.peak_rss_mb <= PEAK_MB, outcome.describe()


def test_the_deadline_spans_a_chain_of_slow_redirects(web: LocalWeb) -> None:
    def hop(h: BaseHTTPRequestHandler) -> None:
        n = web.hit("/hop")
        time.sleep(0.15)
        send(h, 302, "", headers={"Location": f"/hop?n={n}"})

    web.routes["/hop"] = hop
    with (
        Fetcher(allow_private_networks=True, deadline=0.4, max_redirects=50) as fetcher,
        pytest.raises(FetchError, match=r"no complete response within 0.4 s"),
    ):
        fetcher.fetch(web.url("/hop"))
    assert web.counters["/hop"] <= 4  # not fifty hops of 0.15 s each


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://[fec0::1]/", "site-local address fec0::1"),
        ("http://[fec0:0:0:ffff::1]:8080/", "site-local"),
        ("http://[::ffff:127.0.0.1]/", "loopback address 127.0.0.1"),
        ("http://[::127.0.0.1]/", "loopback address 127.0.0.1"),
        ("http://[64:ff9b:1::a9fe:a9fe]/", "link-local address 169.254.169.254"),
        ("http://[::ffff:100.64.0.1]/", "carrier-grade NAT"),
    ],
)
def test_private_addresses_in_any_spelling_are_refused(url: str, reason: str) -> None:
    seen: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200))
    with Fetcher(deadline=1, transport=transport) as fetcher, pytest.raises(BlockedURLError) as e:
        fetcher.fetch(url)
    assert reason in str(e.value) and seen == []


def test_credentials_in_urls_never_reach_an_error_message() -> None:
    port = free_port()  # nothing listens there: the connection is refused
    secret_url = f"http://bot:hunter2@127.0.0.1:{port}/api/webhooks/1/s3cr3t-token?key=k3y"
    with Fetcher(allow_private_networks=True, deadline=2) as fetcher, pytest.raises(FetchError):
        fetcher.fetch(secret_url)

    async def register() -> None:
        async with httpx.AsyncClient() as client:
            await register_commands(
                client, application_id="1", bot_token="t0ken", api_url=secret_url
            )

    with pytest.raises(DeliveryError) as caught:
        asyncio.run(register())
    message = str(caught.value)
    assert message.startswith(f"cannot reach Discord at http://***@127.0.0.1:{port}/")
    for secret in ("hunter2", "s3cr3t-token", "k3y", "t0ken"):
        assert secret not in message


@pytest.mark.parametrize(
    "content",
    [
        b"<html><body><p>" + b"A sentence of news. " * 600 + b"\x00tail</p></body></html>",
        "\ufeffA title\n\nBody text \x00 hidden late.".encode("utf-16"),
    ],
    ids=["html-late-nul", "utf16-nul"],
)
def test_a_fetched_page_with_a_nul_anywhere_is_refused(content: bytes) -> None:
    # Pages from feeds never pass through the file reader: extract itself must refuse them.
    raw = RawDocument(locator="https://example.org/a", kind="html", content=content)
    with pytest.raises(InputError, match="binary"):
        extract(raw)
