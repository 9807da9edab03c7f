"""Developing stories: a story already posted comes back as an update quoting only what is new.

Against the local Slack stand-in (threads on and off), the Discord and the Mattermost
stand-ins: the real
scheduler path (claim, queue_digest, the outbox, the senders over HTTP on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
from sqlalchemy import text

from bot.deliver import Pacer, queue_digest
from bot.platforms.discord.webhook import DiscordWebhookSender
from bot.platforms.mattermost.sender import MattermostSender
from bot.platforms.mattermost.settings import load_mattermost
from bot.platforms.slack.sender import SlackSender, make_sender_client
from bot.schedule import target_of
from bot.serve import renderers
from bot.settings import BotSettings
from bot.sweep import Sweeper
from digests.store import Store
from testkit.slack_stub import SlackStub
from tests.bot.discord_standin import CHANNEL_ID, GUILD_ID, DiscordStandIn, serving
from tests.bot.mattermost_standin import MattermostStandIn
from tests.conftest import NOW, make_processed

LEAD = "The Karthala volcano on Grande Comore erupted on Monday, sending ash over Moroni."
FIRST = (
    LEAD,
    "Officials in Moroni closed the airport as ash from Karthala fell on the capital.",
    "Thousands of residents near Karthala were evacuated to schools in Moroni.",
)
SECOND = (
    "The Karthala volcano on Grande Comore erupted Monday, sending ash over Moroni.",
    "Aid flights to Moroni were diverted to Anjouan as Karthala kept erupting on Tuesday.",
    "Seismologists said the Karthala volcano could keep erupting over Moroni for weeks.",
)


def _add(store: Store, n: int) -> int:
    sentences = FIRST if n == 1 else SECOND
    item = make_processed(
        "Karthala volcano erupts on Grande Comore" if n == 1 else "Karthala keeps erupting",
        " ".join(sentences),
        tags=(("world", 2),),
        source="Wire A" if n == 1 else "Wire B",
        url=f"https://news.example/{n}",
        published=NOW - timedelta(days=2 - n),
        summary=sentences[:2],
    )
    article_id = store.articles.add(item, now=NOW)
    assert article_id is not None
    return article_id


def _run(store: Store, name: str, at_hour: int) -> str:
    sub = store.subscriptions.get(name)
    assert sub is not None
    slot = NOW + timedelta(hours=at_hour)
    run_id = store.runs.claim(sub.id, slot, owner="t", now=slot)
    assert run_id is not None
    result = queue_digest(store, target_of(sub, 15), run_id, now=slot, renderers=renderers())
    assert result.status == "queued" and result.key, result
    return result.key


def _texts(messages: list[dict]) -> str:
    return json.dumps(messages)


class _Installs:
    """OAuth installs (``WorkspaceTokens``' part the sender asks): the stand-in's one token
    is workspace T1's; no token for a row naming no workspace."""

    async def async_bot_token(self, team_id: str | None) -> str | None:
        return "xoxb-test" if team_id == "T1" else None


def _slack(
    store: Store, bot_settings: BotSettings, *, thread: bool, team: str | None = None
) -> None:
    """Two digests of "morning" (of ``team``'s workspace: posted with OAuth installs' tokens),
    the second with the story's follow-up."""
    store.subscriptions.upsert(
        "morning", platform="slack", channel="CNEWS", topics=(), cron="0 8 * * *",
        timezone="UTC", origin="config", now=NOW, watermark=0, thread=thread, team_id=team,
    )  # fmt: skip
    tokens = _Installs() if team else None
    sender = SlackSender(make_sender_client(bot_settings), tokens=tokens)
    first_story = store.articles.get([_add(store, 1)])[0].story
    _run(store, "morning", 0)
    asyncio.run(
        Sweeper(store, {"slack": sender}, owner="test", now=lambda: NOW, pacer=Pacer(0.0)).sweep()
    )
    second = store.articles.get([_add(store, 2)])[0]
    assert second.story == first_story  # the follow-up joined the story
    _run(store, "morning", 1)
    later = NOW + timedelta(hours=1)
    asyncio.run(
        Sweeper(store, {"slack": sender}, owner="test", now=lambda: later, pacer=Pacer(0.0)).sweep()
    )


def _morning_unthreaded(store: Store, bot_settings: BotSettings) -> SlackSender:
    """A "morning" subscription posting stories to CNEWS (not as thread replies), and the
    Slack sender that delivers it."""
    store.subscriptions.upsert(
        "morning", platform="slack", channel="CNEWS", topics=(), cron="0 8 * * *",
        timezone="UTC", origin="config", now=NOW, watermark=0, thread=False,
    )  # fmt: skip
    return SlackSender(make_sender_client(bot_settings))


def test_an_update_in_a_threaded_slack_digest_quotes_only_new_and_replies_in_the_thread(
    store: Store, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    _slack(store, bot_settings, thread=True)
    posted = slack_stub.posted("CNEWS")
    heads = [m for m in posted if "thread_ts" not in m]
    assert len(heads) == 2  # two digests, each one headline
    first_thread = [m for m in posted if m.get("thread_ts") == heads[0]["ts"]]
    second_thread = [m for m in posted if m.get("thread_ts") == heads[1]["ts"]]
    assert LEAD in _texts(first_thread)
    # The update in the new digest: only the new sentences, none of what was posted.
    new = _texts(second_thread)
    assert "Update:" in new and "Aid flights" in new
    assert "sending ash over Moroni" not in new and "closed the airport" not in new
    # ... and also a reply in the earlier story's thread.
    [reply] = [m for m in first_thread if "Update:" in _texts([m])]
    assert "Aid flights" in _texts([reply]) and "sending ash" not in _texts([reply])


def test_with_oauth_installs_the_update_s_thread_reply_is_posted_with_its_workspace_s_token(
    store: Store, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    """The reply in the earlier story's thread was queued without the subscription's
    workspace, so with OAuth installs no token could post it: it went dead ("the app is not
    installed in no workspace") and the earlier thread never heard of the update."""
    _slack(store, bot_settings, thread=True, team="T1")
    heads = [m for m in slack_stub.posted("CNEWS") if "thread_ts" not in m]
    assert len(heads) == 2
    first_thread = [m for m in slack_stub.posted("CNEWS") if m.get("thread_ts") == heads[0]["ts"]]
    [reply] = [m for m in first_thread if "Update:" in _texts([m])]
    assert "Aid flights" in _texts([reply])
    with store.engine.connect() as conn:
        dead = conn.execute(text("SELECT digest_key, last_error FROM outbox WHERE status = 'dead'"))
        assert dead.all() == []


def test_an_update_in_a_flat_slack_digest_quotes_only_new(
    store: Store, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    _slack(store, bot_settings, thread=False)
    posted = slack_stub.posted("CNEWS")
    assert len(posted) == 2 and all("thread_ts" not in m for m in posted)
    assert LEAD in _texts(posted[:1])
    update = _texts(posted[1:])
    assert "Update:" in update and "Aid flights" in update
    assert "sending ash over Moroni" not in update and "closed the airport" not in update


def test_a_story_with_nothing_new_is_not_posted_again(
    store: Store, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    sender = _morning_unthreaded(store, bot_settings)
    _add(store, 1)
    _run(store, "morning", 0)
    asyncio.run(
        Sweeper(store, {"slack": sender}, owner="test", now=lambda: NOW, pacer=Pacer(0.0)).sweep()
    )
    # A syndicated copy of the same text from another wire: nothing new to say.
    copy = make_processed(
        "Karthala volcano erupts", " ".join(FIRST) + " (Wire C)", tags=(("world", 2),),
        source="Wire C", published=NOW - timedelta(hours=30), summary=FIRST[:2],
    )  # fmt: skip
    assert store.articles.add(copy, now=NOW) is not None
    sub = store.subscriptions.get("morning")
    assert sub is not None
    run_id = store.runs.claim(sub.id, NOW + timedelta(hours=1), owner="t", now=NOW)
    assert run_id is not None
    result = queue_digest(store, target_of(sub, 15), run_id, now=NOW, renderers=renderers())
    later = NOW + timedelta(hours=1)
    asyncio.run(
        Sweeper(store, {"slack": sender}, owner="test", now=lambda: later, pacer=Pacer(0.0)).sweep()
    )
    assert result.status == "empty" and result.articles  # the copy was covered ...
    assert len(slack_stub.posted("CNEWS")) == 1  # ... and nothing was posted again


def test_a_story_with_nothing_new_gives_its_place_to_the_next_story(
    store: Store, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    # At most one story a digest. The second digest's best-ranked story had nothing new (a
    # copy of what was posted), so it was left out after the cap had been applied: the
    # message said only "+1 more story", and that story (never shown) was covered for good.
    sender = _morning_unthreaded(store, bot_settings)

    def run(hour: int) -> None:
        sub = store.subscriptions.get("morning")
        assert sub is not None
        slot = NOW + timedelta(hours=hour)
        run_id = store.runs.claim(sub.id, slot, owner="t", now=slot)
        assert run_id is not None
        result = queue_digest(store, target_of(sub, 1), run_id, now=slot, renderers=renderers())
        assert result.status == "queued", result
        asyncio.run(
            Sweeper(
                store, {"slack": sender}, owner="test", now=lambda: slot, pacer=Pacer(0.0)
            ).sweep()
        )

    _add(store, 1)
    run(0)
    strike = make_processed(
        "Harbour strike in Rotterdam",
        "Dock workers in Rotterdam walked out on Tuesday over pay. "
        "The Rotterdam port authority said forty ships were waiting.",
        tags=(("world", 2),), source="Wire D", published=NOW - timedelta(hours=40),
    )  # fmt: skip
    copy = make_processed(
        "Karthala volcano erupts", " ".join(FIRST) + " (Wire C)", tags=(("world", 2),),
        source="Wire C", published=NOW - timedelta(hours=30), summary=FIRST[:2],
    )  # fmt: skip
    assert store.articles.add(strike, now=NOW) and store.articles.add(copy, now=NOW)
    run(1)
    first, second = (_texts([m]) for m in slack_stub.posted("CNEWS"))
    assert "Karthala" in first
    assert "Dock workers in Rotterdam walked out" in second
    assert "Karthala" not in second and "more stor" not in second


def test_an_update_on_discord_links_the_earlier_message_and_quotes_only_new(
    store: Store,
) -> None:
    stand_in = DiscordStandIn()

    async def scenario() -> None:
        async with serving(stand_in.app()) as base:
            webhook = stand_in.webhook_url(base)
            store.subscriptions.upsert(
                "news", platform="discord", channel=webhook, topics=(), cron="0 8 * * *",
                timezone="UTC", origin="config", now=NOW, watermark=0,
            )  # fmt: skip
            async with httpx.AsyncClient() as client:
                sender = DiscordWebhookSender(client, api_url=f"{base}/api")
                _add(store, 1)
                _run(store, "news", 0)
                await Sweeper(
                    store, {"discord": sender}, owner="test", now=lambda: NOW, pacer=Pacer(0.0)
                ).sweep()
                _add(store, 2)
                _run(store, "news", 1)
                later = NOW + timedelta(hours=1)
                await Sweeper(
                    store, {"discord": sender}, owner="test", now=lambda: later, pacer=Pacer(0.0)
                ).sweep()

    asyncio.run(scenario())
    first, second = stand_in.messages
    assert LEAD in _texts([first])
    [embed] = second["embeds"]
    assert embed["title"].startswith("Update:")
    assert "Aid flights" in embed["description"] and "sending ash" not in embed["description"]
    [earlier] = [f for f in embed["fields"] if f["name"] == "Earlier"]
    jump = f"https://discord.com/channels/{GUILD_ID}/{CHANNEL_ID}/{first['id']}"
    assert jump in earlier["value"]


def _mattermost_mornings(
    store: Store,
    api: MattermostStandIn,
    *,
    token: str | None = None,
    before_second: Callable[[], None] | None = None,
    after: Callable[[str, Sweeper], Awaitable[None]] | None = None,
) -> None:
    """Two mornings of the "mm" subscription on the Mattermost stand-in (its webhook, and the
    REST API with ``token``): the first story, then its development an hour later.
    ``before_second`` runs before the second sweep, ``after`` (the second run's key and its
    sweeper) while the stand-in still serves."""

    async def scenario() -> None:
        async with serving(api.app()) as base:
            env = {"MATTERMOST_URL": base} | ({"MATTERMOST_BOT_TOKEN": token} if token else {})
            settings = load_mattermost(env)
            assert settings is not None
            store.subscriptions.upsert(
                "mm", platform="mattermost", channel=f"{base}/hooks/h1", topics=(),
                cron="0 8 * * *", timezone="UTC", origin="config", now=NOW, watermark=0,
            )  # fmt: skip
            async with httpx.AsyncClient() as client:
                sender = MattermostSender(client, settings, schedules=store.subscriptions)
                for n, at in ((1, NOW), (2, NOW + timedelta(hours=1))):
                    _add(store, n)
                    key = _run(store, "mm", n - 1)
                    if n == 2 and before_second is not None:
                        before_second()
                    sweeper = Sweeper(store, {"mattermost": sender}, owner="test",
                                      now=lambda at=at: at, pacer=Pacer(0.0))  # fmt: skip
                    await sweeper.sweep()
                if after is not None:
                    await after(key, sweeper)

    asyncio.run(scenario())


def test_an_update_on_mattermost_is_marked_and_quotes_only_new(store: Store) -> None:
    api = MattermostStandIn()
    _mattermost_mornings(store, api)
    first, second = (post.message for post in api.in_channel("ch-h1"))
    assert LEAD in first
    assert "Update:" in second and "Aid flights" in second
    # The update quotes only what the channel was not shown: not the lead again (the second
    # wire's near-copy of it), nor the first report's sentences.
    assert "sending ash over Moroni" not in second and "closed the airport" not in second


def test_an_update_on_mattermost_through_the_api_is_also_a_reply_in_the_earlier_thread(
    store: Store,
) -> None:
    # Posting through the REST API (MATTERMOST_BOT_TOKEN) records each post's id, yet an
    # update was only a top-level "Update:" post: no reply under the post that showed the
    # story (root_id), as Slack replies in its thread. The reply is an outbox row: its answer
    # lost (the post made, then 502), it is found by its key, not posted twice.
    api = MattermostStandIn()

    def lose_the_reply_s_answer() -> None:
        api.faults += ["pass", "apply+502"]  # the digest's post passes, the reply's is lost

    async def reconcile(key: str, sweeper: Sweeper) -> None:
        [reply_row] = store.outbox.messages(f"{key}:update.{_story(store)}")
        assert reply_row.status != "sent"  # its outcome unknown
        sweeper.now = lambda: reply_row.next_attempt_at + timedelta(seconds=1)
        assert (await sweeper.sweep()).reconciled == 1

    _mattermost_mornings(
        store, api, token=api.bot_token, before_second=lose_the_reply_s_answer, after=reconcile
    )
    first, second, reply = api.in_channel("ch-h1")  # the reply exactly once
    assert first.via == second.via == reply.via == "api"
    assert LEAD in first.message and not first.root_id
    assert "Update:" in second.message and not second.root_id  # the digest shows it as before
    assert reply.root_id == first.id  # in the thread of the post that showed the story
    assert reply.message.startswith("Update: ") and "Aid flights" in reply.message
    assert "News digest" not in reply.message  # the story alone, no digest heading
    assert "sending ash over Moroni" not in reply.message
    assert "closed the airport" not in reply.message
    [row] = [r for r in store.outbox.messages(reply.props["digestbot_key"])]
    assert row.status == "sent" and row.remote_id == reply.id


def test_a_mattermost_update_whose_earlier_post_was_deleted_posts_no_reply(store: Store) -> None:
    # Mattermost refuses a root_id whose post was deleted (400, nothing posted): the reply is
    # dropped, not left dead (a delivery problem) nor posted top-level beside the digest's
    # own update.
    api = MattermostStandIn()

    async def dropped(key: str, sweeper: Sweeper) -> None:
        [reply_row] = store.outbox.messages(f"{key}:update.{_story(store)}")
        assert reply_row.status == "sent" and reply_row.remote_id is None

    def delete_the_first_post() -> None:  # a user deleted the post that showed the story
        api.posts.pop(0)

    _mattermost_mornings(
        store, api, token="bot-token", before_second=delete_the_first_post, after=dropped
    )
    [update] = api.in_channel("ch-h1")  # the digest's update only, no reply
    assert "Update:" in update.message and not update.root_id
    assert ("POST", "/api/v4/posts") in api.calls


def _story(store: Store) -> int:
    [story] = {a.story for a in store.articles.since(0, limit=10)}
    assert story is not None
    return story


def test_an_update_counts_the_sources_of_what_is_new_and_says_so_on_every_platform() -> None:
    # Wire A's report was posted; Wire B and Wire C report more. The update (quoting only
    # their new sentences) said "2 sources" on Slack and Discord, as if the story had two
    # sources in all (it has three), and Mattermost "Also: Wire C".
    from rich.console import Console

    from bot.platforms.discord import render as discord
    from bot.platforms.mattermost import render as mattermost
    from bot.platforms.slack import render as slack
    from bot.render.text import digest_text
    from digests.compose import compose, follow_up
    from digests.models import Digest, StoredArticle

    def terminal_of(digest: Digest) -> str:
        console = Console(width=200, record=True)
        console.print(digest_text(digest))
        return console.export_text()

    def report(i: int, source: str, sentences: tuple[str, ...]) -> StoredArticle:
        return StoredArticle(
            id=i, title=f"Karthala report {i}", source=source, author=None,
            published=NOW + timedelta(hours=i), url=f"https://news.example/{i}",
            summary=sentences, tags=("world",), keyphrases=(), ingested_at=NOW, story=7,
        )  # fmt: skip

    shown = list(FIRST[:2])  # what Wire A's report was shown with
    new = [report(2, "Wire B", SECOND[1:2]), report(3, "Wire C", SECOND[2:])]
    digest = follow_up(compose(new, now=NOW), {7: shown})
    [item] = [i for s in digest.sections for i in s.items]
    assert item.update and item.sources == ("Wire B", "Wire C")

    slack_text = json.dumps([p.payload["blocks"] for p in slack.digest_parts(digest)])
    [embed] = discord.digest_parts(digest)[0].payload["embeds"]
    [post] = mattermost.digest_parts(digest)
    terminal = terminal_of(digest)
    assert "New from 2 sources: " in slack_text and "2 sources:" not in slack_text.replace(
        "New from 2 sources:", ""
    )
    assert [f["name"] for f in embed["fields"]] == ["New from 2 sources"]
    assert "New from 2 sources: " in post.payload["text"] and "Also:" not in post.payload["text"]
    assert "New from 2 sources: Wire B, Wire C" in terminal
    # A story shown for the first time still counts all its sources.
    first = compose([report(1, "Wire A", FIRST[:2]), *new], now=NOW)
    [embed] = discord.digest_parts(first)[0].payload["embeds"]
    assert [f["name"] for f in embed["fields"]] == ["3 sources"]
    assert "3 sources: Wire A, Wire B, Wire C" in terminal_of(first)
