"""The `/brief` slash command run by the independent Mattermost server stand-in
(``mattermost_server.py``: the form Mattermost posts, a ``response_url`` on its Site URL that
takes five posts within 30 minutes, and its OutgoingIntegrationRequestsTimeout), against the
real command route, chat service and pool.

* The command's answer waited a fixed 2 s (10 s without a usable ``response_url``): a server
  whose admin set the outgoing timeout below that showed the user its own error instead of the
  answer. ``MATTERMOST_COMMAND_WAIT`` bounds every wait.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping

import httpx
import pytest
from starlette.applications import Starlette

from bot.chat import ChatService
from bot.platforms.mattermost.command import command_route
from bot.platforms.mattermost.settings import load_mattermost
from bot.workpool import WorkPool
from digests.config import Settings
from digests.models import Brief
from digests.store import Store
from tests.bot.discord_standin import serving
from tests.bot.mattermost_server import MattermostServer

TOKEN = "cmd-token"


@pytest.fixture
def server() -> Iterator[MattermostServer]:
    s = MattermostServer()
    yield s
    s.close()


class SlowBriefs:
    """Briefs that wait for :meth:`release`; ``asked`` lists the topics whose work ran."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self._go = threading.Event()

    def __call__(self, topic: str, _now: object) -> Brief:
        self.asked.append(topic)
        assert self._go.wait(30)
        return Brief(topic, (), (), suggestions=("taiwan",))

    def release(self) -> None:
        self._go.set()


def _bot(
    server: MattermostServer,
    store: Store,
    settings: Settings,
    briefs: SlowBriefs,
    scenario: Callable[[str], Awaitable[None]],
    *,
    env: Mapping[str, str] = {},
    workers: int = 2,
) -> None:
    """Serve the command route for ``server`` (MATTERMOST_URL is its address) and run
    ``scenario`` with the command's URL."""

    async def main() -> None:
        mm = load_mattermost(
            {"MATTERMOST_URL": server.url, "MATTERMOST_COMMAND_TOKEN": TOKEN, **env}
        )
        assert mm is not None
        chat = ChatService(store, settings, pool=WorkPool(workers, 4), brief=briefs)
        async with httpx.AsyncClient(timeout=30) as client:
            app = Starlette(routes=[command_route(mm, chat, client)])
            try:
                async with serving(app) as bot:
                    await scenario(f"{bot}/mattermost/command")
            finally:
                briefs.release()
                chat.pool.close()

    asyncio.run(main())


async def _until(check: Callable[[], bool], seconds: float = 30) -> None:
    for _ in range(int(seconds * 20)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not within the time allowed")


def test_a_server_with_a_short_outgoing_timeout_gets_the_answer_within_it(
    server: MattermostServer, store: Store, settings: Settings
) -> None:
    """The admin set OutgoingIntegrationRequestsTimeout to 1.8 s; the command waited 2 s for
    the brief before acknowledging it, so the user saw "Command ... failed" and the brief,
    made anyway, went nowhere. With MATTERMOST_COMMAND_WAIT=0.2 the acknowledgement comes in
    time and the brief follows through the response_url."""
    server.outgoing_timeout = 1.8
    briefs = SlowBriefs()

    async def scenario(url: str) -> None:
        shown = await asyncio.to_thread(server.slash_command, url, TOKEN, "chips")
        assert "error" not in shown, shown
        assert shown["response_type"] == "ephemeral" and "Working on a brief" in shown["text"]
        briefs.release()
        await _until(lambda: bool(server.responses))
        [follow_up] = server.responses
        assert follow_up["response_type"] == "ephemeral" and "chips" in follow_up["text"]

    _bot(server, store, settings, briefs, scenario, env={"MATTERMOST_COMMAND_WAIT": "0.2"})
