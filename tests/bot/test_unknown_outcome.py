"""Unknown outcomes are verified before anything is sent again (issue 25).

Against the Slack stand-in over HTTP, with the real sender, sweeper and store, timings scaled
down (lease 3 s: verify window 4 s, a look every 1 s):

* a post Slack applies 2.5 s after answering 500 is found, not posted twice (one look 0.3 s
  after the 500 missed it);
* with ``chat:write.public`` the bot posts into a channel it never joined, whose history
  answers ``not_in_channel``: it joins and looks again, so the headline is found and its thread
  reply goes into its thread (it was marked dead, and the reply posted top-level);
* a channel whose history can never be read is never posted to twice and never marked dead:
  it is shown stuck, with why, in the delivery health (/readyz, `digestbot status`), and past
  the bound the message is assumed delivered and the channel's queue moves on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from typer.testing import CliRunner

from bot.cli import app
from bot.delivery_health import delivery_health
from bot.platforms.slack.render import EVENT_TYPE
from bot.platforms.slack.sender import SlackSender, make_sender_client
from bot.schedule import DigestScheduler
from bot.server import create_server_app
from bot.settings import BotSettings
from bot.sweep import Pacer, Sweeper, Timings
from digests.config import load_settings
from digests.store import Store
from testkit.slack_stub import SlackStub

FAST = Timings(send_timeout=1.0, lease=3.0, sweep_every=0.2, backoff_base=0.3, backoff_cap=2.0)


def _part(key: str, part: int = 0) -> dict:
    return {
        "text": f"{key} part {part}",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f"{key} {part}"}}],
        "metadata": {"event_type": EVENT_TYPE, "event_payload": {"digest_key": key, "part": part}},
    }


def _now() -> datetime:
    return datetime.now(UTC)


def _sweeper(store: Store, settings: BotSettings, timings: Timings = FAST) -> Sweeper:
    sender = SlackSender(make_sender_client(settings, timeout=timings.send_timeout))
    return Sweeper(store, {"slack": sender}, owner="t", now=_now, pacer=Pacer(0.0), timings=timings)


def _drive(sweeper: Sweeper, until: Callable[[], bool], timeout: float) -> None:
    async def loop() -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            await sweeper.sweep()
            if until():
                return
            await asyncio.sleep(0.1)
        raise AssertionError("the outbox did not settle in time")

    asyncio.run(loop())


def _readyz(store: Store, timings: Timings, config_dir: Path) -> httpx.Response:
    settings = load_settings({}, config_dir)
    scheduler = DigestScheduler(
        store, settings, renderers={}, senders={}, owner="r", timings=timings, poll_sources=False
    )
    app = create_server_app(store, scheduler=scheduler)

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/readyz")

    try:
        return asyncio.run(get())
    finally:
        scheduler.shutdown()


def _status(store: Store, key: str, part: int = 0) -> str:
    return next(m.status for m in store.outbox.messages(key) if m.part == part)


def test_a_post_applied_late_after_a_500_is_found_not_sent_twice(
    store: Store, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    store.outbox.enqueue("run:1", [_part("run:1")], platform="slack", channel="C1", now=_now())
    slack_stub.fail_then_apply("chat.postMessage", 2.5)
    _drive(_sweeper(store, bot_settings), lambda: _status(store, "run:1") == "sent", 20)
    posts = slack_stub.posted("C1")
    assert len(posts) == 1, posts  # applied once, late; never posted again
    assert len(slack_stub.of("chat.postMessage")) == 1
    assert store.outbox.messages("run:1")[0].remote_id == posts[0]["ts"]
    assert len(slack_stub.of("conversations.history")) >= 2  # looked more than once


def test_a_channel_posted_to_uninvited_is_joined_and_the_reply_stays_in_its_thread(
    store: Store, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    slack_stub.members_only.add("C9")  # chat:write.public: posts go in, history needs a join
    store.outbox.enqueue("run:1", [_part("run:1")], platform="slack", channel="C9", now=_now())
    parent = store.outbox.row_id("run:1", 0)
    store.outbox.enqueue(
        "run:1:t", [_part("run:1:t")], platform="slack", channel="C9", now=_now(), parent_id=parent
    )
    slack_stub.fail_then_apply("chat.postMessage", 0.0)  # applied, answered 500
    _drive(_sweeper(store, bot_settings), lambda: _status(store, "run:1:t") == "sent", 20)
    headline, reply = slack_stub.history["C9"]
    assert "thread_ts" not in headline and reply.get("thread_ts") == headline["ts"]
    assert len(slack_stub.of("chat.postMessage")) == 2  # the headline was never re-posted
    assert len(slack_stub.of("conversations.join")) == 1
    assert _status(store, "run:1") == "sent"
    assert store.outbox.messages("run:1")[0].remote_id == headline["ts"]


def test_a_channel_that_cannot_be_checked_is_shown_stuck_then_assumed_delivered(
    store: Store,
    bot_settings: BotSettings,
    slack_stub: SlackStub,
    config_dir: Path,
    tmp_path: Path,
) -> None:
    timings = dataclasses.replace(FAST, stuck_after=9.0)
    slack_stub.members_only.add("C7")
    slack_stub.unjoinable.add("C7")
    store.outbox.enqueue("run:1", [_part("run:1")], platform="slack", channel="C7", now=_now())
    store.outbox.enqueue("run:2", [_part("run:2")], platform="slack", channel="C7", now=_now())
    store.outbox.enqueue("run:3", [_part("run:3")], platform="slack", channel="C8", now=_now())
    slack_stub.fail_then_apply("chat.postMessage", 0.0)
    sweeper = _sweeper(store, bot_settings, timings)

    def stuck_shown() -> bool:
        return bool(delivery_health(store, now=_now(), timings=timings).stuck)

    _drive(sweeper, stuck_shown, 20)
    health = delivery_health(store, now=_now(), timings=timings)
    assert not health.ok
    [line] = health.stuck
    assert "C7" in line and "run:1" in line and "not_in_channel" in line and "join" in line
    assert any(p.startswith("stuck channel slack C7") for p in health.problems)
    assert _status(store, "run:1") == "sending" and _status(store, "run:2") == "pending"
    assert _status(store, "run:3") == "sent"  # other channels are not held up
    # /readyz of a server whose scheduler runs with these timings says so (ok: false; still
    # ready: the replica can answer requests) ...
    readyz = _readyz(store, timings, config_dir)
    assert readyz.status_code == 200 and readyz.json()["ok"] is False
    assert any("C7" in line for line in readyz.json()["delivery"]["stuck"])
    # ... and `digestbot status` (same lease) says so, and exits 1.
    env = {
        "DIGESTBOT_CONFIG_DIR": str(config_dir),
        "DIGESTBOT_DATABASE_URL": str(store.engine.url),
        "DIGESTBOT_OUTBOX_LEASE": "3",
    }
    shown = CliRunner().invoke(app, ["status"], env=env)
    assert shown.exit_code == 1 and "stuck channel slack C7" in shown.stdout, shown.output

    _drive(sweeper, lambda: _status(store, "run:2") == "sent", 30)  # past the bound
    assert _status(store, "run:1") == "unverified"
    c7 = [m["text"] for m in slack_stub.posted("C7")]
    assert c7 == ["run:1 part 0", "run:2 part 0"]  # run:1 arrived once, never re-sent
    after = delivery_health(store, now=_now(), timings=timings)
    assert after.stuck == [] and "dead" not in {m.status for m in store.outbox.messages("run:1")}
    assert len(after.unverified) == 1 and "assumed delivered" in after.unverified[0]
    assert "not verified" in CliRunner().invoke(app, ["status"], env=env).stdout


def test_an_old_unknown_outcome_is_not_given_up_at_its_first_failed_look(
    store: Store, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    """A deliverer died mid-send two hours ago (serve was down since): the bound has long
    passed, but a single failed look is not enough to assume the message arrived."""
    slack_stub.members_only.add("C5")
    slack_stub.unjoinable.add("C5")
    long_ago = _now() - timedelta(hours=2)
    store.outbox.enqueue("run:1", [_part("run:1")], platform="slack", channel="C5", now=long_ago)
    assert store.outbox.claim(owner="dead", now=long_ago, lease=timedelta(seconds=3))
    sweeper = _sweeper(store, bot_settings)
    asyncio.run(sweeper.sweep())
    [row] = store.outbox.messages("run:1")
    assert row.status == "sending" and row.checks == 1 and "join" in (row.last_error or "")
    assert slack_stub.of("chat.postMessage") == []
    _drive(sweeper, lambda: _status(store, "run:1") == "unverified", 20)  # after a few looks
    assert slack_stub.of("chat.postMessage") == []  # never sent: it may have arrived
