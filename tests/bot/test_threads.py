"""Digests as threads: one headline in the channel, the stories as replies under it."""

from __future__ import annotations

import asyncio

from bot.deliver import Pacer, Sweeper, queue_digest
from bot.platforms.slack.sender import SlackSender, make_sender_client
from bot.schedule import target_of
from bot.serve import renderers
from bot.settings import BotSettings
from digests.store import Store
from testkit.slack_stub import SlackStub
from tests.bot.conftest import add_taiwan_articles
from tests.conftest import NOW


def _queue(store: Store, *, thread: bool) -> str:
    sub = store.subscriptions.upsert(
        "morning", platform="slack", channel="CNEWS", topics=(), cron="0 8 * * *",
        timezone="UTC", origin="config", now=NOW, watermark=0, thread=thread,
    )  # fmt: skip
    add_taiwan_articles(store)
    run_id = store.runs.claim(sub.id, NOW, owner="t", now=NOW)
    assert run_id is not None
    result = queue_digest(store, target_of(sub), run_id, now=NOW, renderers=renderers())
    assert result.status == "queued" and result.key
    return result.key


def _send(store: Store, bot_settings: BotSettings) -> None:
    sender = SlackSender(make_sender_client(bot_settings))
    asyncio.run(
        Sweeper(store, {"slack": sender}, owner="test", now=lambda: NOW, pacer=Pacer(0.0)).sweep()
    )


def test_a_digest_is_one_headline_with_its_stories_as_replies(
    store: Store, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    key = _queue(store, thread=True)
    [head] = store.outbox.messages(key)
    replies = store.outbox.messages(f"{key}:thread")
    assert replies and all(r.parent_id == head.id for r in replies)
    assert head.article_ids == () and sorted(a for r in replies for a in r.article_ids) == [1, 2, 3]

    _send(store, bot_settings)
    posted = slack_stub.posted("CNEWS")
    top = [m for m in posted if "thread_ts" not in m]
    assert len(top) == 1  # the channel sees one message, whatever the story count
    headline = " ".join(b["text"]["text"] for b in top[0]["blocks"] if "text" in b)
    assert "News digest" in headline and "3 stories" in headline and "#taiwan" in headline
    assert "Taiwan holds drills" not in headline  # the stories are in the thread
    thread = [m for m in posted if m.get("thread_ts") == top[0]["ts"]]
    assert len(thread) == len(replies) and "Taiwan holds drills" in str(thread[0]["blocks"])
    assert {r.status for r in store.outbox.messages(f"{key}:thread")} == {"sent"}


def test_thread_false_posts_the_digest_flat(
    store: Store, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    key = _queue(store, thread=False)
    assert store.outbox.messages(f"{key}:thread") == []
    _send(store, bot_settings)
    posted = slack_stub.posted("CNEWS")
    assert posted and all("thread_ts" not in m for m in posted)
    assert "Taiwan holds drills" in str(posted[0]["blocks"])


def test_a_lost_answer_for_a_reply_is_found_in_its_thread(
    store: Store, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    key = _queue(store, thread=True)
    _send(store, bot_settings)
    [reply] = store.outbox.messages(f"{key}:thread")[:1]
    sender = SlackSender(make_sender_client(bot_settings))
    [head] = store.outbox.messages(key)
    from dataclasses import replace

    # As the sweeper hands out a reply: with its headline's ts.
    found = asyncio.run(sender.find_sent(replace(reply, parent_remote_id=head.remote_id)))
    assert found == reply.remote_id
    assert slack_stub.of("conversations.replies")[-1].params["ts"] == head.remote_id
