"""Every registered platform keeps the Platform contract (a new one is checked by adding it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.platforms import PlatformContext, configured, get, names, renderers
from bot.settings import load_bot_settings, load_core_settings
from digests.brief import brief as make_brief
from digests.compose import compose
from digests.config import Settings
from digests.errors import ConfigError
from digests.models import Digest
from digests.store import Store
from tests.bot.conftest import add_taiwan_articles
from tests.conftest import NOW


def test_the_registry_names_three_platforms_each_under_its_own_name() -> None:
    assert names() == ["slack", "discord", "mattermost"]
    assert [get(n).name for n in names()] == names()
    with pytest.raises(ConfigError, match="unknown platform 'teams'"):
        get("teams")


@pytest.mark.parametrize("name", names())
def test_each_platform_renders_every_article_once_without_an_outbox_key(
    name: str, store: Store, settings: Settings
) -> None:
    ids = add_taiwan_articles(store)
    digest = compose(store.articles.since(0, limit=100), now=NOW)
    platform = get(name)
    assert platform.render_digest(Digest(NOW, (), ())) == []
    for thread in (False, True) if platform.threads else (False,):
        parts = platform.render_digest(digest, thread=thread)
        assert parts and sorted(a for p in parts for a in p.article_ids) == sorted(ids)
        # The key is the sender's to add: no rendering names one, so one serves every run.
        assert "run:" not in json.dumps([p.payload for p in parts])
    brief = make_brief(store, "taiwan", topics=settings.topics, now=NOW)
    assert brief.sentences and "taiwan" in json.dumps(platform.render_brief(brief)).lower()


def test_with_nothing_set_up_serve_says_what_to_set_for_each(store: Store) -> None:
    ctx = PlatformContext(load_bot_settings({}), {}, store)
    with pytest.raises(ConfigError) as refused:
        configured(ctx)
    for needed in ("SLACK_BOT_TOKEN", "DISCORD_PUBLIC_KEY", "MATTERMOST_URL"):
        assert needed in str(refused.value)
    assert [s for n in names() for s in get(n).secrets(ctx) if s is not None] == []
    env = {"MATTERMOST_URL": "https://m.example", "MATTERMOST_COMMAND_TOKEN": "t1,t2",
           "MATTERMOST_BOT_TOKEN": "b1"}  # fmt: skip
    set_up = PlatformContext(load_bot_settings({"DISCORD_BOT_TOKEN": "d1"}), env,
                             store)  # fmt: skip
    assert list(configured(set_up)) == ["mattermost"]
    logged_never = {s for n in names() for s in get(n).secrets(set_up) if s is not None}
    assert logged_never == {"t1", "t2", "b1", "d1"}
    # Renderers for the delivery use case: every platform, plus threads where rendered and
    # an update's reply where the platform replies under an earlier message.
    assert set(renderers({n: get(n) for n in names()}, topics=None)) == {
        "slack", "slack:thread", "slack:update", "discord", "mattermost", "mattermost:update"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "name = 'am'\nchannel = 'C1'\nteam_id = 'acme'",
            "subscription.am.team_id: must be a Slack workspace id such as T0123ABCD, got 'acme'",
        ),
        (
            "name = 'am'\nplatform = 'discord'\nchannel = 'general'",
            "subscription.am: a discord channel is its webhook URL (https://..., or http:// to "
            "this machine)",
        ),
        (
            "platform = 'discord'\nchannel = 'http://[::1'",
            "subscription[1]: Invalid IPv6 URL",
        ),
        (
            "name = 'am'\nplatform = 'discord'\n"
            "channel = 'https://discord.com/api/webhooks/1/x'\nteam_id = 'T1'",
            "subscription.am: team_id is for Slack subscriptions (a Discord webhook has its own)",
        ),
    ],
)
def test_each_platform_s_rule_for_a_subscription_applies_as_the_config_loads(
    config_dir: Path, entry: str, message: str
) -> None:
    (config_dir / "subscriptions.toml").write_text(f"[[subscription]]\n{entry}\n")
    with pytest.raises(ConfigError) as refused:
        load_core_settings({}, config_dir)
    assert str(refused.value) == f"{config_dir / 'subscriptions.toml'}: {message}"
