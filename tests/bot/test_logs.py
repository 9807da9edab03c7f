"""One logging setup: digests.* and bot.* records reach it, JSON lines on request, and no
token, signing secret or webhook URL is ever written, at any level."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from bot.logs import MASK, configure_logging, redact, secrets_filter, set_level
from digests.net.util import redact_url

WEBHOOK_TOKEN = "Zk3vQ9x_7mW2cJp5Lr8Tn1Hb4Yd6Fs0Ga-Ke3Ui9Oq7Pw2Ez5Rx8Vc1Bn4Mt6Ly0"
INTERACTION_TOKEN = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OmFiY2RlZmdoaWprbG1ub3A"
DISCORD_BOT_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    buf = io.StringIO()
    configure_logging(verbose=True, stream=buf)
    yield buf
    configure_logging()  # back to the defaults for the tests that follow


@pytest.fixture
def server() -> Iterator[str]:
    class Ok(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_verbose_httpx_request_lines_hide_webhook_and_interaction_tokens(
    logs: io.StringIO, server: str
) -> None:
    with httpx.Client() as client:
        client.post(f"{server}/api/v10/webhooks/123456/{WEBHOOK_TOKEN}?wait=true", json={})
        client.post(f"{server}/api/v10/webhooks/99/{INTERACTION_TOKEN}/messages/@original")
        client.post(
            f"{server}/api/x", headers={"Authorization": f"Bot {DISCORD_BOT_TOKEN}"}, json={}
        )
    text = logs.getvalue()
    assert "HTTP Request: POST" in text and "/webhooks/123456/" in text  # the line is there
    for secret in (WEBHOOK_TOKEN, INTERACTION_TOKEN, DISCORD_BOT_TOKEN):
        assert secret not in text


def test_every_level_and_tracebacks_are_redacted(logs: io.StringIO) -> None:
    secrets_filter().add("8f742231b10e8888abcd99yyyzzz0000")  # a signing secret
    log = logging.getLogger("digests.net.fetch")
    log.debug("token xoxb-1234-5678-abcdefghijkl sent")
    log.info("app token %s", "xapp-1-A0123-456-abcdef")
    log.warning("hook https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXX failed")
    log.error("signing secret is 8f742231b10e8888abcd99yyyzzz0000")
    try:
        raise RuntimeError(f"refused: Authorization: Bot {DISCORD_BOT_TOKEN}")
    except RuntimeError:
        logging.getLogger("bot.deliver").exception("send failed (xoxp-9999-8888-secretvalue)")
    text = logs.getvalue()
    for secret in (
        "xoxb-1234-5678-abcdefghijkl",
        "xapp-1-A0123-456-abcdef",
        "XXXXXXXXXXXX",
        "8f742231b10e8888abcd99yyyzzz0000",
        DISCORD_BOT_TOKEN,
        "xoxp-9999-8888-secretvalue",
    ):
        assert secret not in text
    assert text.count(MASK) >= 6 and "Traceback" in text and "RuntimeError" in text


def test_digests_warnings_reach_the_one_handler_as_json_lines() -> None:
    buf = io.StringIO()
    try:
        configure_logging(fmt="json", stream=buf)
        set_level(logging.INFO)  # what serve does
        logging.getLogger("digests.update").warning("feed %s failed", "news")
        logging.getLogger("bot.schedule").info("digest posted")
        logging.getLogger("digests.update").debug("not shown")
        logging.getLogger("httpx").info("library info is not shown without -v")
    finally:
        configure_logging()
    records = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert [(r["level"], r["logger"], r["message"]) for r in records] == [
        ("WARNING", "digests.update", "feed news failed"),
        ("INFO", "bot.schedule", "digest posted"),
    ]
    assert all(r["time"].endswith("+00:00") for r in records)


def test_redact_leaves_ordinary_text_alone() -> None:
    text = "5 added, 0 unchanged; see https://example.com/news/2026/taiwan.html"
    assert redact(text) == text
    assert redact("postgresql+psycopg://bob:hunter2@db/x") == "postgresql+psycopg://***@db/x"
    assert "s3cr3t" not in redact("signing_secret=s3cr3t&x=1")


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/feed.xml?apikey=k3y-s3cr3t&page=2",  # any query value
        "https://hooks.slack.com/commands/T0001/2222/r3sp0nse-s3cr3t",  # a response_url
        "https://hooks.slack.com/services/T0001/B0002/XXXXs3cr3t",
        "https://discord.com/api/v10/webhooks/123/s3cr3t-t0k/messages/@original",
        "https://chat.example.com/hooks/s3cr3tk7xq1",  # a Mattermost incoming webhook
        "https://bob:s3cr3t@feeds.example/rss",
    ],
)
def test_urls_in_logs_are_redacted_by_the_core_rule(url: str, logs: io.StringIO) -> None:
    logging.getLogger("digests.net.fetch").warning("fetching %s failed (timeout)", url)
    line = logs.getvalue()
    assert "s3cr3t" not in line
    assert f"fetching {redact_url(url)} failed (timeout)" in line  # the one implementation


def test_a_log_line_keeps_the_full_stop_after_a_redacted_url(logs: io.StringIO) -> None:
    hook = "https://hooks.slack.com/services/T000/B000/XXXXs3cr3t"
    logging.getLogger("bot.deliver").warning("posting to %s.", hook)
    assert "posting to https://hooks.slack.com/services/T000/B000/***.\n" in logs.getvalue()


def test_verbose_post_discord_never_logs_the_webhook_token(
    config_dir, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main
    from tests.bot.discord_standin import DiscordStandIn, serving_in_thread

    stand_in = DiscordStandIn(retry_after=0.01)
    token = "Zk3vQ9x_7mW2cJp5Lr8Tn1Hb4Yd6Fs0Ga-verbose-token"
    with serving_in_thread(stand_in.app()) as base:
        monkeypatch.setenv("DIGESTBOT_CONFIG_DIR", str(config_dir))
        monkeypatch.setenv("DIGESTBOT_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("DISCORD_API_URL", f"{base}/api")
        monkeypatch.delenv("DIGESTBOT_LOG_FORMAT", raising=False)
        webhook = stand_in.webhook_url(base, "333", token)
        try:
            with pytest.raises(SystemExit) as info:
                main(["-v", "digest", "--post-discord", webhook])
        finally:
            configure_logging()
    captured = capsys.readouterr()
    assert info.value.code == 0, captured.err
    assert stand_in.messages  # it was really posted, and httpx logged the request
    assert "HTTP Request: POST" in captured.err and "/webhooks/333/" in captured.err
    assert token not in captured.err + captured.out
