"""Chat `subscribe`: one rule (bot/subscribe.py) behind Slack's and Discord's commands."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import pytest

from bot.platforms.slack import commands as slack_commands
from bot.platforms.slack.render import escape_mrkdwn
from bot.subscribe import describe, subscribe, subscribe_request
from digests.config import Settings
from digests.errors import InputError
from digests.store import Store
from tests.bot.conftest import add_taiwan_articles
from tests.conftest import NOW

BOT = Path(__file__).resolve().parents[2] / "bot"


def test_the_request_is_checked_the_same_way_for_both_platforms(settings: Settings) -> None:
    request = subscribe_request(
        ["Taiwan", "trade", "all"], settings.topics, time="7:05", timezone="Europe/London"
    )
    assert (request.topics, request.cron, request.timezone) == (
        ("taiwan", "trade"), "5 7 * * *", "Europe/London"
    )  # fmt: skip
    assert subscribe_request([], settings.topics).cron == "0 8 * * *"  # every topic at 08:00 UTC
    with pytest.raises(InputError, match="HH:MM"):
        subscribe_request(["taiwan"], settings.topics, time="25:00")
    with pytest.raises(InputError, match="Unknown timezone `Mars/Base`"):
        subscribe_request(["taiwan"], settings.topics, timezone="Mars/Base")
    with pytest.raises(InputError, match="Unknown topic `a&b`") as plain:
        subscribe_request(["a&b"], settings.topics)
    assert "Known topics: `taiwan`" in str(plain.value)
    with pytest.raises(InputError, match="Unknown topic `a&amp;b`"):  # Slack: mrkdwn-escaped
        subscribe_request(["a&b"], settings.topics, quote=escape_mrkdwn)


def test_slack_text_reaches_the_same_request(settings: Settings) -> None:
    parsed = slack_commands.parse("subscribe taiwan at 07:05 Europe/London", settings.topics)
    assert parsed.action == "subscribe"
    assert (parsed.topics, parsed.hour, parsed.minute, parsed.timezone) == (
        ("taiwan",), 7, 5, "Europe/London"
    )  # fmt: skip
    assert "at HH:MM" in slack_commands.parse("subscribe taiwan at", settings.topics).error


def test_a_new_subscription_starts_at_the_newest_article_and_an_update_keeps_its_place(
    store: Store, settings: Settings
) -> None:
    first, *_, newest = add_taiwan_articles(store)
    request = subscribe_request(["taiwan"], settings.topics, time="09:30")
    sub = subscribe(store, request, name="discord-chat:1", platform="discord",
                    channel="https://discord.test/api/webhooks/1/t", now=NOW, team_id="G1")  # fmt: skip
    assert (sub.watermark, sub.cron, sub.team_id, sub.origin) == (
        newest,
        "30 9 * * *",
        "G1",
        "chat",
    )
    assert store.articles.latest_id() == newest > first
    later = subscribe_request([], settings.topics, time="10:00")
    again = subscribe(store, later, name="discord-chat:1", platform="discord",
                      channel=sub.channel, now=NOW + timedelta(days=1))  # fmt: skip
    assert (again.watermark, again.cron, again.topics) == (newest, "0 10 * * *", ())
    with pytest.raises(InputError, match="in a channel"):
        subscribe(store, request, name="x", platform="slack", channel="", now=NOW)


def test_describe_escapes_only_when_asked(store: Store, settings: Settings) -> None:
    request = subscribe_request(["taiwan"], settings.topics)
    sub = subscribe(store, request, name="n", platform="slack", channel="C1", now=NOW)
    store.subscriptions.disable("n", "the <webhook> & more")
    paused = store.subscriptions.get("n")
    assert paused is not None
    assert "(paused: the <webhook> & more)" in describe(paused, NOW)
    assert "(paused: the &lt;webhook&gt; &amp; more)" in slack_commands.describe(paused, NOW)
    assert describe(sub, NOW).startswith("• #taiwan — `0 8 * * *` UTC, next ")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("platform", ["discord", "slack"])
def test_one_front_end_never_imports_the_other(platform: str) -> None:
    other = "bot.platforms.slack" if platform == "discord" else "bot.platforms.discord"
    for path in (BOT / "platforms" / platform).glob("*.py"):
        leaks = {n for n in _imports(path) if n == other or n.startswith(other + ".")}
        assert not leaks, f"{path.name} imports {leaks}"


def test_a_workspace_has_at_most_its_limit_of_chat_subscriptions(
    store: Store, settings: Settings, config_dir: Path
) -> None:
    from digests.config import load_settings

    request = subscribe_request(["taiwan"], settings.topics, time="08:00", timezone="UTC")

    def sub(channel: str, team: str) -> object:
        return subscribe(
            store, request, name=f"slack-chat:{team}:{channel}", platform="slack",
            channel=channel, now=NOW, team_id=team, limit=2,
        )  # fmt: skip

    sub("C1", "T1"), sub("C2", "T1")
    with pytest.raises(InputError, match="already has 2 digest subscriptions"):
        sub("C3", "T1")
    sub("C2", "T1")  # changing one it has is fine
    sub("C3", "T2")  # and another workspace has its own allowance
    assert (
        len(store.subscriptions.for_team("T1")) == 2
        and len(store.subscriptions.for_team("T2")) == 1
    )
    assert load_settings({}, config_dir).team_subscriptions == 100
    env = {"DIGESTBOT_TEAM_SUBSCRIPTIONS": "5"}
    assert load_settings(env, config_dir).team_subscriptions == 5
