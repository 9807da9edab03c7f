"""A chat `/brief subscribe` takes a source's tag, as subscriptions.toml does (the first hour).

README: a subscription's topics are "a topic's name or a source's tag", and
`subscriptions.toml` takes `topics = ["world"]` for a feed tagged `world`. In chat, `/brief
subscribe world` answered "Unknown topic world" and listed only topics.toml's names.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.subscribe import subscribe_request
from digests.config import Settings, load_settings
from digests.errors import InputError
from tests.bot.conftest import RunningBot, add_markets_feed

TAGGED = """
[[source]]
name = "inbox"
folder = "../seeds"

[[source]]
name = "wire"
feed = "https://wire.example/rss.xml"
tags = ["world", "taiwan"]
"""


@pytest.fixture
def settings(config_dir: Path) -> Settings:
    """The shipped config with a feed tagged `world` (no topic of that name) and `taiwan`."""
    (config_dir / "sources.toml").write_text(TAGGED)
    return load_settings({}, config_dir)


def test_slack_subscribe_takes_a_source_tag(running_bot: RunningBot) -> None:
    running_bot.command("subscribe world taiwan at 07:30", response="sub")
    [answer] = running_bot.stub.wait_for("response:sub")
    assert "Subscribed" in str(answer.params), answer.params
    sub = running_bot.store.subscriptions.get("slack-chat:C123")
    assert sub is not None and sub.topics == ("world", "taiwan")


def test_an_unknown_word_lists_the_source_tags_too(settings: Settings) -> None:
    from digests.subscribable import subscribable as chat_topics

    with pytest.raises(InputError, match="Unknown topic `narnia`") as refused:
        subscribe_request(["narnia"], chat_topics(settings))
    assert "`world`" in str(refused.value)
    assert [t.name for t in chat_topics(settings)].count("taiwan") == 1  # a topic: listed once


def test_slack_subscribe_takes_a_tag_given_by_sources_add(
    running_bot: RunningBot, config_dir: Path, tmp_path: Path
) -> None:
    """A feed added with `digestbot sources add --tags markets` while serve runs: `digestbot
    topics` lists #markets, so chat's `/brief subscribe markets` takes it too (it answered
    "Unknown topic `markets`": chat read only sources.toml's tags, once at start)."""
    add_markets_feed(config_dir, tmp_path)
    running_bot.command("subscribe markets at 07:30", response="sub")
    [answer] = running_bot.stub.wait_for("response:sub")
    assert "Subscribed" in str(answer.params), answer.params
    sub = running_bot.store.subscriptions.get("slack-chat:C123")
    assert sub is not None and sub.topics == ("markets",)
    refused = running_bot.command("subscribe narnia")  # answered in the ack
    assert "Unknown topic `narnia`" in refused.text and "`markets`" in refused.text, refused.text


def test_slack_topics_lists_the_source_tags_as_digestbot_topics_does(
    running_bot: RunningBot, config_dir: Path, tmp_path: Path
) -> None:
    """`/brief topics` listed topics.toml's topics only, `digestbot topics` the source tags
    too: a chat user could not see what `/brief subscribe` takes. Then it listed them
    unmarked, as if topics: they are marked as `digestbot topics` marks them (the one rule,
    digests.subscribable.source_tag_note); a configured topic a source also declares is not."""
    add_markets_feed(config_dir, tmp_path)
    running_bot.command("topics")
    [answer] = running_bot.stub.wait_for("response:r1")
    shown = str(answer.params)
    assert "`markets` — 0 articles (source tag: news.example/markets.xml)" in shown, shown
    assert "`world` — 0 articles (source tag: wire)" in shown, shown
    assert shown.index("`taiwan`") < shown.index("`markets`")  # after the configured topics
    assert "(source tag" not in shown[shown.index("`taiwan`") : shown.index("`markets`")]


def test_digest_topic_takes_a_source_tag_with_no_article_yet(
    config_dir: Path, tmp_path: Path, store: object
) -> None:
    """`digest --topic markets` said "no topic 'markets'" (it took configured topics and
    stored articles' tags) though a subscription may name it; an unknown one's error lists it."""
    from typer.testing import CliRunner

    from bot.cli import app

    env = add_markets_feed(config_dir, tmp_path)
    done = CliRunner().invoke(app, ["digest", "--dry-run", "--topic", "markets"], env=env)
    assert done.exit_code == 0, done.output
    unknown = CliRunner().invoke(app, ["digest", "--dry-run", "--topic", "narnia"], env=env)
    assert "markets)" in str(unknown.exception), unknown.output  # listed last, as configured


def test_a_brief_about_nothing_lists_a_source_tag_with_articles(
    running_bot: RunningBot, config_dir: Path, tmp_path: Path
) -> None:
    """`/brief narnia`'s "Topics with articles" named topics.toml's topics only: a source
    tag carrying articles (one a `sources add --tags markets` feed gave) was left out."""
    from datetime import UTC, datetime

    from testkit.articles import make_processed

    add_markets_feed(config_dir, tmp_path)
    item = make_processed(
        "Bond yields climb",
        "Bond yields climbed on Tuesday as traders weighed the central bank's next move.",
        tags=(("markets", 3),),
        url="https://news.example/bonds",
        published=datetime(2026, 11, 25, tzinfo=UTC),
    )
    assert running_bot.store.articles.add(item, now=datetime(2026, 12, 1, tzinfo=UTC))
    running_bot.command("narnia", response="about")
    [answer] = running_bot.stub.wait_for("response:about")
    shown = str(answer.params)
    assert "Topics with articles" in shown and "markets" in shown, shown
