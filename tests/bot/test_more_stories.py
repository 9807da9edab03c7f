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


def _digest(n: int = 7, cap: int = 3) -> Digest:
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
        for i in range(1, n + 1)
    ]
    digest = compose(articles, now=NOW, max_stories=cap)
    assert digest.more == n - cap
    return digest


def test_the_more_stories_line_tells_a_chat_reader_what_works_in_chat() -> None:
    digest = _digest()
    slack_text = str([p.payload["blocks"] for p in slack.digest_parts(digest)])
    discord_text = str([p.payload for p in discord.digest_parts(digest)])
    mm_text = "\n".join(p.payload["text"] for p in mattermost.digest_parts(digest))
    for text in (slack_text, discord_text, mm_text):
        assert "+4 more stories" in text
        assert "digestbot digest" not in text  # a terminal command: no use in a channel
    assert "ask `/brief TOPIC`" in slack_text and "ask `/brief TOPIC`" in mm_text
    # Discord's /brief takes a subcommand and an option; the line is not escaped into
    # literal backquotes ("\\`").
    assert "`/brief about topic:…`" in discord_text and "\\\\`" not in discord_text


def _last_words(payload: dict) -> str:
    """What a reader sees last in a Discord message: its last embed (content shows above)."""
    embed = payload["embeds"][-1]
    return str(embed.get("description") or embed.get("title"))


def test_the_more_stories_line_ends_the_digest_on_every_platform() -> None:
    # On Discord it was in the message's content, which Discord shows above the embeds: the
    # reader met "+4 more stories" before the three stories, not where the digest ends.
    for n, cap in ((7, 3), (12, 10)):  # 10 stories fill a message: the line needs the next
        digest = _digest(n, cap)
        parts = discord.digest_parts(digest)
        line = f"+{n - cap} more stories — ask `/brief about topic:…` about any of them"
        assert _last_words(parts[-1].payload) == line
        assert all("more stories" not in p.payload["content"] for p in parts)
        assert [_last_words(p.payload) for p in parts].count(line) == 1
        shown = [a for p in parts for a in p.article_ids]
        stories = [i.article.id for s in digest.sections for i in s.items]
        assert sorted(shown) == sorted(stories)  # each story once, the line none
        assert all(len(p.payload["embeds"]) <= discord.MAX_EMBEDS for p in parts)
        assert (
            mattermost.digest_parts(digest)[-1]
            .payload["text"]
            .endswith(f"**+{n - cap} more stories — ask `/brief TOPIC` about any of them**")
        )
        last_block = slack.digest_parts(digest)[-1].payload["blocks"][-1]
        assert last_block["text"]["text"].startswith(f"+{n - cap} more stories")
