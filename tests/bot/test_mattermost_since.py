"""The Mattermost sender against the independent server stand-in (query-plan audit).

* ``find_sent`` asked for up to five "pages" of 200 posts with ``since``; Mattermost's server
  ignores ``page`` / ``per_page`` when ``since`` is given (api4/post.go getPostsForChannel →
  GetPostsSince: every post changed since then, in one list), so a channel with 200 posts or
  more since the part was queued was fetched whole five times. It now asks once.
* A 429's ``Retry-After`` given as an HTTP date was read against ``datetime.now`` inside the
  sender; it is now read against the sender's clock, as the rest of the sender is.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from bot.platforms.mattermost.sender import MattermostSender
from bot.platforms.mattermost.settings import load_mattermost
from digests.errors import DeliveryError
from digests.store.outbox import OutboxMessage
from tests.bot.mattermost_server import MattermostServer, Post

TOKEN = "bot-token"


@pytest.fixture
def server() -> Iterator[MattermostServer]:
    s = MattermostServer(bot_token=TOKEN)
    yield s
    s.close()


def _part(server: MattermostServer, key: str, now: datetime) -> OutboxMessage:
    return OutboxMessage(
        id=1, digest_key=key, part=0, platform="mattermost", channel=f"{server.url}/hooks/hook1",
        payload={"text": "part"}, status="sending", attempts=1, remote_id=None, last_error=None,
        next_attempt_at=now, created_at=now,
    )  # fmt: skip


def _sender(client: httpx.AsyncClient, server: MattermostServer, now: datetime) -> MattermostSender:
    settings = load_mattermost({"MATTERMOST_URL": server.url, "MATTERMOST_BOT_TOKEN": TOKEN})
    assert settings is not None
    return MattermostSender(client, settings, clock=lambda: now)


def test_a_busy_channel_is_fetched_once_to_find_an_unknown_outcome(
    server: MattermostServer,
) -> None:
    now = datetime.now(UTC)  # the stand-in stamps posts with the real clock
    stamp = int(time.time() * 1000)
    server.posts += [
        Post(f"p{i:024d}", "chan1", f"chatter {i}", {}, "api", stamp) for i in range(450)
    ]

    async def main() -> tuple[str | None, str | None]:
        async with httpx.AsyncClient(timeout=10) as client:
            sender = _sender(client, server, now)
            missing = await sender.find_sent(_part(server, "run:absent", now))
            server.posts.append(
                Post(
                    "p" + "x" * 25,
                    "chan1",
                    "part",
                    {"digestbot_key": "run:here", "digestbot_part": 0},
                    "api",
                    stamp,
                )  # fmt: skip
            )
            found = await sender.find_sent(_part(server, "run:here", now))
            return missing, found

    missing, found = asyncio.run(main())
    assert missing is None and found == "p" + "x" * 25
    reads = [r for r in server.requests if r == "GET /api/v4/channels/chan1/posts"]
    assert len(reads) == 2  # one per look, however many posts came since


def test_a_429_retry_after_date_is_read_against_the_senders_clock(
    server: MattermostServer,
) -> None:
    now = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)  # the sender's clock, not the machine's
    server.retry_after = format_datetime(now + timedelta(seconds=40), usegmt=True)
    server.faults.append("429")

    async def main() -> DeliveryError:
        async with httpx.AsyncClient(timeout=10) as client:
            with pytest.raises(DeliveryError) as caught:
                await _sender(client, server, now).send(_part(server, "run:1", now))
            return caught.value

    error = asyncio.run(main())
    assert error.retryable and error.retry_after == 40.0
    assert server.in_channel("chan1") == []
