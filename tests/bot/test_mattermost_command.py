"""The `/brief` slash command run by the independent Mattermost server stand-in
(``mattermost_server.py``: the form Mattermost posts, a ``response_url`` on its Site URL that
takes five posts within 30 minutes, and its OutgoingIntegrationRequestsTimeout), against the
real command route, chat service and pool.

* A ``response_url`` not on ``MATTERMOST_URL`` was never called, so the brief had to be the
  answer itself; after the wait the user was told it took too long, and the brief's work
  still ran to its end, its result thrown away. Mattermost builds ``response_url`` on its Site
  URL (or the browser's address when none is set): its command webhook is now posted to on
  ``MATTERMOST_URL``. A command with no reply address at all has its queued work cancelled.
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
from bot.platforms.mattermost import command
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


def test_a_response_url_on_another_address_gets_the_late_brief_through_this_server(
    server: MattermostServer, store: Store, settings: Settings
) -> None:
    """The server's Site URL is the address users' browsers reach (not the bot's
    MATTERMOST_URL): the brief, later than the command's wait, used to be dropped with "took
    too long". It now goes to the same command webhook on MATTERMOST_URL."""
    server.site_url = "https://chat.example.com"
    briefs = SlowBriefs()

    async def scenario(url: str) -> None:
        shown = await asyncio.to_thread(server.slash_command, url, TOKEN, "chips")
        assert shown.get("text", "").startswith("Working on a brief about **chips**"), shown
        briefs.release()
        await _until(lambda: bool(server.responses))
        [follow_up] = server.responses
        assert follow_up["response_type"] == "ephemeral" and "chips" in follow_up["text"]
        assert "`taiwan`" in follow_up["text"]  # the brief itself (its suggestion)
        posted = [r for r in server.requests if r.startswith("POST /hooks/commands/")]
        assert len(posted) == 1 and briefs.asked == ["chips"]

    _bot(server, store, settings, briefs, scenario, env={"MATTERMOST_COMMAND_WAIT": "1"})


def test_without_a_reply_address_a_brief_not_started_is_cancelled(
    server: MattermostServer, store: Store, settings: Settings
) -> None:
    """A command posted with no response_url (not Mattermost's own) cannot get its brief later:
    the answer says it was slow, and a brief still queued behind others never runs (it used
    to run to its end, its result thrown away)."""
    briefs = SlowBriefs()

    async def scenario(url: str) -> None:
        first = await asyncio.to_thread(server.slash_command, url, TOKEN, "first")
        assert first["text"].startswith("Working on"), first  # the one worker is busy with it
        async with httpx.AsyncClient(timeout=30) as client:
            bare = {"token": TOKEN, "text": "nowhere", "channel_id": "chan1", "user_id": "u2"}
            shown = (await client.post(url, data=bare)).json()
        assert shown["text"] == command.TOO_SLOW
        last = await asyncio.to_thread(server.slash_command, url, TOKEN, "last")
        assert last["text"].startswith("Working on"), last
        briefs.release()
        await _until(lambda: len(server.responses) == 2)
        # "last" was queued after "nowhere": by its answer, "nowhere" was taken and skipped.
        assert briefs.asked == ["first", "last"]
        answered = " | ".join(r["text"] for r in server.responses)  # in either order
        assert "first" in answered and "last" in answered and "nowhere" not in answered

    _bot(
        server, store, settings, briefs, scenario,
        env={"MATTERMOST_COMMAND_WAIT": "0.5"}, workers=1,
    )  # fmt: skip
