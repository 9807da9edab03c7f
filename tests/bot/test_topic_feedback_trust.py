"""Whose topic corrections count. The tags and the topic model are shared by every workspace
a bot serves: a member of workspace B who may manage B's channel could take #sport off the
stories workspace A reads. Clicks go through the real Bolt app (signed, against the Slack
stand-in) and the real Discord interactions endpoint (Ed25519-signed, against the Discord
stand-in); digests are delivered to the stand-in; tags change (or not) at a real refit."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from nacl.signing import SigningKey
from typer.testing import CliRunner

from bot.chat import ChatService
from bot.cli import app as cli_app
from bot.platforms.discord.commands import MANAGE_WEBHOOKS
from bot.serve import renderers as serve_renderers
from bot.settings import BotSettings
from bot.topic_feedback import NOT_ENABLED
from digests.config import Settings, Topic, load_settings
from digests.errors import ConfigError
from digests.refit import refresh
from digests.store import Store
from testkit.slack_requests import signed_headers
from tests.bot.conftest import RunningBot
from tests.bot.discord_standin import DiscordStandIn, serving
from tests.bot.test_topic_feedback import (
    GUILD,
    LATER,
    _buttons,
    _click,
    _component,
    _deliver,
    _learned_sport_story,
    interactions_app,
    signed_post,
)
from tests.conftest import NOW

OTHER_GUILD = "777000000000000002"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shipped config's topics plus two learned from the store: sport and tech."""
    topics = (*settings.topics, Topic(name="sport"), Topic(name="tech"))
    return settings.model_copy(update={"topics": topics})


def _not_sport(running_bot: RunningBot, story: int, team: str) -> str:
    """Click "Not #sport" on ``story`` from workspace ``team`` (the app installed there too:
    Slack signs the click with the app's one signing secret); the answer the user sees."""
    name = f"{team}-{story}"
    body = _click("topic_not", f"{story}:sport", user_team=team, team=team,
                  response_url=running_bot.stub.response_url(name))  # fmt: skip
    assert running_bot.post(body, signed_headers(body)).status_code == 200
    [answer] = running_bot.stub.wait_for(f"response:{name}")
    return str(answer.params["text"])


def _subscribe(store: Store, name: str, channel: str, team: str, platform: str = "slack") -> None:
    store.subscriptions.upsert(name, platform=platform, channel=channel, topics=("sport",),
                               cron="0 8 * * *", timezone="UTC", origin="chat", now=NOW,
                               team_id=team)  # fmt: skip


def test_a_click_from_a_second_workspace_stores_nothing_and_changes_no_tag(
    running_bot: RunningBot, settings: Settings
) -> None:
    # T1 and T2 each subscribed a channel (two Slack workspaces served). No list: several
    # workspaces on one platform, so nobody's corrections count, T1's included.
    store = running_bot.store
    story = _learned_sport_story(store, settings)
    _subscribe(store, "a-news", "C123", "T1")
    _subscribe(store, "b-news", "C900", "T2")
    assert _not_sport(running_bot, story, "T2") == NOT_ENABLED
    assert _not_sport(running_bot, story, "T1") == NOT_ENABLED
    assert store.topics.feedback() == []
    assert refresh(store, settings.topics, now=LATER, force=True).fitted
    assert "sport" in store.articles.get([story])[0].tags


def test_only_listed_workspaces_correct_topics_end_to_end_through_the_refit(
    running_bot: RunningBot, settings: Settings
) -> None:
    store = running_bot.store
    story = _learned_sport_story(store, settings)
    _subscribe(store, "b-news", "C900", "T2")
    store.topics.feedback_workspaces = ("T1",)  # [topics] feedback_workspaces = ["T1"]
    assert _not_sport(running_bot, story, "T2") == NOT_ENABLED
    assert store.topics.feedback() == []
    assert _not_sport(running_bot, story, "T1").startswith("Noted: this story is not #sport.")
    assert [f.workspace for f in store.topics.feedback()] == ["T1"]
    assert refresh(store, settings.topics, now=LATER).fitted
    assert "sport" not in store.articles.get([story])[0].tags


