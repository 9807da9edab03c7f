"""`/brief` under load: a bounded pool, and an immediate "busy" ack beyond its capacity."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from bot.server import create_server_app
from bot.settings import BotSettings
from bot.slack.app import create_app
from bot.workpool import BUSY, WorkPool
from digests.config import Settings
from digests.store import Store
from testkit.slack_stub import SlackStub
from tests.bot.conftest import add_taiwan_articles, command_body, signed_headers
from tests.conftest import NOW


def test_the_pool_admits_up_to_its_capacity_and_frees_places_when_work_ends() -> None:
    pool = WorkPool(workers=1, waiting=1)
    assert pool.admit("a") and pool.admit("b") and pool.admit("a")  # the same job twice: once
    assert not pool.admit("c") and pool.refused == 1
    gate = threading.Event()

    async def main() -> list[str]:
        return list(await asyncio.gather(pool.run("a", gate.wait, 30), pool.run("b", lambda: "b")))

    runner = threading.Thread(target=lambda: results.extend(asyncio.run(main())))
    results: list[object] = []
    runner.start()
    assert not pool.admit("c")  # a runs, b waits: still full
    gate.set()
    runner.join(30)
    assert results == [True, "b"]
    assert pool.admit("c") and pool.admitted("c") and not pool.admitted("a")
    pool.close()


@pytest.fixture
def served_pool(
    bot_settings: BotSettings, slack_stub: SlackStub, store: Store, settings: Settings
) -> Iterator[tuple[str, WorkPool]]:
    """The real app with a one-place brief pool, served on 127.0.0.1:0."""
    add_taiwan_articles(store)
    pool = WorkPool(workers=1, waiting=0)
    app = create_app(bot_settings, store, settings, clock=lambda: NOW, brief_pool=pool)
    server = uvicorn.Server(uvicorn.Config(create_server_app(store, slack_app=app),
                                           log_level="warning"))  # fmt: skip
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", pool
    server.should_exit = True
    thread.join(10)
    sock.close()
    pool.close()


def _brief(url: str, stub: SlackStub, response: str) -> httpx.Response:
    body = command_body("taiwan", response_url=stub.response_url(response))
    return httpx.post(f"{url}/slack/events", content=body.encode(), headers=signed_headers(body),
                      timeout=10)  # fmt: skip


def test_beyond_capacity_the_ack_says_busy_and_nothing_queues(
    served_pool: tuple[str, WorkPool], slack_stub: SlackStub
) -> None:
    url, pool = served_pool
    assert pool.admit("someone else's brief")  # the only place is taken
    busy = _brief(url, slack_stub, "r-busy")
    assert busy.status_code == 200
    assert "try again shortly" in str(busy.json()) and BUSY.split("—")[0].strip() in str(
        busy.json()
    )
    pool.release("someone else's brief")
    ok = _brief(url, slack_stub, "r-ok")
    assert ok.status_code == 200 and "try again" not in ok.text
    [answer] = slack_stub.wait_for("response:r-ok")
    assert "taiwan" in str(answer.params).lower()
    # The refused request never got (and never will get) a late answer.
    assert slack_stub.of("response:r-busy") == []
    assert not pool.admitted(slack_stub.response_url("r-ok"))  # its place is free again


def test_serve_sizes_the_pool_from_the_environment() -> None:
    from bot.commands_serve import brief_pool
    from digests.errors import ConfigError

    pool = brief_pool({"DIGESTBOT_BRIEF_WORKERS": "3", "DIGESTBOT_BRIEF_QUEUE": "0"})
    assert (pool.workers, pool.waiting, pool.capacity) == (3, 0, 3)
    pool.close()
    with pytest.raises(ConfigError, match="DIGESTBOT_BRIEF_WORKERS"):
        brief_pool({"DIGESTBOT_BRIEF_WORKERS": "0"})
