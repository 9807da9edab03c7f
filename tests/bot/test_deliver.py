"""The outbox sender against the Slack stand-in: retries, rate limits, order, pace, reconcile."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.deliver import DeliveryReport, Pacer, Sweeper
from bot.platforms.slack.render import EVENT_TYPE
from bot.platforms.slack.sender import SlackSender, make_sender_client
from bot.settings import BotSettings
from digests.store import Store
from testkit.slack_stub import SlackStub
from tests.conftest import NOW


def _parts(key: str, n: int) -> list[dict]:
    return [
        {
            "text": f"part {i}",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f"part {i}"}}],
            "metadata": {"event_type": EVENT_TYPE, "event_payload": {"digest_key": key, "part": i}},
        }
        for i in range(n)
    ]


class FakeTime:
    """A monotonic clock that only moves when the pacer sleeps: pacing without waiting."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


def _run(
    store: Store, settings: BotSettings, *, at=NOW, pacer: Pacer | None = None
) -> DeliveryReport:
    sender = SlackSender(make_sender_client(settings, timeout=5))
    fake = FakeTime()
    return asyncio.run(
        Sweeper(
            store,
            {"slack": sender},
            owner="test",
            now=lambda: at,
            pacer=pacer or Pacer(clock=fake.clock, sleep=fake.sleep),
        ).sweep()
    )


