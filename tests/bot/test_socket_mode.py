"""`digestbot serve` in Slack Socket Mode, end to end against the local Slack stand-in.

``run_serve`` itself assembles the bot from an environ (SLACK_APP_TOKEN set, SLACK_API_URL at
the stub); only its last step, uvicorn, is swapped for a server the test can stop. The stub
answers ``apps.connections.open`` with a websocket on 127.0.0.1 that says ``hello`` and sends
a ``/brief taiwan`` envelope, as Slack does.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Protocol

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from bot import server as bot_server
from bot.guard import HeaderDeadline
from bot.platforms.slack import routes as slack_routes
from bot.serve import run_serve
from digests.config import Settings
from digests.store import Store
from testkit.slack_requests import SECRET
from testkit.slack_stub import APP_TOKEN, SlackStub
from tests.bot.conftest import add_taiwan_articles


class Start(Protocol):
    def __call__(self, app_token: str, *, api_url: str | None = None) -> str:
        """Start serve with this app token (and SLACK_API_URL): the bot's HTTP base URL."""
        ...


def envelope(stub: SlackStub, text: str) -> dict:
    """A slash command as Slack sends it over Socket Mode."""
    return {
        "envelope_id": "e1",
        "type": "slash_commands",
        "accepts_response_payload": True,
        "payload": {
            "token": "legacy",
            "team_id": "T1",
            "team_domain": "test",
            "channel_id": "C123",
            "channel_name": "news",
            "user_id": "U1",
            "user_name": "ana",
            "command": "/brief",
            "text": text,
            "api_app_id": "A1",
            "is_enterprise_install": "false",
            "response_url": stub.response_url("r1"),
            "trigger_id": "1.2.3",
        },
    }


@pytest.fixture
def start_serve(
    slack_stub: SlackStub, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Start]:
    """Run ``run_serve`` in a thread on 127.0.0.1:0; stop it (within 10 s) at teardown."""
    # No sources to poll, no config subscriptions: the scheduler runs, but only Slack talks.
    # ...and an empty inbox: serve ingests the inbox it watches, and these tests brief on
    # the articles they store themselves.
    empty = settings.inbox.parent / "empty-inbox"
    empty.mkdir(exist_ok=True)
    core = settings.model_copy(update={"sources": (), "subscriptions": (), "inbox": empty})
    store = Store.open(core.database_url)
    add_taiwan_articles(store)
    store.close()
    servers: queue.Queue[uvicorn.Server] = queue.Queue()

    def serve(
        app: Starlette,
        *,
        host: str,
        port: int,
        request_timeout: float,
        on_stop: Callable[[], None] | None = None,  # signals: none reach a thread
        on_listen: Callable[[], None] | None = None,
    ) -> None:
        if on_listen is not None:  # as bot.server.serve does once the port is known free
            on_listen()
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning",
            http=HeaderDeadline.lasting(request_timeout),  # as bot.server.serve runs it
        )  # fmt: skip
        server = uvicorn.Server(config)
        servers.put(server)
        server.run()

    monkeypatch.setattr(bot_server, "serve", serve)
    bot_logger = logging.getLogger("bot")
    level = bot_logger.level  # run_serve raises it to INFO for the process
    threads: list[threading.Thread] = []
    running: list[uvicorn.Server] = []

    def start(app_token: str, *, api_url: str | None = None) -> str:
        environ: Mapping[str, str] = {
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_APP_TOKEN": app_token,
            "SLACK_API_URL": api_url or slack_stub.api_url,
            "HOST": "127.0.0.1",
            "PORT": "0",
        }
        thread = threading.Thread(target=run_serve, args=(core, environ), daemon=True)
        thread.start()
        threads.append(thread)
        server = servers.get(timeout=10)
        running.append(server)
        deadline = time.monotonic() + 10
        while not server.started:  # bounded poll: uvicorn binds, then runs the lifespan
            assert time.monotonic() < deadline, "serve did not start"
            assert thread.is_alive(), "serve exited during start-up"
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    yield start
    for server in running:
        server.should_exit = True
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive(), "serve did not shut down"
    bot_logger.setLevel(level)


def test_brief_over_socket_mode_is_acked_and_answered(
    slack_stub: SlackStub, start_serve: Start
) -> None:
    slack_stub.socket_envelopes.append(envelope(slack_stub, "taiwan"))
    base = start_serve(APP_TOKEN)

    # The socket URL came from SLACK_API_URL (the stub), asked for with the app-level token.
    [opened] = slack_stub.wait_for("apps.connections.open")
    assert opened.headers["Authorization"] == f"Bearer {APP_TOKEN}"

    # Acked over the websocket, with the envelope id, well inside Slack's 3 s.
    [ack] = slack_stub.wait_for("socket:received")
    assert ack.params["envelope_id"] == "e1"
    assert "payload" not in ack.params  # /brief taiwan acks empty; the answer follows
    [sent] = [c for c in slack_stub.of("socket:sent") if c.params.get("envelope_id") == "e1"]
    assert ack.at - sent.at < 3.0

    # The cited brief arrives at response_url.
    [answer] = slack_stub.wait_for("response:r1")
    message = answer.params
    assert message["response_type"] == "ephemeral"
    blocks = message["blocks"]
    assert blocks[0]["type"] == "header" and blocks[0]["text"]["text"] == "Brief: taiwan"
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert sections and "Taiwan" in sections[0]
    assert "<https://one.example/a|[" in "\n".join(sections) or "<https://two.example/" in (
        "\n".join(sections)
    )
    # The bot token (not the app token) did the Web API work (auth.test: serve's start-up check
    # of the token, then Bolt's); no more sockets were opened.
    checks = [c.headers["Authorization"] for c in slack_stub.of("auth.test")]
    assert checks == ["Bearer xoxb-test"] * 2
    assert len(slack_stub.of("apps.connections.open")) == 1

    # HTTP still serves health; Slack's HTTP endpoint is not mounted in Socket Mode.
    assert httpx.get(f"{base}/healthz", timeout=10).json()["ok"] is True
    assert httpx.post(f"{base}/slack/events", timeout=10).status_code == 404