def test_a_correction_stored_from_a_workspace_no_longer_trusted_stops_counting(
    running_bot: RunningBot, settings: Settings, config_dir: Path
) -> None:
    # Stored before the fix (or before the operator listed another workspace): the row stays,
    # `topics --explain` lists it as not applied, and the next refit gives the tag back.
    store = running_bot.store
    story = _learned_sport_story(store, settings)
    store.topics.add_story_feedback(story, "sport", "not", user_id="U9", workspace="T2",
                                    platform="slack", now=NOW)  # fmt: skip
    assert refresh(store, settings.topics, now=LATER).fitted
    assert "sport" not in store.articles.get([story])[0].tags  # one workspace: it counted
    _subscribe(store, "a-news", "C123", "T1")  # a second workspace: nobody's counts now
    assert refresh(store, settings.topics, now=LATER, force=True).fitted
    assert "sport" in store.articles.get([story])[0].tags
    assert len(store.topics.feedback()) == 1
    (config_dir / "topics.toml").write_text(
        '[[topic]]\nname = "sport"\n\n[[topic]]\nname = "tech"\n'
    )
    env = {
        "DIGESTBOT_CONFIG_DIR": str(config_dir),
        "DIGESTBOT_DATABASE_URL": store.engine.url.render_as_string(hide_password=False),
    }
    shown = CliRunner().invoke(cli_app, ["topics", "--article", str(story), "--format", "json"],
                               env=env)  # fmt: skip
    assert shown.exit_code == 0, shown.output
    corrections = json.loads(shown.stdout)["article"]["corrections"]
    assert [(c["workspace"], c["applied"]) for c in corrections] == [("T2", False)]
    text = CliRunner().invoke(cli_app, ["topics", "--explain", "sport"], env=env)
    assert "(not applied: corrections from this workspace are not enabled)" in text.stdout


def test_a_digest_offers_feedback_buttons_only_where_corrections_count(
    running_bot: RunningBot, settings: Settings, bot_settings: BotSettings
) -> None:
    store = running_bot.store
    _learned_sport_story(store, settings)
    _subscribe(store, "a-news", "C1", "T1")
    _subscribe(store, "b-news", "C2", "T2")
    store.topics.feedback_workspaces = ("T1",)
    rendered = serve_renderers([t.name for t in settings.topics])
    for name, channel in (("a-news", "C1"), ("b-news", "C2")):
        _deliver(store, bot_settings, name, channel, rendered)

    def actions(channel: str) -> list[str]:
        return [action for action, _ in _buttons(running_bot, channel)]

    assert "topic_not" in actions("C1") and "topic_more" in actions("C1")
    assert actions("C2") == []
    assert running_bot.stub.posted("C2")  # the digest itself went out


def test_a_discord_click_from_an_untrusted_server_stores_nothing(
    store: Store, settings: Settings
) -> None:
    # One bot in two servers; only GUILD is listed. The second server's click is answered
    # politely; GUILD's still works through the refit.
    story = _learned_sport_story(store, settings)
    store.topics.feedback_workspaces = (GUILD,)
    key = SigningKey.generate()
    post = signed_post(key)

    async def main() -> None:
        api = DiscordStandIn()
        async with serving(api.app()) as api_base, httpx.AsyncClient(timeout=30) as client:
            endpoint = interactions_app(key, ChatService(store, settings, clock=lambda: NOW),
                                        client, api_base)  # fmt: skip
            async with serving(endpoint) as base:
                url = f"{base}/discord/interactions"
                other = _component(f"topic_not:{story}:sport", permissions=MANAGE_WEBHOOKS,
                                   token="t0")  # fmt: skip
                other["guild_id"] = OTHER_GUILD
                assert (await post(client, url, other)).json()["type"] == 5
                edit = await asyncio.wait_for(api.edits.get(), 20)
                assert edit["token"] == "t0" and edit["payload"]["content"] == NOT_ENABLED
                assert store.topics.feedback() == []
                ours = _component(f"topic_not:{story}:sport", permissions=MANAGE_WEBHOOKS,
                                  token="t1")  # fmt: skip
                assert (await post(client, url, ours)).json()["type"] == 5
                edit = await asyncio.wait_for(api.edits.get(), 20)
                assert edit["token"] == "t1" and "not #sport" in edit["payload"]["content"]

    asyncio.run(main())
    assert [f.workspace for f in store.topics.feedback()] == [GUILD]
    assert refresh(store, settings.topics, now=LATER).fitted
    assert "sport" not in store.articles.get([story])[0].tags


def test_feedback_workspaces_is_read_from_digestbot_toml(config_dir: Path) -> None:
    cdir = config_dir
    toml = cdir / "digestbot.toml"
    shipped = '# feedback_workspaces = ["T0123ABCD", "123456789012345678"]'
    assert shipped in toml.read_text()  # the shipped file shows the setting
    toml.write_text(toml.read_text().replace(shipped, 'feedback_workspaces = ["T0123", "1234"]'))
    assert load_settings({}, cdir).feedback_workspaces == ("T0123", "1234")
    toml.write_text(toml.read_text().replace('"1234"', '"12 34"'))
    with pytest.raises(ConfigError, match=r"digestbot.toml: topics.feedback_workspaces: a work"):
        load_settings({}, cdir)


