"""A Slack channel the bot can no longer post to pauses its subscriptions, as a deleted
Discord or Mattermost webhook does; waiting errors (429, 5xx, timeouts) never pause.

Before: chat.postMessage's ``channel_not_found`` (the bot was removed from a private channel,
or the channel deleted), ``not_in_channel`` or ``is_archived`` made each day's digest dead,
its articles rolled into the next day's, which was refused again, and /healthz reported a
delivery problem forever.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.delivery_health import delivery_health
from bot.platforms.slack import slack_sender
from bot.platforms.slack.sender import SlackSender, make_sender_client
from bot.schedule import DigestScheduler
from bot.serve import renderers
from bot.settings import BotSettings
from bot.subscribe import describe
from bot.sweep import Pacer, Sweeper
from digests.config import Settings
from digests.store import Store
from testkit.slack_stub import SlackStub
from tests.bot.conftest import add_taiwan_articles
from tests.conftest import NOW, make_processed


def _scheduler(store: Store, settings: Settings, bot: BotSettings) -> DigestScheduler:
    # The sender serve builds (bot/platforms/slack: the store's subscriptions to pause).
    sender = slack_sender(bot, store, timeout=5)
    assert sender is not None
    return DigestScheduler(store, settings, renderers=renderers(), senders={"slack": sender},
                           owner="t", clock=lambda: NOW, pacer=Pacer(0),
                           poll_sources=False)  # fmt: skip


def _slot(scheduler: DigestScheduler, name: str, at):  # type: ignore[no-untyped-def]
    try:
        return asyncio.run(scheduler.run_slot(name, at))
    finally:
        scheduler.shutdown()


def _subscribe(store: Store, name: str, channel: str, origin: str = "config") -> None:
    store.subscriptions.upsert(name, platform="slack", channel=channel, topics=(),
                               cron="0 8 * * *", timezone="UTC", origin=origin,
                               now=NOW)  # fmt: skip


@pytest.mark.parametrize(
    ("error", "hint"),
    [
        ("channel_not_found", "Invite @digestbot to C1"),
        ("not_in_channel", "Invite @digestbot to C1"),
        ("is_archived", "Unarchive C1"),
        ("channel_is_archived", "Unarchive C1"),
        ("restricted_action_read_only_channel", "Let digestbot post in C1"),  # retried 8 times
        ("restricted_action_thread_only_channel", "Let digestbot post in C1"),
    ],
)
def test_a_channel_the_bot_cannot_post_to_pauses_its_subscription_until_resumed(
    error: str, hint: str, store: Store, settings: Settings, bot_settings: BotSettings,
    slack_stub: SlackStub,
) -> None:  # fmt: skip
    ids = add_taiwan_articles(store)
    _subscribe(store, "news", "C1")
    _subscribe(store, "news-late", "C1")  # another digest into the same channel
    _subscribe(store, "other", "C2")
    slack_stub.gone["C1"] = error

    first = _slot(_scheduler(store, settings, bot_settings), "news", NOW)
    assert first is not None and first.status == "queued"
    [row] = store.outbox.messages(first.key)
    assert row.status == "dead" and error in (row.last_error or "")
    # Every subscription posting to that channel is paused, with what to do; others are not.
    for name in ("news", "news-late"):
        sub = store.subscriptions.get(name)
        assert sub is not None and not sub.enabled, name
        reason = sub.disabled_reason or ""
        assert error in reason and hint in reason and "Resume" in reason, reason
        assert "paused" in describe(sub, now=NOW)  # `/brief status` says so, and why
    other = store.subscriptions.get("other")
    assert other is not None and other.enabled
    # Paused is a state the operator was told of, not ongoing delivery trouble.
    health = delivery_health(store, now=NOW)
    assert health.ok, health.problems
    [paused] = health.paused
    assert (
        paused.startswith("news (") and error in paused and "2 refused message" in paused
    )  # headline + thread

    # Next morning nothing is composed, nothing is sent.
    calls = len(slack_stub.of("chat.postMessage"))
    assert _slot(_scheduler(store, settings, bot_settings), "news", NOW + timedelta(days=1)) is None
    assert len(slack_stub.of("chat.postMessage")) == calls

    # The bot is invited back, and the subscription resumed (App Home's Resume button):
    # the refused digest's articles come in the next one, posted once.
    del slack_stub.gone["C1"]
    store.subscriptions.enable("news")
    later = NOW + timedelta(days=2)
    store.articles.add(make_processed("A later story", "Taiwan said more on Friday. It did."),
                       now=later)  # fmt: skip
    again = _slot(_scheduler(store, settings, bot_settings), "news", later)
    assert again is not None and again.status == "queued"
    assert set(ids) <= set(again.articles)
    assert [m.status for m in store.outbox.messages(first.key)] == ["carried"]
    assert delivery_health(store, now=later).paused == []


@pytest.mark.parametrize("fault", ["429", "500", "timeout", "ratelimited"])
def test_waiting_errors_never_pause(
    fault: str, store: Store, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    _subscribe(store, "news", "C1")
    store.outbox.enqueue("run:1", [{"text": "x"}], platform="slack", channel="C1", now=NOW,
                         subscription="news", article_ids=[[1]])  # fmt: skip
    if fault == "429":
        slack_stub.rate_limit("chat.postMessage", retry_after=1)
    elif fault == "500":
        slack_stub.fail("chat.postMessage", 500, {"ok": False, "error": "internal_error"})
    elif fault == "timeout":
        slack_stub.hang("chat.postMessage")
    else:  # an ok=false rate limit answered 200
        slack_stub.fail("chat.postMessage", 200, {"ok": False, "error": "ratelimited"})
    sender = slack_sender(bot_settings, store, timeout=1)
    assert sender is not None
    report = asyncio.run(
        Sweeper(store, {"slack": sender}, owner="t", now=lambda: NOW, pacer=Pacer(0)).sweep()
    )
    assert report.dead == 0
    sub = store.subscriptions.get("news")
    assert sub is not None and sub.enabled and sub.disabled_reason is None


def test_health_leaves_out_only_the_paused_subscriptions_refused_parts(any_store: Store) -> None:
    store = any_store
    for name in ("gone", "live"):
        _subscribe(store, name, f"C-{name}")
    for key, sub in (("run:1", "gone"), ("run:2", "live"), ("post:1", None)):
        store.outbox.enqueue(key, [{"text": "x"}], platform="slack", channel=f"C-{sub}",
                             now=NOW, subscription=sub, article_ids=[[1]])  # fmt: skip
    for claim in store.outbox.claim(owner="t", now=NOW, lease=timedelta(seconds=45)):
        store.outbox.dead(claim, error=f"refused {claim.message.digest_key}", now=NOW)
    store.subscriptions.disable("gone", "Slack channel C-gone: channel_not_found (...)")
    outbox = store.outbox.health(NOW)
    assert outbox.dead == 2 and outbox.last_error == "refused post:1"
    assert store.outbox.paused_dead() == {"gone": 1}
    health = delivery_health(store, now=NOW)
    [refused] = health.problems
    assert "2 message(s) refused" in refused and "live" in refused and "gone" not in refused
    assert health.paused == [
        "gone (Slack channel C-gone: channel_not_found (...)): 1 refused message(s) wait for it "
        "to be resumed"
    ]


def test_a_removed_subscriptions_refused_parts_are_no_trouble(any_store: Store) -> None:
    # No digest of a subscription that is gone (`/brief unsubscribe`) will carry them: they
    # kept delivery in trouble for good.
    store = any_store
    _subscribe(store, "old", "C-old")
    store.outbox.enqueue("run:1", [{"text": "x"}], platform="slack", channel="C-old", now=NOW,
                         subscription="old", article_ids=[[1]])  # fmt: skip
    for claim in store.outbox.claim(owner="t", now=NOW, lease=timedelta(seconds=45)):
        store.outbox.dead(claim, error="refused run:1", now=NOW)
    assert store.outbox.health(NOW).dead == 1
    assert store.subscriptions.remove("old")
    outbox = store.outbox.health(NOW)
    assert (outbox.dead, outbox.last_error) == (0, None)
    assert delivery_health(store, now=NOW).problems == []


class _Tokens:
    async def async_bot_token(self, team_id: str | None) -> str | None:
        return "xoxb-test" if team_id == "T1" else None


def test_with_oauth_installs_only_the_refusing_workspace_is_paused(
    store: Store, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    # A Slack Connect channel has one id in two workspaces: the bot was removed in T1 only.
    for name, team in (("t1-news", "T1"), ("t2-news", "T2")):
        store.subscriptions.upsert(name, platform="slack", channel="C1", topics=(),
                                   cron="0 8 * * *", timezone="UTC", origin="chat", now=NOW,
                                   team_id=team)  # fmt: skip
    store.outbox.enqueue("run:1", [{"text": "x"}], platform="slack", channel="C1", now=NOW,
                         team_id="T1", subscription="t1-news", article_ids=[[1]])  # fmt: skip
    slack_stub.gone["C1"] = "not_in_channel"
    sender = SlackSender(make_sender_client(bot_settings), tokens=_Tokens(),
                         schedules=store.subscriptions)  # fmt: skip
    report = asyncio.run(
        Sweeper(store, {"slack": sender}, owner="t", now=lambda: NOW, pacer=Pacer(0)).sweep()
    )
    assert report.dead == 1
    t1, t2 = store.subscriptions.get("t1-news"), store.subscriptions.get("t2-news")
    assert t1 is not None and not t1.enabled and t2 is not None and t2.enabled
    # A chat subscription can also be resumed by subscribing again in the channel.
    assert "/brief subscribe there again" in (t1.disabled_reason or "")