def test_rejected_app_token_is_a_clear_error_not_a_retry_loop(
    slack_stub: SlackStub, start_serve: Start, caplog: pytest.LogCaptureFixture
) -> None:
    logger = "bot.platforms.slack.routes"  # Socket Mode is Slack's connection, logged there
    caplog.set_level(logging.ERROR, logger=logger)
    base = start_serve("xapp-revoked")
    [opened] = slack_stub.wait_for("apps.connections.open")
    assert opened.headers["Authorization"] == "Bearer xapp-revoked"
    deadline = time.monotonic() + 10
    while not [r for r in caplog.records if r.name == logger]:  # bounded poll
        assert time.monotonic() < deadline, "no error logged for the rejected app token"
        time.sleep(0.01)
    [record] = [r for r in caplog.records if r.name == logger]
    assert record.levelno == logging.ERROR
    assert "SLACK_APP_TOKEN" in record.getMessage() and "invalid_auth" in record.getMessage()
    assert slack_stub.of("socket:sent") == []  # never connected
    # The server keeps serving health (and Discord, if configured); shutdown does not hang.
    # ... and says the Slack side is deaf.
    health = httpx.get(f"{base}/healthz", timeout=10)
    assert health.status_code == 503 and health.json()["db"] is True
    assert "SLACK_APP_TOKEN rejected (invalid_auth)" in health.json()["problems"]["slack"]


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Socket Mode's timings scaled down: retries 0.05 s apart, health told after 0.3 s down."""
    monkeypatch.setattr(slack_routes, "RETRY_FIRST", 0.05, raising=False)
    monkeypatch.setattr(slack_routes, "RETRY_MAX", 0.1, raising=False)
    monkeypatch.setattr(slack_routes, "DOWN_AFTER", 0.3, raising=False)
    monkeypatch.setattr(slack_routes, "CHECK_EVERY", 0.05, raising=False)


def _wait_for_health(base: str, wanted: Callable[[httpx.Response], bool]) -> httpx.Response:
    deadline = time.monotonic() + 10
    while not wanted(answer := httpx.get(f"{base}/readyz", timeout=10)):  # bounded poll
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.05)
    return answer


def test_unreachable_slack_turns_health_503_and_logs_one_line_per_retry(
    start_serve: Start, quick_retries: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with socket.socket() as held:  # bound, not listening: every connection is refused
        held.bind(("127.0.0.1", 0))
        base = start_serve(APP_TOKEN, api_url=f"http://127.0.0.1:{held.getsockname()[1]}/api/")
        ready = _wait_for_health(base, lambda r: "slack" in r.json().get("problems", {}))
        assert ready.status_code == 503
        assert ready.json()["problems"]["slack"].startswith("Socket Mode not connected for ")
        # Liveness stays 200 (a restart would not bring Slack back), its body says why not ok.
        health = httpx.get(f"{base}/healthz", timeout=10)
        assert health.status_code == 200, health.text
        assert health.json()["ok"] is False and "slack" in health.json()["problems"]
        deadline = time.monotonic() + 10
        while len(caplog.records) < 3:  # bounded poll: a few retries
            assert time.monotonic() < deadline, caplog.text
            time.sleep(0.05)
    records = list(caplog.records)
    # Each retry: one WARNING line of ours, no traceback; nothing from Bolt's retry loop.
    assert {r.name for r in records} == {"bot.platforms.slack.routes"}, caplog.text
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in records)
    assert all("could not reach apps.connections.open (ClientConnectorError" in r.getMessage()
               for r in records)  # fmt: skip


def test_socket_mode_back_after_failures_clears_the_problem(
    slack_stub: SlackStub, start_serve: Start, quick_retries: None
) -> None:
    slack_stub.fail("apps.connections.open", 500, {"ok": False, "error": "internal_error"}, times=8)
    base = start_serve(APP_TOKEN)
    down = _wait_for_health(base, lambda r: "slack" in r.json().get("problems", {}))
    assert down.status_code == 503 and "Socket Mode not connected" in down.text
    _wait_for_health(base, lambda r: "slack" not in r.json().get("problems", {}))
    assert slack_stub.of("socket:sent")  # connected: the stand-in said hello
    assert httpx.get(f"{base}/healthz", timeout=10).json()["ok"] is True