def test_a_click_naming_no_workspace_stores_nothing(store: Store, settings: Settings) -> None:
    # It was stored under workspace "-", one more workspace nobody could list.
    from bot import topic_feedback
    from digests.errors import InputError

    story = _learned_sport_story(store, settings)
    with pytest.raises(InputError, match="names no workspace"):
        topic_feedback.record(store, settings, action="topic_not", value=f"{story}:sport",
                              user="U7", workspace="", platform="slack", now=NOW)  # fmt: skip
    assert store.topics.feedback() == []


def test_one_slack_workspace_beside_one_discord_server_still_corrects_topics(
    store: Store,
) -> None:
    # One team's bot on both platforms is not two tenants: the workspaces are counted per
    # platform, so corrections count until one platform serves a second workspace.
    _subscribe(store, "a-news", "C123", "T1")
    _subscribe(store, "a-discord", "https://discord.com/api/webhooks/1/x", GUILD, "discord")
    trust = store.topics.trust(also=(("slack", "T1"),))
    assert trust.allows("T1") and trust.allows(GUILD) and not trust.several
    # A click from a second Slack team (another install, or a shared channel's) is one too
    # many for Slack: nobody's corrections count then, the Discord server's included.
    assert not store.topics.trust(also=(("slack", "T2"),)).allows("T2")
    assert not store.topics.trust(also=(("slack", "T2"),)).allows(GUILD)
    _subscribe(store, "b-discord", "https://discord.com/api/webhooks/2/y", OTHER_GUILD, "discord")
    assert store.topics.trust().several and not store.topics.trust().allows("T1")


def test_listing_the_one_workspace_keeps_the_buttons_of_a_subscription_without_team_id(
    running_bot: RunningBot, settings: Settings, bot_settings: BotSettings
) -> None:
    # A single-token bot: its subscriptions.toml entries record no team_id. Listing its own
    # workspace (as the README advises) took the buttons off every one of their digests.
    store = running_bot.store
    story = _learned_sport_story(store, settings)
    store.subscriptions.upsert("news", platform="slack", channel="C1", topics=("sport",),
                               cron="0 8 * * *", timezone="UTC", origin="config", now=NOW)  # fmt: skip
    store.topics.feedback_workspaces = ("T1",)
    _deliver(store, bot_settings, "news", "C1", serve_renderers(["sport", "tech"]))
    actions = [action for action, _ in _buttons(running_bot, "C1")]
    assert "topic_not" in actions and "topic_more" in actions
    # A click from the listed workspace counts; one from another is refused, as before.
    assert _not_sport(running_bot, story, "T1").startswith("Noted")
    assert _not_sport(running_bot, story, "T2") == NOT_ENABLED


def test_a_changed_feedback_workspaces_makes_the_next_ingest_refit(
    store: Store, config_dir: Path, tmp_path: Path
) -> None:
    # Only `topics --refit` applied a changed list: `ingest` (nothing new) kept the model and
    # the tags the newly untrusted workspace's correction had made.
    topics_toml = config_dir / "topics.toml"
    topics_toml.write_text(topics_toml.read_text() + '\n[[topic]]\nname = "sport"\n\n'
                           '[[topic]]\nname = "tech"\n')  # fmt: skip
    settings = load_settings({}, config_dir)  # the topics the CLI reads
    story = _learned_sport_story(store, settings)
    store.topics.add_story_feedback(story, "sport", "not", user_id="U9", workspace="T2",
                                    platform="slack", now=NOW)  # fmt: skip
    assert refresh(store, settings.topics, now=LATER).fitted
    assert "sport" not in store.articles.get([story])[0].tags  # one workspace: it counts
    for seed in (tmp_path / "seeds").iterdir():  # the configured inbox: nothing new in it
        seed.unlink()
    env = {
        "DIGESTBOT_CONFIG_DIR": str(config_dir),
        "DIGESTBOT_DATABASE_URL": store.engine.url.render_as_string(hide_password=False),
    }

    def ingest() -> str:
        result = CliRunner().invoke(cli_app, ["ingest"], env=env)
        assert result.exit_code == 0, result.output
        return str(result.stderr)

    assert "topics refitted" not in ingest()  # nothing changed: no refit
    toml = config_dir / "digestbot.toml"
    shipped = '# feedback_workspaces = ["T0123ABCD", "123456789012345678"]'
    toml.write_text(toml.read_text().replace(shipped, 'feedback_workspaces = ["T1"]'))
    assert "topics refitted on" in ingest()
    assert "sport" in store.articles.get([story])[0].tags  # T2's word no longer counts
    assert [f.workspace for f in store.topics.feedback()] == ["T2"]  # (still stored)
    assert "topics refitted" not in ingest()  # the model knows whose corrections it applied
    toml.write_text(toml.read_text().replace('feedback_workspaces = ["T1"]', shipped))
    assert "topics refitted on" in ingest()  # back to everyone's: T2's counts again
    assert "sport" not in store.articles.get([story])[0].tags