def test_429_with_retry_after_is_retried_once_and_posts_one_message(
    store: Store, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    store.outbox.enqueue("run:1", _parts("run:1", 1), platform="slack", channel="C1", now=NOW)
    slack_stub.rate_limit("chat.postMessage", retry_after=0)
    report = _run(store, bot_settings)
    # A 429 was certainly not applied: no history check, the row is due again at once.
    assert report.sent == 1 and report.retried == 1 and report.reconciled == 0
    assert slack_stub.of("conversations.history") == []
    assert len(slack_stub.of("chat.postMessage")) == 2  # the 429, then the retry
    assert len(slack_stub.history["C1"]) == 1
    [row] = store.outbox.messages("run:1")
    assert row.status == "sent" and row.remote_id == slack_stub.history["C1"][0]["ts"]


def test_server_errors_back_off_in_the_outbox_then_deliver(
    store: Store, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    store.outbox.enqueue("run:1", _parts("run:1", 2), platform="slack", channel="C1", now=NOW)
    slack_stub.fail("chat.postMessage", 500)
    report = _run(store, bot_settings)
    assert (report.sent, report.retried) == (0, 1)
    assert len(slack_stub.of("chat.postMessage")) == 1  # no library-level re-POST
    first, second = store.outbox.messages("run:1")
    # A 5xx may have been applied: the row stays "sending" (outcome unknown) until checked.
    assert first.status == "sending" and first.claimed_by is None
    assert first.next_attempt_at == NOW + timedelta(seconds=15)
    assert second.status == "pending" and slack_stub.history["C1"] == []  # order is kept
    assert _run(store, bot_settings, at=NOW + timedelta(seconds=5)).sent == 0  # not yet due
    # Slack may apply a post tens of seconds after its 5xx: a look finding nothing is a
    # verdict only once the verify window (60 s) is over; before, it is looked for again.
    for second in (15, 30, 45):
        look = _run(store, bot_settings, at=NOW + timedelta(seconds=second))
        assert (look.sent, look.checking) == (0, 1)
    later = _run(store, bot_settings, at=NOW + timedelta(seconds=60))
    assert later.sent == 2 and later.reconciled == 0
    assert len(slack_stub.of("conversations.history")) == 4  # looked 4 times before re-posting
    assert [m["text"] for m in slack_stub.history["C1"]] == ["part 0", "part 1"]


def test_permanent_errors_go_dead_without_retrying(
    store: Store, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    store.outbox.enqueue("run:1", _parts("run:1", 1), platform="slack", channel="C1", now=NOW)
    slack_stub.fail("chat.postMessage", 200, {"ok": False, "error": "channel_not_found"})
    assert _run(store, bot_settings).dead == 1
    [row] = store.outbox.messages("run:1")
    assert row.status == "dead" and "channel_not_found" in (row.last_error or "")
    assert len(slack_stub.of("chat.postMessage")) == 1


def test_invalid_auth_is_reported_not_retried(
    store: Store, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    bad = BotSettings(
        slack_bot_token="xoxb-wrong", slack_signing_secret="s", slack_api_url=slack_stub.api_url
    )
    store.outbox.enqueue("run:1", _parts("run:1", 1), platform="slack", channel="C1", now=NOW)
    report = _run(store, bad)
    assert report.dead == 1
    assert "invalid_auth" in (store.outbox.messages("run:1")[0].last_error or "")


def test_parts_to_one_channel_are_paced_one_per_second(
    store: Store, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    store.outbox.enqueue("run:1", _parts("run:1", 3), platform="slack", channel="C1", now=NOW)
    store.outbox.enqueue("run:2", _parts("run:2", 1), platform="slack", channel="C2", now=NOW)
    fake = FakeTime()
    report = _run(store, bot_settings, pacer=Pacer(1.0, clock=fake.clock, sleep=fake.sleep))
    assert report.sent == 4
    assert fake.sleeps == [1.0, 1.0]  # C1's 2nd and 3rd part; C2 needs no wait
    assert [m["text"] for m in slack_stub.history["C1"]] == ["part 0", "part 1", "part 2"]


def test_crash_between_sent_and_recorded_is_reconciled_without_a_second_post(
    store: Store, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    store.outbox.enqueue("run:7", _parts("run:7", 2), platform="slack", channel="C1", now=NOW)
    # A sender claims part 0, posts it, and dies before recording the ts.
    [claim] = store.outbox.claim(owner="dead", now=NOW, lease=timedelta(seconds=45))
    ts = asyncio.run(SlackSender(make_sender_client(bot_settings)).send(claim.message))
    assert store.outbox.messages("run:7")[0].status == "sending"
    # While the lease runs, nobody touches it (the original sender may still be working).
    assert _run(store, bot_settings, at=NOW + timedelta(seconds=30)) == DeliveryReport()
    report = _run(store, bot_settings, at=NOW + timedelta(seconds=45))  # within a minute
    assert (report.reconciled, report.sent) == (1, 1)
    assert [m["text"] for m in slack_stub.history["C1"]] == ["part 0", "part 1"]
    rows = store.outbox.messages("run:7")
    assert [r.status for r in rows] == ["sent", "sent"] and rows[0].remote_id == ts
    history = slack_stub.of("conversations.history")
    assert history and str(history[0].params["include_all_metadata"]).lower() in {"1", "true"}


def test_crash_before_the_post_sends_it_once(
    store: Store, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    store.outbox.enqueue("run:8", _parts("run:8", 1), platform="slack", channel="C1", now=NOW)
    assert store.outbox.claim(owner="dead", now=NOW, lease=timedelta(seconds=45))  # then the crash
    report = _run(store, bot_settings, at=NOW + timedelta(minutes=1))
    assert (report.reconciled, report.sent) == (0, 1)
    assert len(slack_stub.history["C1"]) == 1


def test_rows_of_a_platform_without_a_sender_wait(
    store: Store, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    store.outbox.enqueue(
        "run:9", _parts("run:9", 1), platform="discord", channel="https://d/1", now=NOW
    )
    assert _run(store, bot_settings) == DeliveryReport()
    assert store.outbox.messages("run:9")[0].status == "pending"
    assert slack_stub.calls == []


def test_rate_limits_do_not_use_up_attempts(
    store: Store, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    """A busy channel can draw more 429s than MAX_ATTEMPTS; the message still goes out."""
    from bot.deliver import MAX_ATTEMPTS

    store.outbox.enqueue("run:1", _parts("run:1", 1), platform="slack", channel="C1", now=NOW)
    slack_stub.rate_limit("chat.postMessage", retry_after=0, times=MAX_ATTEMPTS + 2)
    for _ in range(MAX_ATTEMPTS + 3):
        _run(store, bot_settings)
    [row] = store.outbox.messages("run:1")
    assert row.status == "sent" and row.attempts == MAX_ATTEMPTS + 3
    assert len(slack_stub.history["C1"]) == 1


def test_next_send_to_a_channel_waits_an_interval_after_the_answer(
    store: Store, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    """Slack counts arrivals; a slow answer must not let the next post arrive early."""
    store.outbox.enqueue("run:1", _parts("run:1", 2), platform="slack", channel="C1", now=NOW)
    fake = FakeTime()

    class SlowAnswers(SlackSender):
        async def send(self, message):  # type: ignore[no-untyped-def]
            ts = await super().send(message)
            fake.now += 0.4  # the answer took 0.4 s to come back
            return ts

    sender = SlowAnswers(make_sender_client(bot_settings, timeout=5))
    asyncio.run(Sweeper(store, {"slack": sender}, owner="test", now=lambda: NOW,
                        pacer=Pacer(1.0, clock=fake.clock, sleep=fake.sleep)).sweep())  # fmt: skip
    assert fake.sleeps == [1.0]  # a full interval after the first answer, not 0.6
    assert len(slack_stub.history["C1"]) == 2


def test_a_slow_channel_does_not_hold_up_the_others(
    store: Store, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    """Channels are pipelines: a channel's next part does not wait for other channels' sends."""
    store.outbox.enqueue("run:1", _parts("run:1", 1), platform="slack", channel="CSLOW", now=NOW)
    store.outbox.enqueue("run:2", _parts("run:2", 4), platform="slack", channel="C1", now=NOW)
    order: list[str] = []

    class SlowChannel(SlackSender):
        async def send(self, message):  # type: ignore[no-untyped-def]
            if message.channel == "CSLOW":
                await asyncio.sleep(1.5)
            order.append(f"{message.channel}:{message.part}")
            return await super().send(message)

    from bot.sweep import Sweeper

    sender = SlowChannel(make_sender_client(bot_settings, timeout=5))
    sweeper = Sweeper(store, {"slack": sender}, owner="t", now=lambda: NOW, pacer=Pacer(0.0),
                      claim_every=0.1)  # fmt: skip
    report = asyncio.run(sweeper.sweep())
    assert report.sent == 5
    assert order == ["C1:0", "C1:1", "C1:2", "C1:3", "CSLOW:0"]


def test_an_unknown_outcome_is_checked_again_within_a_lease_however_often_checks_failed(
    store: Store, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    """A row whose outcome is unknown holds its channel's whole queue: however many history
    checks failed (Slack's history API down for a while), the next is at most a lease away —
    not the hour that the exponential backoff reaches — and it is never sent blindly."""
    from bot.sweep import DEFAULT_TIMINGS

    store.outbox.enqueue("run:1", _parts("run:1", 2), platform="slack", channel="C1", now=NOW)
    slack_stub.fail("chat.postMessage", 500)  # may have been applied: outcome unknown
    slack_stub.fail("conversations.history", 500, times=11)  # every later check, 11
    at = NOW
    for _ in range(12):
        _run(store, bot_settings, at=at)
        head = store.outbox.messages("run:1")[0]
        assert head.status == "sending"  # still unknown: checked, never re-posted
        wait = (head.next_attempt_at - at).total_seconds()
        assert wait <= DEFAULT_TIMINGS.lease
        at = head.next_attempt_at
    assert len(slack_stub.of("chat.postMessage")) == 1
    _run(store, bot_settings, at=at)  # history answers again: not there, so it is posted
    assert [m["text"] for m in slack_stub.history["C1"]] == ["part 0", "part 1"]
