"""The terminal under hostile data and careless use (issue #12), through the real console script.

A feed served on 127.0.0.1 carries rich markup (``[/x]``, ``[bold]``) and terminal escapes
(screen clear, a hidden OSC-8 link, a C1 CSI) in its titles, links and authors; every command
that prints them must exit cleanly and show them as text. Usage mistakes and impossible values
are one line and exit 2 / 1, never a traceback; ``-v`` never logs a webhook token.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from testkit.processes import Outcome, run_digestbot
from tests.bot.discord_standin import DiscordStandIn, serving_in_thread
from tests.hostile.conftest import Install

ESCAPES = ("\x1b", "\x9b", "\x07")
SCREEN_CLEAR = "\x1b[2J\x1b[H"
HIDDEN_LINK = "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"


def _feed(base: str) -> bytes:
    items = "".join(
        f"""<item><title>Ports [/x] reopen [bold]{i}{SCREEN_CLEAR}</title>
        <link>{base}/a[/x]b/{i}</link><guid>{base}/a[/x]b/{i}</guid>
        <author>ed@example.com (Evil \x1b[31mRed{HIDDEN_LINK}\x9b2J)</author>
        <description>Container ports are preparing for a slower season, officials said on
        Monday. Shipping lines have cancelled sailings {HIDDEN_LINK} across the region.
        Freight rates have dropped to their lowest level in years.</description></item>"""
        for i in range(1)
    )
    rss = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Hostile [/x] wire</title>
    <link>{base}/</link><description>d</description>{items}</channel></rss>"""
    # XML 1.0 forbids raw C0 controls; feedparser still reads them, as a careless feed has them.
    return rss.encode("utf-8")


def _page(i: str) -> bytes:
    html = f"""<!doctype html><html><head><title>Ports [/x] reopen [bold]{i}{SCREEN_CLEAR}</title>
    <meta name="author" content="Evil \x1b[31mRed{HIDDEN_LINK}\x9b2J"></head><body><article>
    <h1>Ports [/x] reopen [bold]{i}{SCREEN_CLEAR}</h1>
    <p>Container ports are preparing for a slower season, officials said on Monday, as trade
    volumes fell for the third month in a row across the region [/x].</p>
    <p>Shipping lines have cancelled dozens of sailings {HIDDEN_LINK}, and freight rates have
    dropped to their lowest level since the pandemic, according to the port operators.</p>
    <p>Port operators said they would use the lull to upgrade cranes and expand storage yards
    before demand recovers next spring, while analysts expect weaker imports.</p>
    </article></body></html>"""
    return html.encode("utf-8")


@pytest.fixture
def hostile_feed() -> Iterator[str]:
    """A feed URL on 127.0.0.1 whose items are full of markup and escape sequences."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path == "/feed.xml":
                body = _feed(f"http://127.0.0.1:{self.server.server_address[1]}")
                kind = "application/rss+xml"
            else:  # an item's article page
                body, kind = _page(self.path.rsplit("/", 1)[-1]), "text/html; charset=utf-8"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/feed.xml"
    server.shutdown()
    server.server_close()


def _clean(outcome: Outcome) -> None:
    shown = outcome.stdout + outcome.stderr
    assert not outcome.timed_out and "Traceback" not in shown, outcome.describe()
    assert "MarkupError" not in shown, outcome.describe()
    for escape in ESCAPES:
        assert escape not in shown, (escape, outcome.describe())


def test_markup_and_escapes_in_a_feed_reach_the_terminal_as_text(
    install: Install, hostile_feed: str
) -> None:
    (install.config / "sources.toml").write_text(
        f'[[source]]\nname = "hostile"\nfeed = "{hostile_feed}"\n'
    )
    env = {**install.env, "DIGESTBOT_ALLOW_PRIVATE_NETWORKS": "1"}  # the feed is on loopback
    ingest = run_digestbot("ingest", env=env, timeout=60)
    _clean(ingest)
    assert ingest.returncode == 0 and "1 added" in ingest.stderr + ingest.stdout, ingest.describe()
    with ThreadPoolExecutor(2) as pool:  # both only read the store: side by side
        digesting = pool.submit(run_digestbot, "digest", "--dry-run", "--since", "3650d", env=env)
        sources = pool.submit(run_digestbot, "sources", env=env).result()
        digest = digesting.result()
    _clean(digest)
    assert digest.returncode == 0, digest.describe()
    assert "Ports [/x] reopen [bold]" in digest.stdout, digest.describe()
    _clean(sources)
    assert sources.returncode == 0 and "hostile" in sources.stdout, sources.describe()


MISTAKES = [
    (["ingest", "http://127.0.0.1:9/[/x]"], 1),  # refused (loopback), shown as text
    (["--config", "/no/such/dir", "topics"], 1),
    (["digest", "--since", "999999d"], 2),  # a malformed option value: a usage error
    (["digest", "--bogus"], 2),
    (["topics", "extra-argument"], 2),
    (["no-such-command"], 2),
]


def test_mistakes_and_refusals_are_one_line_and_the_right_exit_code(install: Install) -> None:
    with ThreadPoolExecutor(len(MISTAKES)) as pool:  # independent runs: side by side
        runs = [(pool.submit(run_digestbot, *a, env=install.env), a, c) for a, c in MISTAKES]
        for run, args, code in runs:
            result = run.result()
            _clean(result)
            assert result.returncode == code, result.describe()
            lines = result.stderr.strip().splitlines()
            if args[0] == "ingest":  # one line for the refused URL, one for the report
                assert "http://127.0.0.1:9/[/x]" in lines[0] and len(lines) == 2, result.describe()
            else:
                assert len(lines) == 1 and lines[0].startswith("error:"), result.describe()


def test_verbose_never_logs_a_webhook_token(install: Install) -> None:
    token = "Zk3vQ9x_7mW2cJp5Lr8Tn1Hb4Yd6Fs0Ga-hostile-token"
    (install.inbox / "ports.txt").write_text(
        "Ports brace for a slower season\n\nContainer ports are preparing for a slower season. "
        "Shipping lines have cancelled sailings. Freight rates have dropped to a low.\n"
    )
    stand_in = DiscordStandIn()
    with serving_in_thread(stand_in.app()) as base:
        env = {**install.env, "DISCORD_API_URL": f"{base}/api"}
        webhook = stand_in.webhook_url(base, "333", token)
        result = run_digestbot("-v", "digest", "--post-discord", webhook, env=env, timeout=60)
    assert result.returncode == 0 and stand_in.messages, result.describe()
    assert "HTTP Request: POST" in result.stderr, result.describe()  # httpx did log it...
    assert token not in result.stdout + result.stderr  # ...without the token
