"""Topic feedback from chat: the buttons on each digest story, clicks through the real Bolt app
(signed, against the Slack stand-in) and the real Discord interactions endpoint (Ed25519-signed,
against the Discord stand-in), who may give it, and the tag it changes at the next refit."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import httpx
import pytest
from nacl.signing import SigningKey
from starlette.applications import Starlette

from bot.chat import ChatService
from bot.deliver import DigestTarget, Renderer, deliver_digest
from bot.platforms.discord import render as discord_render
from bot.platforms.discord.commands import MANAGE_WEBHOOKS, DiscordCommands
from bot.platforms.discord.interactions import DiscordInteractions, interactions_route
from bot.platforms.slack import render as slack_render
from bot.platforms.slack.sender import SlackSender, make_sender_client
from bot.serve import renderers as serve_renderers
from bot.settings import BotSettings
from bot.sweep import Pacer, Sweeper
from digests.compose import compose
from digests.config import Settings, Topic
from digests.refit import refresh
from digests.store import Store
from testkit.slack_requests import signed_headers
from testkit.slack_stub import slack_would_refuse
from tests.bot.conftest import RunningBot
from tests.bot.discord_standin import DiscordStandIn, serving
from tests.conftest import NOW, make_processed
from tests.digests.topic_corpus import corpus

APP_ID = "123456789012345678"
GUILD = "777000000000000001"
LATER = NOW + timedelta(minutes=10)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shipped config's topics plus two learned from the store: sport and tech."""
    topics = (*settings.topics, Topic(name="sport"), Topic(name="tech"))
    return settings.model_copy(update={"topics": topics})


def _learned_sport_story(store: Store, settings: Settings) -> int:
    """Fill the store with stories, learn the topics, and return a story tagged sport."""
    for _, title, body in corpus(30):
        store.articles.add(make_processed(title, body), now=NOW)
    assert refresh(store, settings.topics, now=NOW).fitted
    sport = store.articles.ids_for_tag("sport", limit=1)
    assert sport and store.articles.get(sport)[0].tags[0] == "sport"
    return sport[0]


def _click(
    action_id: str,
    value: str,
    *,
    response_url: str,
    user_team: str = "T1",
    team: str = "T1",
    enterprise: str | None = None,
) -> str:
    """A signed-to-be click; ``enterprise``: the workspace is in an Enterprise Grid org,
    whose id Slack puts in ``team.enterprise_id`` and ``enterprise`` (``user.team_id`` is
    then the org's id, E…, not the workspace's)."""
    grid = {"enterprise_id": enterprise} if enterprise else {}
    payload = {
        "type": "block_actions",
        "team": {"id": team, **grid},
        **({"enterprise": {"id": enterprise, "name": "Org"}} if enterprise else {}),
        "user": {"id": "U7", "name": "ana", "team_id": user_team},
        "api_app_id": "A1",
        "token": "legacy",
        "trigger_id": "1.2.3",
        "container": {"type": "message", "channel_id": "C123"},
        "channel": {"id": "C123", "name": "news"},
        "response_url": response_url,
        "actions": [
            {"type": "button", "action_id": action_id, "block_id": "b", "value": value,
             "action_ts": "1.2"}
        ],
    }  # fmt: skip
    return urlencode({"payload": json.dumps(payload)})


def _deliver(
    store: Store, bot_settings: BotSettings, name: str, channel: str, renderers: dict[str, Renderer]
) -> None:
    """Deliver subscription ``name``'s digest of #sport to Slack ``channel`` (the stand-in)
    through the production sweeper."""
    sender = SlackSender(make_sender_client(bot_settings, timeout=5))
    sweeper = Sweeper(store, {"slack": sender}, owner="t", now=lambda: NOW, pacer=Pacer(0))
    target = DigestTarget(name, (("slack", channel),), topics=("sport",))
    sent = asyncio.run(deliver_digest(store, target, now=lambda: NOW, owner="t", sweeper=sweeper,
                                      renderers=renderers))  # fmt: skip
    assert sent.status == "queued"


