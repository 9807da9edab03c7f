"""The Mattermost sender against the independent server stand-in (query-plan audit).

* ``find_sent`` asked for up to five "pages" of 200 posts with ``since``; Mattermost's server
  ignores ``page`` / ``per_page`` when ``since`` is given (api4/post.go getPostsForChannel →
  GetPostsSince: every post changed since then, in one list), so a channel with 200 posts or
  more since the part was queued was fetched whole five times. It now asks once.
* That one answer holds at most 1,000 posts (GetPostsSince: ``LIMIT 1000``, which ones
  unspecified), so in a channel with more posts since the part was queued its copy could be
  left out and the part posted twice. A full answer is now followed by pages of the channel,
  newest first, back to when the part was queued, at most ``MAX_PAGES``.
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

from bot.platforms.mattermost.sender import MAX_PAGES, PER_PAGE, MattermostSender
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


def _busy_channel(server: MattermostServer, stamp: int, *, since_then: int, key: str) -> None:
    """Fifty posts from before the part was queued, then the part (``key``), then
    ``since_then`` posts of chatter after it, each a millisecond apart."""
    server.posts += [
        Post(f"old{i:023d}", "chan1", "old", {}, "api", stamp - 3_600_000 + i) for i in range(50)
    ]
    part = {"digestbot_key": key, "digestbot_part": 0}
    server.posts.append(Post("p" + "x" * 25, "chan1", "part", part, "api", stamp))
    server.posts += [
        Post(f"c{i:025d}", "chan1", f"chatter {i}", {}, "api", stamp + 1 + i)
        for i in range(since_then)
    ]


def test_a_copy_hidden_by_the_since_cap_is_found_by_paging_newest_first(
    server: MattermostServer,
) -> None:
    """Mattermost's GetPostsSince keeps 1,000 posts (``LIMIT 1000``, which 1,000 unspecified:
    the stand-in keeps the newest): with 1,200 posts after the part, its copy was not in the
    answer and the part would have been posted again. Newest-first pages find it, and a look
    for an absent part stops at the first page reaching back before the part was queued."""
    now = datetime.now(UTC)
    stamp = int(now.timestamp() * 1000)
    _busy_channel(server, stamp, since_then=1_200, key="run:here")

    async def main() -> tuple[str | None, str | None]:
        async with httpx.AsyncClient(timeout=10) as client:
            sender = _sender(client, server, now)
            found = await sender.find_sent(_part(server, "run:here", now))
            server.requests.clear()
            missing = await sender.find_sent(_part(server, "run:absent", now))
            return found, missing

    found, missing = asyncio.run(main())
    assert found == "p" + "x" * 25 and missing is None
    # The capped since-answer, then pages of 200 down to the one holding posts from before
    # the part was queued (1,201 posts since then: the seventh page), and no further.
    assert server.requests == ["GET /api/v4/channels/chan1/posts"] * (1 + 7)


def test_a_channel_too_busy_to_page_through_gives_no_verdict(
    server: MattermostServer,
) -> None:
    """Past MAX_PAGES pages the look gives no verdict (a retryable error: never "not sent",
    which would post the part again), after a bounded number of reads."""
    now = datetime.now(UTC)
    stamp = int(now.timestamp() * 1000)
    _busy_channel(server, stamp, since_then=MAX_PAGES * PER_PAGE + 10, key="run:deep")

    async def main() -> DeliveryError:
        async with httpx.AsyncClient(timeout=10) as client:
            with pytest.raises(DeliveryError) as caught:
                await _sender(client, server, now).find_sent(_part(server, "run:absent", now))
            return caught.value

    error = asyncio.run(main())
    assert error.retryable and not error.outcome_unknown
    assert f"more than {MAX_PAGES * PER_PAGE} posts" in str(error)
    reads = [r for r in server.requests if r == "GET /api/v4/channels/chan1/posts"]
    assert len(reads) == 1 + MAX_PAGES
