"""Mattermost through webhooks only: an unknown outcome is posted again, and the log says so
once, when it is decided (QA, third pass).

The log told two stories: the sender warned "… may have arrived; through a webhook it cannot
be checked …, so it is posted again" at every look (three times), while the sweeper logged
"not in the channel yet (look N); looking again" — and the re-post came ~65 s later, after
the verify window meant for platforms that can be looked at. And a 5xx read "Mattermost
answered 503: outcome unknown; outcome unknown, will check the channel". Now a webhook's 5xx
is one line saying it is posted again at the retry time, which is when it is; a crash between
sending and recording is one line at the next claim, and the part is posted again then; and
"outcome unknown" is said once. The same holds for Discord without ``DISCORD_BOT_TOKEN``.

The real sender and sweeper, over HTTP to the Mattermost stand-in; the clock is the
sweeper's.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx
import pytest

from bot.platforms.discord.webhook import DiscordWebhookSender
from bot.platforms.mattermost.sender import MattermostSender
from bot.platforms.mattermost.settings import load_mattermost
from bot.sweep import Pacer, Sweeper
from digests.store import Store
from tests.bot.discord_standin import DiscordStandIn
from tests.bot.mattermost_standin import MattermostStandIn
from tests.bot.test_discord_webhook import _queue as _queue_discord
from tests.bot.test_discord_webhook import run as run_discord
from tests.bot.test_mattermost import _queue, _with_standin
from tests.conftest import NOW


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("bot")]


def test_a_webhook_5xx_is_posted_again_at_the_time_the_one_log_line_gives(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot")

    async def scenario(api: MattermostStandIn, base: str) -> None:
        settings = load_mattermost({"MATTERMOST_URL": base})  # webhooks only
        assert settings is not None
        key = _queue(store, f"{base}/hooks/h1", n=1)
        api.faults += ["apply+502"]  # Mattermost stored the post, the answer was lost
        clock = [NOW]
        async with httpx.AsyncClient(timeout=10) as client:
            sender = MattermostSender(client, settings, schedules=store.subscriptions)
            sweeper = Sweeper(store, {"mattermost": sender}, owner="t", now=lambda: clock[0],
                              pacer=Pacer(0))  # fmt: skip
            await sweeper.sweep()
            [row] = store.outbox.messages(key)
            clock[0] = row.next_attempt_at  # the time the log line gave
            again = await sweeper.sweep()
        assert again.sent == 1, vars(again)
        assert len(api.in_channel("ch-h1")) == 2  # posted again: the documented duplicate
        [row] = store.outbox.messages(key)
        assert row.status == "sent"
        [decided] = [m for m in _lines(caplog) if "posted again" in m]
        assert "502" in decided and "may appear twice" in decided
        assert f"at {(NOW + timedelta(seconds=15)).isoformat(timespec='seconds')}" in decided
        assert not [m for m in _lines(caplog) if "looking again" in m or "will check" in m]

    _with_standin(scenario)


def test_a_crash_before_recording_a_webhook_post_is_posted_again_at_the_next_claim(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot")

    async def scenario(api: MattermostStandIn, base: str) -> None:
        settings = load_mattermost({"MATTERMOST_URL": base})
        assert settings is not None
        key = _queue(store, f"{base}/hooks/h2", n=1)
        # A deliverer claimed the part, posted it and died before recording it.
        assert store.outbox.claim(owner="dead", now=NOW, lease=timedelta(seconds=45))
        later = NOW + timedelta(seconds=46)  # its lease ran out
        async with httpx.AsyncClient(timeout=10) as client:
            sender = MattermostSender(client, settings, schedules=store.subscriptions)
            report = await Sweeper(store, {"mattermost": sender}, owner="t",
                                   now=lambda: later, pacer=Pacer(0)).sweep()  # fmt: skip
        assert report.sent == 1, vars(report)
        assert store.outbox.messages(key)[0].status == "sent"
        [decided] = [m for m in _lines(caplog) if "cannot be checked" in m]
        assert "sending it again" in decided and "MATTERMOST_BOT_TOKEN" in decided

    _with_standin(scenario)


def test_with_a_bot_token_a_5xx_says_outcome_unknown_once(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot")

    async def scenario(api: MattermostStandIn, base: str) -> None:
        settings = load_mattermost({"MATTERMOST_URL": base, "MATTERMOST_BOT_TOKEN": "bot-token"})
        assert settings is not None
        _queue(store, f"{base}/hooks/h3", n=1)
        api.faults += ["apply+502"]
        async with httpx.AsyncClient(timeout=10) as client:
            sender = MattermostSender(client, settings, schedules=store.subscriptions)
            await Sweeper(store, {"mattermost": sender}, owner="t", now=lambda: NOW,
                          pacer=Pacer(0)).sweep()  # fmt: skip
        [line] = [m for m in _lines(caplog) if "502" in m]
        assert line.count("outcome unknown") == 1 and "will check the channel" in line, line

    _with_standin(scenario)


def test_discord_without_a_bot_token_posts_again_once_said(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot")

    async def scenario(api: DiscordStandIn, base: str) -> None:
        parts = _queue_discord(store, api.webhook_url(base), n=1)
        api.applied_then_502 = 1
        clock = [NOW]
        async with httpx.AsyncClient() as client:
            sender = DiscordWebhookSender(client, api_url=f"{base}/api")  # no bot token
            sweeper = Sweeper(store, {"discord": sender}, owner="t", now=lambda: clock[0],
                              pacer=Pacer(0))  # fmt: skip
            await sweeper.sweep()
            [row] = store.outbox.messages(parts[0].digest_key)
            clock[0] = row.next_attempt_at
            again = await sweeper.sweep()
        assert again.sent == 1 and len(api.messages) == 2
        [decided] = [m for m in _lines(caplog) if "posted again" in m]
        assert "DISCORD_BOT_TOKEN" in decided and "may appear twice" in decided
        assert not [m for m in _lines(caplog) if "looking again" in m or "will check" in m]

    run_discord(scenario)