def _buttons(running_bot: RunningBot, channel: str) -> list[tuple[str, str]]:
    """(action_id, value) of every button the digests posted to ``channel`` carry."""
    return [
        (e["action_id"], e["value"])
        for m in running_bot.stub.posted(channel)
        for b in m["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]


def test_each_story_offers_not_topic_and_more_like_this_within_platform_limits(
    store: Store, settings: Settings
) -> None:
    _learned_sport_story(store, settings)
    digest = compose(store.articles.get(store.articles.ids_for_tag("sport", limit=12)), now=NOW)
    # Each story's buttons name its lead article (the articles of one event are one item).
    story = next(i.article.id for s in digest.sections if s.tag == "sport" for i in s.items)
    messages = [p.payload for p in slack_render.digest_parts(digest)]
    actions = [b for m in messages for b in m["blocks"] if b["type"] == "actions"]
    assert len(actions) == sum(len(s.items) for s in digest.sections)
    values = {e["value"]: e["text"]["text"] for a in actions for e in a["elements"]}
    assert values[f"{story}:sport"] in {"Not #sport", "More like this"}
    assert {e["action_id"] for a in actions for e in a["elements"]} == {"topic_not", "topic_more"}
    for m in messages:  # the stand-in's own reading of Block Kit's limits
        assert slack_would_refuse({"channel": "C1", **m}) is None
    parts = [p.payload for p in discord_render.digest_parts(digest)]
    ids = [c["custom_id"] for p in parts for row in p["components"] for c in row["components"]]
    assert f"topic_not:{story}:sport" in ids and f"topic_more:{story}:sport" in ids
    assert all(len(p["components"]) <= 5 for p in parts)


def test_slack_not_topic_click_is_stored_and_changes_the_tag_at_the_next_refit(
    running_bot: RunningBot, settings: Settings
) -> None:
    store = running_bot.store
    story = _learned_sport_story(store, settings)
    body = _click("topic_not", f"{story}:sport", response_url=running_bot.stub.response_url("fb"))
    assert running_bot.post(body, signed_headers(body)).status_code == 200
    [answer] = running_bot.stub.wait_for("response:fb")
    assert answer.params["response_type"] == "ephemeral"
    assert answer.params["text"] == (
        "Noted: this story is not #sport. The topics learn from it at their next refit, within "
        "5 minutes."
    )
    # A second click (a double click, or a second look at the digest) stores nothing more.
    again = _click("topic_not", f"{story}:sport", response_url=running_bot.stub.response_url("fb2"))
    assert running_bot.post(again, signed_headers(again)).status_code == 200
    [answer] = running_bot.stub.wait_for("response:fb2")
    assert answer.params["text"] == "Already noted: this story is not #sport."
    [fb] = store.topics.feedback()
    assert (fb.article_id, fb.topic, fb.kind, fb.user_id, fb.workspace, fb.platform) == (
        story, "sport", "not", "U7", "T1", "slack"
    )  # fmt: skip
    assert "sport" in store.articles.get([story])[0].tags  # until the refit
    assert refresh(store, settings.topics, now=LATER).fitted
    assert "sport" not in store.articles.get([story])[0].tags


def test_a_click_on_a_delivered_digest_changes_the_story_s_tag_at_the_next_refit(
    running_bot: RunningBot, settings: Settings, bot_settings: BotSettings
) -> None:
    # A button is only ever clicked on a digest that was posted. The refit re-tagged only the
    # articles no digest had shown yet, so the story the reader corrected kept its tag.
    store = running_bot.store
    _learned_sport_story(store, settings)
    store.subscriptions.upsert("news", platform="slack", channel="C123", topics=("sport",),
                               cron="0 8 * * *", timezone="UTC", origin="config", now=NOW)  # fmt: skip
    _deliver(store, bot_settings, "news", "C123", {"slack": slack_render.digest_parts})
    [value, *_] = [v for action, v in _buttons(running_bot, "C123") if action == "topic_not"]
    story = int(value.split(":")[0])
    body = _click("topic_not", value, response_url=running_bot.stub.response_url("fb"))
    assert running_bot.post(body, signed_headers(body)).status_code == 200
    running_bot.stub.wait_for("response:fb")
    assert refresh(store, settings.topics, now=LATER).fitted
    assert "sport" not in store.articles.get([story])[0].tags


def test_more_like_this_says_what_it_does_and_makes_the_story_an_example_of_its_topic(
    running_bot: RunningBot, settings: Settings
) -> None:
    # The reply promised "more stories like this one in #sport"; what the click does is make
    # the story a labelled example of the topic (as `examples` in topics.toml), no more.
    store = running_bot.store
    story = _learned_sport_story(store, settings)
    body = _click("topic_more", f"{story}:sport", response_url=running_bot.stub.response_url("m"))
    assert running_bot.post(body, signed_headers(body)).status_code == 200
    [answer] = running_bot.stub.wait_for("response:m")
    assert answer.params["text"] == (
        "Noted: this story is an example of #sport. The topics learn from it at their next "
        "refit, within 5 minutes."
    )
    assert refresh(store, settings.topics, now=LATER).fitted
    assert ("sport", 1.0) in store.topics.confidences(story)


def test_slack_clicks_from_another_organisation_or_with_bad_values_change_nothing(
    running_bot: RunningBot, settings: Settings
) -> None:
    store = running_bot.store
    story = _learned_sport_story(store, settings)
    cases = [
        (_click("topic_not", f"{story}:sport", response_url=running_bot.stub.response_url("x"),
                user_team="T9"), "x", "Only members of this workspace"),
        (_click("topic_more", f"{story}:narnia", response_url=running_bot.stub.response_url("y")),
         "y", "not a configured topic"),
        (_click("topic_more", "drop table", response_url=running_bot.stub.response_url("z")),
         "z", "not an article and a topic"),
        # A click on an old digest whose article is gone: said in words, not "no article N".
        (_click("topic_more", "999999:sport", response_url=running_bot.stub.response_url("w")),
         "w", "This story is no longer stored"),
    ]  # fmt: skip
    for body, name, said in cases:
        assert running_bot.post(body, signed_headers(body)).status_code == 200
        [answer] = running_bot.stub.wait_for(f"response:{name}")
        assert said in json.dumps(answer.params)
    assert store.topics.feedback() == []
    forged = cases[0][0]
    assert running_bot.post(forged, signed_headers(forged, secret="wrong")).status_code == 401


def test_a_member_of_an_enterprise_grid_workspace_may_correct_its_topics(
    running_bot: RunningBot, settings: Settings
) -> None:
    """In an Enterprise Grid org, Slack gives a user's ``team_id`` as the org's id (E…), not
    the workspace's: every click there was refused as from another organisation."""
    store = running_bot.store
    story = _learned_sport_story(store, settings)
    url = running_bot.stub.response_url("grid")
    body = _click("topic_not", f"{story}:sport", response_url=url, user_team="E1", enterprise="E1")
    assert running_bot.post(body, signed_headers(body)).status_code == 200
    [answer] = running_bot.stub.wait_for("response:grid")
    assert answer.params["text"].startswith("Noted: this story is not #sport."), answer.params
    [fb] = store.topics.feedback()
    assert (fb.article_id, fb.user_id, fb.workspace) == (story, "U7", "T1")
    # A user of another org in a shared channel is still refused.
    url = running_bot.stub.response_url("other")
    body = _click("topic_more", f"{story}:sport", response_url=url, user_team="E9", enterprise="E1")
    assert running_bot.post(body, signed_headers(body)).status_code == 200
    [answer] = running_bot.stub.wait_for("response:other")
    assert "Only members of this workspace" in json.dumps(answer.params)
    assert len(store.topics.feedback()) == 1


_IDS = itertools.count(1)


def _component(custom_id: str, *, permissions: int, token: str) -> dict:
    return {
        "type": 3,
        "id": str(next(_IDS)),  # Discord's ids are unique: a repeated one is a replay
        "application_id": APP_ID,
        "token": token,
        "channel_id": "555",
        "guild_id": GUILD,
        "member": {"user": {"id": "42"}, "permissions": str(permissions)},
        "message": {"id": "9"},
        "data": {"custom_id": custom_id, "component_type": 2},
    }


def signed_post(
    key: SigningKey,
) -> Callable[[httpx.AsyncClient, str, dict], Awaitable[httpx.Response]]:
    """POST an interaction to ``url`` signed with ``key``, as Discord does."""

    async def post(client: httpx.AsyncClient, url: str, interaction: dict) -> httpx.Response:
        body = json.dumps(interaction).encode()
        ts = str(int(time.time()))
        headers = {
            "X-Signature-Ed25519": key.sign(ts.encode() + body).signature.hex(),
            "X-Signature-Timestamp": ts,
            "Content-Type": "application/json",
        }
        return await client.post(url, content=body, headers=headers)

    return post


def interactions_app(
    key: SigningKey, chat: ChatService, client: httpx.AsyncClient, api_base: str
) -> Starlette:
    """The real interactions endpoint, its answers going to the Discord stand-in."""
    commands = DiscordCommands(chat, client, f"{api_base}/api", "bot-token")
    config = DiscordInteractions(
        public_key=key.verify_key.encode().hex(), application_id=APP_ID, chat=chat,
        client=client, api_url=f"{api_base}/api", commands=commands,
    )  # fmt: skip
    return Starlette(routes=[interactions_route(config)])


def test_discord_buttons_need_manage_webhooks_and_change_the_tag_at_the_next_refit(
    store: Store, settings: Settings
) -> None:
    story = _learned_sport_story(store, settings)
    # The digest the button came with was posted: its articles count as delivered.
    store.outbox.enqueue("run:1", [{"content": "digest"}], platform="discord", channel="hook",
                         now=NOW, article_ids=[[story]])  # fmt: skip
    key = SigningKey.generate()
    post = signed_post(key)

    async def main() -> None:
        api = DiscordStandIn()
        async with serving(api.app()) as api_base, httpx.AsyncClient(timeout=30) as client:
            endpoint = interactions_app(key, ChatService(store, settings, clock=lambda: NOW),
                                        client, api_base)  # fmt: skip
            async with serving(endpoint) as base:
                url = f"{base}/discord/interactions"
                refused = await post(
                    client, url, _component(f"topic_not:{story}:sport", permissions=0, token="t0")
                )
                assert refused.json()["type"] == 4
                assert "Manage Webhooks" in refused.json()["data"]["content"]
                assert store.topics.feedback() == []
                ok = await post(
                    client,
                    url,
                    _component(f"topic_not:{story}:sport", permissions=MANAGE_WEBHOOKS, token="t1"),
                )
                assert ok.json() == {"type": 5, "data": {"flags": 64}}  # deferred, ephemeral
                edit = await asyncio.wait_for(api.edits.get(), 20)
                assert edit["token"] == "t1" and "not #sport" in edit["payload"]["content"]

    asyncio.run(main())
    [fb] = store.topics.feedback()
    assert (fb.user_id, fb.workspace, fb.platform, fb.kind) == ("42", GUILD, "discord", "not")
    assert refresh(store, settings.topics, now=LATER).fitted
    assert "sport" not in store.articles.get([story])[0].tags


def test_a_replayed_discord_click_stores_one_correction_on_any_replica(
    store: Store, settings: Settings
) -> None:
    # Slash commands were run once per interaction id; a button click was not: the same signed
    # click sent again (a replay, or a retried delivery) stored a second identical correction.
    story = _learned_sport_story(store, settings)
    key = SigningKey.generate()
    click = _component(f"topic_not:{story}:sport", permissions=MANAGE_WEBHOOKS, token="t1")
    body = json.dumps(click).encode()

    async def main() -> list[int]:
        api = DiscordStandIn()
        async with serving(api.app()) as api_base, httpx.AsyncClient(timeout=30) as client:
            chat = ChatService(store, settings, clock=lambda: NOW)

            def replica() -> Starlette:  # each with its own memory, sharing the database
                config = DiscordInteractions(
                    public_key=key.verify_key.encode().hex(),
                    application_id=APP_ID,
                    chat=chat,
                    client=client,
                    api_url=f"{api_base}/api",
                    commands=DiscordCommands(chat, client, f"{api_base}/api", "bot-token"),
                    first_time=lambda ident: store.replays.first_time(ident, now=datetime.now(UTC)),
                )
                return Starlette(routes=[interactions_route(config)])

            statuses = []
            async with serving(replica()) as one, serving(replica()) as two:
                for base in (one, one, two):
                    ts = str(int(time.time()))
                    headers = {
                        "X-Signature-Ed25519": key.sign(ts.encode() + body).signature.hex(),
                        "X-Signature-Timestamp": ts,
                        "Content-Type": "application/json",
                    }
                    answer = await client.post(
                        f"{base}/discord/interactions", content=body, headers=headers
                    )
                    statuses.append(answer.status_code)
                edit = await asyncio.wait_for(api.edits.get(), 20)
                assert "not #sport" in edit["payload"]["content"]
                await asyncio.sleep(0.2)
                assert api.edits.empty()  # answered once
        return statuses

    assert asyncio.run(main()) == [200, 409, 409]  # as a replayed slash command is
    assert len(store.topics.feedback()) == 1


def test_buttons_name_a_configured_topic_never_a_source_s_tag(store: Store) -> None:
    # A subscription to a source's tag (sources.toml `tags`) filed every story under it, and
    # every story's buttons said "Not #wire": each click answered "#wire is not a configured
    # topic". A story also about a topic gets that topic's buttons; one about none gets none.
    match = store.articles.add(
        make_processed("Cup final tonight", "The striker scored twice. The coach was pleased.",
                       tags=(("sport", 900), ("wire", 2))),
        now=NOW,
    )  # fmt: skip
    soup = store.articles.add(
        make_processed("Winter soup", "The chef simmered the soup. Herbs went in last.",
                       tags=(("wire", 2),)),
        now=NOW,
    )  # fmt: skip
    assert match is not None and soup is not None
    digest = compose(store.articles.get([match, soup]), now=NOW, topics=("wire",))
    assert [s.tag for s in digest.sections] == ["wire"]
    rendered = serve_renderers(("sport", "tech"))
    slack = [
        (e["action_id"], e["value"], e["text"]["text"])
        for name in ("slack", "slack:thread")
        for p in rendered[name](digest)
        for b in p.payload["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]
    assert sorted(set(slack)) == [
        ("topic_more", f"{match}:sport", "More like this"),
        ("topic_not", f"{match}:sport", "Not #sport"),
    ]
    discord = [
        c["custom_id"]
        for p in rendered["discord"](digest)
        for row in p.payload.get("components", [])
        for c in row["components"]
    ]
    assert discord == [f"topic_not:{match}:sport", f"topic_more:{match}:sport"]


def _posted_story(
    running_bot: RunningBot, settings: Settings, bot_settings: BotSettings
) -> tuple[str, list[int]]:
    """A sport story of several sources delivered to C123: its button's value and the articles
    of the story the digest showed (its lead first)."""
    store = running_bot.store
    first = _learned_sport_story(store, settings)
    [article] = store.articles.get([first])
    story = article.story
    body = store.topics.texts([first])[first].split("\n", 1)[1]
    for source in ("Second Wire", "Third Wire"):
        new = store.articles.add(
            make_processed(article.title, f"{body} Reported by {source}.", source=source,
                           tags=(("sport", 900),)),
            now=NOW,
        )  # fmt: skip
        assert new is not None and store.articles.get([new])[0].story == article.story
    sport = store.articles.ids_for_tag("sport", limit=1000)
    store.subscriptions.upsert("news", platform="slack", channel="C123", topics=("sport",),
                               cron="0 8 * * *", timezone="UTC", origin="config", now=NOW)  # fmt: skip
    sender = SlackSender(make_sender_client(bot_settings, timeout=5))
    sweeper = Sweeper(store, {"slack": sender}, owner="t", now=lambda: NOW, pacer=Pacer(0))
    target = DigestTarget("news", (("slack", "C123"),), topics=("sport",))
    sent = asyncio.run(deliver_digest(store, target, now=lambda: NOW, owner="t", sweeper=sweeper,
                                      renderers={"slack": slack_render.digest_parts}))  # fmt: skip
    assert sent.status == "queued"
    values = {
        e["value"]
        for m in running_bot.stub.posted("C123")
        for b in m["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    }
    [value] = [v for v in values if store.articles.get([int(v.split(":")[0])])[0].story == story]
    lead = int(value.split(":")[0])
    # The digest showed the story's articles tagged sport (none was delivered before).
    shown = {a.id for a in store.articles.get(sport) if a.story == story}
    return value, [lead, *sorted(shown - {lead}, reverse=True)]


def test_not_topic_on_a_story_corrects_each_of_its_articles_the_digest_showed(
    running_bot: RunningBot, settings: Settings, bot_settings: BotSettings
) -> None:
    # The reply said "this story", but only the lead article's tag was corrected: the
    # story's other reports kept #sport (/brief sport, its next update, `articles --topic`).
    store = running_bot.store
    value, shown = _posted_story(running_bot, settings, bot_settings)
    assert len(shown) >= 3
    [lead] = store.articles.get([shown[0]])
    # A report the story gained after the digest: the reader never saw it.
    later = store.articles.add(
        make_processed(lead.title, "The striker scored twice in the cup semi-final.",
                       source="Late Wire", tags=(("sport", 900),)),
        now=LATER,
    )  # fmt: skip
    assert later is not None and store.articles.get([later])[0].story == lead.story
    body = _click("topic_not", value, response_url=running_bot.stub.response_url("s"))
    assert running_bot.post(body, signed_headers(body)).status_code == 200
    [answer] = running_bot.stub.wait_for("response:s")
    # At most 12 of them: the lead and the newest others (what the digest summarized).
    corrected = shown[:12]
    n = len(corrected)
    assert answer.params["text"].startswith(f"Noted: this story ({n} articles) is not #sport.")
    feedback = store.topics.feedback()
    assert sorted(f.article_id for f in feedback) == sorted(corrected)
    assert {(f.topic, f.kind, f.user_id) for f in feedback} == {("sport", "not", "U7")}
    again = _click("topic_not", value, response_url=running_bot.stub.response_url("s2"))
    assert running_bot.post(again, signed_headers(again)).status_code == 200
    [answer] = running_bot.stub.wait_for("response:s2")
    assert answer.params["text"] == f"Already noted: this story ({n} articles) is not #sport."
    assert refresh(store, settings.topics, now=LATER).fitted
    assert set(store.articles.ids_for_tag("sport", limit=1000)).isdisjoint(corrected)


def test_a_click_reads_a_bounded_number_of_digest_parts(
    running_bot: RunningBot,
    settings: Settings,
    bot_settings: BotSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The outbox keeps every part queued: a click reads only the newest PARTS_READ of them
    for what its digest showed, and past them corrects the lead alone."""
    from digests.store import topics as store_topics

    store = running_bot.store
    value, shown = _posted_story(running_bot, settings, bot_settings)
    for n in range(3):  # three newer parts, of other digests
        store.outbox.enqueue(
            f"other-{n}", [{"text": "x"}], platform="slack", channel="C999", now=LATER,
            article_ids=[[999_000 + n]],
        )  # fmt: skip
    monkeypatch.setattr(store_topics, "PARTS_READ", 3)
    body = _click("topic_not", value, response_url=running_bot.stub.response_url("b"))
    assert running_bot.post(body, signed_headers(body)).status_code == 200
    [answer] = running_bot.stub.wait_for("response:b")
    assert answer.params["text"].startswith("Noted: this story is not #sport.")
    assert [f.article_id for f in store.topics.feedback()] == [shown[0]]


def test_more_like_this_on_a_story_makes_each_shown_article_an_example(
    running_bot: RunningBot, settings: Settings, bot_settings: BotSettings
) -> None:
    store = running_bot.store
    value, shown = _posted_story(running_bot, settings, bot_settings)
    body = _click("topic_more", value, response_url=running_bot.stub.response_url("m"))
    assert running_bot.post(body, signed_headers(body)).status_code == 200
    [answer] = running_bot.stub.wait_for("response:m")
    corrected = shown[:12]
    assert answer.params["text"].startswith(
        f"Noted: this story ({len(corrected)} articles) is an example of #sport."
    )
    assert sorted(f.article_id for f in store.topics.feedback()) == sorted(corrected)
    assert refresh(store, settings.topics, now=LATER).fitted
    for article in corrected:
        assert ("sport", 1.0) in store.topics.confidences(article)


def test_two_replicas_storing_the_same_click_at_once_store_it_once(
    pg_store: Store, settings: Settings
) -> None:
    # The check for a stored click read, then wrote: two replicas handling the same click
    # (Slack's retry reaching the other one, a double click split by the load balancer) both
    # read "not stored yet" and both stored it. Here each reads before either writes.
    from sqlalchemy import event

    from bot import topic_feedback

    story = _learned_sport_story(pg_store, settings)
    other = Store.open(pg_store.engine.url.render_as_string(hide_password=False))
    both_read = threading.Barrier(2, timeout=20)

    def read_first(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if statement.lstrip().upper().startswith("INSERT INTO TOPIC_FEEDBACK"):
            both_read.wait()  # each replica has read (and found nothing) before it writes

    answers: list[str] = []

    def replica(store: Store) -> None:
        event.listen(store.engine, "before_cursor_execute", read_first)
        answers.append(topic_feedback.record(
            store, settings, action="topic_not", value=f"{story}:sport", user="U7",
            workspace="T1", platform="slack", now=NOW,
        ))  # fmt: skip

    try:
        threads = [threading.Thread(target=replica, args=(s,)) for s in (pg_store, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        other.close()
    assert sorted(a.split(":")[0] for a in answers) == ["Already noted", "Noted"]
    assert [(f.article_id, f.kind) for f in pg_store.topics.feedback()] == [(story, "not")]
