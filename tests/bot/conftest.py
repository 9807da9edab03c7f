"""Bot fixtures: a local Slack stand-in, the real app served on 127.0.0.1:0, signed requests."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from bot.platforms.slack.app import create_app
from bot.platforms.slack.routes import bolt_routes
from bot.server import create_server_app
from bot.settings import BotSettings
from digests.config import Settings
from digests.store import Store
from digests.store.subscriptions import Subscription
from testkit.slack_requests import SECRET, command_body, signed_headers
from testkit.slack_stub import SlackStub
from tests.bot.discord_standin import DiscordStandIn, serving_in_thread
from tests.conftest import NOW, make_processed

TAIWAN = [
    (
        "Taiwan holds drills near the strait",
        "Taiwan held military drills on Tuesday near the Taiwan Strait. "
        "Officials in Taipei said the exercises would last three days. "
        "Analysts said the drills were the largest this year.",
        "Wire One",
        "https://one.example/a",
    ),
    (
        "Taipei responds to pressure",
        "Taiwan's government in Taipei responded to new pressure from Beijing on Wednesday. "
        "The foreign ministry said Taiwan would keep talking with its partners. "
        "Markets were calm through the day.",
        "Wire Two",
        "https://two.example/b?x=1&y=2",
    ),
    (
        "Chip exports from Taiwan rise",
        "Chip exports from Taiwan rose sharply last month, the trade ministry said. "
        "Taiwan's largest chipmaker reported record orders from overseas customers. "
        "Economists expect the trend to continue into next year.",
        "Wire Three",
        None,
    ),
]


def add_taiwan_articles(store: Store) -> list[int]:
    """Three stored articles tagged taiwan (one also trade), from three sources."""
    ids = []
    for i, (title, body, source, url) in enumerate(TAIWAN):
        tags = (("taiwan", 3), ("trade", 1)) if i == 2 else (("taiwan", 3),)
        item = make_processed(
            title,
            body,
            tags=tags,
            source=source,
            url=url,
            published=datetime(2026, 11, 20 + i, tzinfo=UTC),
        )
        article_id = store.articles.add(item, now=NOW)
        assert article_id is not None
        ids.append(article_id)
    return ids


@pytest.fixture
def env(config_dir: Path, tmp_path: Path) -> dict[str, str]:
    """The environment of a ``digestbot`` command run on this test's config folder, its data
    (the SQLite store) in ``tmp_path / "data"``."""
    return {"DIGESTBOT_CONFIG_DIR": str(config_dir), "DIGESTBOT_DATA_DIR": str(tmp_path / "data")}


def add_markets_feed(config_dir: Path, tmp_path: Path) -> dict[str, str]:
    """`digestbot sources add --tags markets` (a feed, no article yet) on the store in
    ``tmp_path / "data" / "test.db"`` (the ``store`` fixture's, the running bot's); its env."""
    from typer.testing import CliRunner

    from bot.cli import app

    env = {
        "DIGESTBOT_CONFIG_DIR": str(config_dir),
        "DIGESTBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'test.db'}",
    }
    added = CliRunner().invoke(
        app, ["sources", "add", "https://news.example/markets.xml", "--tags", "markets"], env=env
    )
    assert added.exit_code == 0, added.output
    return env


@pytest.fixture
def discord_api() -> Iterator[tuple[DiscordStandIn, str]]:
    """The Discord stand-in served on 127.0.0.1 (in a thread), and its base URL."""
    stand_in = DiscordStandIn(retry_after=0.01)
    with serving_in_thread(stand_in.app()) as base:
        yield stand_in, base


@pytest.fixture
def slack_stub() -> Iterator[SlackStub]:
    """The Slack Web API stand-in, running on 127.0.0.1 with an ephemeral port."""
    stub = SlackStub().start()
    yield stub
    stub.stop()


@pytest.fixture
def bot_settings(slack_stub: SlackStub) -> BotSettings:
    """Slack settings pointing every Web API call at the stub."""
    return BotSettings(
        slack_bot_token="xoxb-test",
        slack_signing_secret=SECRET,
        slack_api_url=slack_stub.api_url,
        host="127.0.0.1",
        port=0,
    )


@dataclass
class RecordingSchedule:
    """Stands in for the scheduler's live (re)scheduling: records what the app asked for."""

    scheduled: list[Subscription] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def schedule(self, sub: Subscription) -> None:
        self.scheduled.append(sub)

    def unschedule(self, name: str) -> None:
        self.removed.append(name)


@dataclass
class RunningBot:
    """The real app on a real port, and how to talk to it."""

    url: str
    stub: SlackStub
    store: Store
    schedule: RecordingSchedule

    def post(self, body: str, headers: dict[str, str]) -> httpx.Response:
        return httpx.post(
            f"{self.url}/slack/events", content=body.encode(), headers=headers, timeout=10
        )

    def command(self, text: str, *, response: str = "r1", channel: str = "C123") -> httpx.Response:
        body = command_body(text, response_url=self.stub.response_url(response), channel=channel)
        return self.post(body, signed_headers(body))


@contextmanager
def serve_in_thread(asgi: Any, *, join: float = 10) -> Iterator[str]:
    """``asgi`` under uvicorn on 127.0.0.1:0 in a thread: its base URL, then stopped.

    The socket is bound first, so requests wait in the listen backlog until uvicorn accepts
    (no start-up poll)."""
    server = uvicorn.Server(uvicorn.Config(asgi, log_level="warning"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(join)
        sock.close()


@pytest.fixture
def running_bot(
    bot_settings: BotSettings, slack_stub: SlackStub, store: Store, settings: Settings
) -> Iterator[RunningBot]:
    """The real Bolt app behind the real Starlette server under uvicorn, on 127.0.0.1:0."""
    add_taiwan_articles(store)
    schedule = RecordingSchedule()
    app = create_app(
        bot_settings,
        store,
        settings,
        schedule=schedule,
        clock=lambda: NOW,
    )
    routes = bolt_routes(app, signing_secret=SECRET)
    with serve_in_thread(create_server_app(store, extra_routes=routes)) as base:
        yield RunningBot(base, slack_stub, store, schedule)
