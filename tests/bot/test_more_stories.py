"""The end of a capped digest in chat: how many stories it left out and how a reader there
can see them (not a terminal command they cannot run)."""

from __future__ import annotations

from datetime import timedelta

from bot.platforms.discord import render as discord
from bot.platforms.mattermost import render as mattermost
from bot.platforms.slack import render as slack
from digests.compose import compose
from digests.models import Digest, StoredArticle
from testkit.articles import made_up_name
from tests.conftest import NOW


def _digest() -> Digest:
    articles = [
        StoredArticle(
            id=i,
            title=f"{made_up_name(i)} story",
            source=f"Wire {i}",
            author=None,
            published=NOW - timedelta(hours=i),
            url=f"https://n.example/{i}",
            summary=(f"{made_up_name(i)} said something on day {i}.",),
            tags=("taiwan",),
            keyphrases=(),
            ingested_at=NOW,
        )  # fmt: skip
        for i in range(1, 8)
    ]
    digest = compose(articles, now=NOW, max_stories=3)
    assert digest.more == 4
    return digest


def test_the_more_stories_line_tells_a_chat_reader_what_works_in_chat() -> None:
    digest = _digest()
    slack_text = str([p.payload["blocks"] for p in slack.digest_parts(digest)])
    discord_text = "\n".join(p.payload["content"] for p in discord.digest_parts(digest))
    mm_text = "\n".join(p.payload["text"] for p in mattermost.digest_parts(digest))
    for text in (slack_text, discord_text, mm_text):
        assert "+4 more stories" in text
        assert "digestbot digest" not in text  # a terminal command: no use in a channel
    assert "ask `/brief TOPIC`" in slack_text and "ask `/brief TOPIC`" in mm_text
    # Discord's /brief takes a subcommand and an option; the line is not escaped into
    # literal backquotes ("\\`").
    assert "`/brief about topic:…`" in discord_text and "\\`" not in discord_text
