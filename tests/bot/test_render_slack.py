"""Block Kit rendering: split within Slack's limits, every user/article string escaped."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from rich.console import Console
from slack_sdk.models.blocks import Block

from bot.platforms.slack.render import (
    MAX_BLOCKS,
    brief_message,
    digest_parts,
    escape_mrkdwn,
    update_parts,
    with_key,
)
from digests.compose import compose
from digests.models import Brief, BriefSentence, StoredArticle
from tests.conftest import NOW

TAGS = ("taiwan", "trade", "china", "russia", "ukraine")


def _article(
    i: int, *, title: str | None = None, summary: tuple[str, ...] | None = None
) -> StoredArticle:
    return StoredArticle(
        id=i,
        title=title or " ".join(f"headline{i}x{j}" for j in range(30)),
        source=f"Source {i % 7}",
        author=None,
        published=NOW - timedelta(hours=i),
        url=f"https://news.example/{i}?a=1&b=2",
        # Distinct words per article, or compose merges them as one story.
        summary=summary or (" ".join(f"w{i}x{j}" for j in range(400)) + ".",),
        tags=(TAGS[i % len(TAGS)], "trade"),
        keyphrases=(),
        ingested_at=NOW,
    )


def _check_limits(message: dict) -> None:
    assert len(message["blocks"]) <= MAX_BLOCKS
    assert len(message["text"]) <= 300
    for raw in message["blocks"]:
        block = Block.parse(raw)
        assert block is not None
        block.to_dict()  # slack_sdk's validators: section ≤ 3000, header ≤ 150, context ≤ 10
        if raw["type"] == "section":
            assert len(raw["text"]["text"]) <= 3000
        if raw["type"] == "header":
            assert len(raw["text"]["text"]) <= 150
        if raw["type"] == "context":
            assert len(raw["elements"]) <= 10


def test_a_large_digest_is_split_within_block_kit_limits() -> None:
    articles = [_article(i) for i in range(1, 151)]
    digest = compose(articles, now=NOW)
    messages = [p.payload for p in digest_parts(digest)]
    assert len(messages) > 1
    for part, message in enumerate(messages):
        _check_limits(message)
        assert "metadata" not in message  # rendered once for every run: no outbox key
        assert with_key(message, "run:42", part)["metadata"] == {
            "event_type": "digestbot_digest",
            "event_payload": {"digest_key": "run:42", "part": part},
        }
        assert message["blocks"][0]["type"] == "header"
        assert f"({part + 1}/{len(messages)})" in message["blocks"][0]["text"]["text"]
    # Every story is in exactly one part.
    items = [b for m in messages for b in m["blocks"] if b["type"] == "section"]
    assert len(items) == sum(len(s.items) for s in digest.sections)


def test_a_small_digest_is_one_message_with_a_header_per_tag() -> None:
    digest = compose(
        [_article(1, summary=("Short.",)), _article(2, summary=("Short too.",))], now=NOW
    )
    [message] = [p.payload for p in digest_parts(digest)]
    headers = [b["text"]["text"] for b in message["blocks"] if b["type"] == "header"]
    assert headers[0].startswith("News digest — 2 stories, 2 articles")
    assert set(headers[1:]) == {"#trade (1)", "#china (1)"}
    assert [p.payload for p in digest_parts(compose([], now=NOW))] == []


def test_a_capped_digest_s_title_counts_the_stories_it_shows_of_all_on_every_front_end() -> None:
    """The title counted articles alone: "News digest — 7 articles" over the two stories a
    cap of 2 shows, which read as seven items. It counts the stories shown, of how many, and
    the articles they cover, the same on Slack (flat and thread), Discord, Mattermost and text."""
    from bot.platforms.discord.render import digest_parts as discord_parts
    from bot.platforms.mattermost.render import digest_parts as mattermost_parts
    from bot.platforms.slack.render import thread_parts
    from bot.render.text import digest_text

    digest = compose([_article(i, summary=(f"Story {i}.",)) for i in range(1, 8)], now=NOW,
                     max_stories=2)  # fmt: skip
    assert digest.more == 5
    flat = [b for b in digest_parts(digest)[0].payload["blocks"] if b["type"] == "header"]
    assert flat[0]["text"]["text"].startswith("News digest — 2 of 7 stories, 7 articles")
    assert "2 of 7 stories, 7 articles" in thread_parts(digest)[0].payload["text"]
    assert "2 of 7 stories, 7 articles" in discord_parts(digest)[0].payload["content"]
    assert "2 of 7 stories, 7 articles" in mattermost_parts(digest)[0].payload["text"]
    console = Console(width=200, record=True)
    console.print(digest_text(digest))
    assert "News digest — 2 of 7 stories, 7 articles" in console.export_text()


def test_article_text_is_escaped_everywhere() -> None:
    evil = _article(
        1,
        title="<!channel> Breaking: <script>alert(1)</script> & more",
        summary=("Click <https://evil.example|here> & <@U123> now.",),
    )
    evil = StoredArticle(
        **{
            **{f: getattr(evil, f) for f in evil.__slots__},
            "source": "<!here>",
            "url": "https://x.example/a|b>c",
        }
    )
    [message] = [p.payload for p in digest_parts(compose([evil], now=NOW))]
    rendered = json.dumps(message)
    for raw in ("<!channel>", "<script>", "<!here>", "<@U123>", "<https://evil.example|here>"):
        assert raw not in rendered
    assert "&lt;!channel&gt;" in rendered and "&amp; more" in rendered
    section = next(b for b in message["blocks"] if b["type"] == "section")["text"]["text"]
    assert section.startswith("*<https://x.example/a%7Cb&gt;c|")  # the link stays one link
    # A developing story's update (a reply in its thread): its notification text too (Slack
    # reads `text` as mrkdwn: the title's <!channel> pinged the channel).
    [update] = [p.payload for p in update_parts(compose([evil], now=NOW))]
    assert update["text"].startswith("Update: &lt;!channel&gt; Breaking: &lt;script&gt;")
    rendered = json.dumps(update)
    assert not any(raw in rendered for raw in ("<!channel>", "<script>", "<!here>", "<@U123>"))


def test_escape_mrkdwn() -> None:
    assert escape_mrkdwn("a & <b> c") == "a &amp; &lt;b&gt; c"


def test_brief_message_cites_each_sentence_and_lists_sources() -> None:
    one, two = _article(1, title="One"), _article(2, title="Two & <Co>")
    two = StoredArticle(**{**{f: getattr(two, f) for f in two.__slots__}, "url": None})
    brief = Brief(
        topic="taiwan",
        sentences=(
            BriefSentence("Taiwan said <this>.", 1, "One", "S", one.url, None),
            BriefSentence("Taiwan said that.", 2, "Two", "S", None, None),
        ),
        articles=(one, two),
    )
    message = brief_message(brief)
    for raw in message["blocks"]:
        Block.parse(raw).to_dict()
    text = json.dumps(message)
    assert "Taiwan said &lt;this&gt;. <https://news.example/1?a=1&amp;b=2|[1]>" in text
    assert "Taiwan said that. [2]" in text
    assert "Two &amp; &lt;Co&gt;" in text
    assert message["blocks"][-1]["elements"][0]["value"] == "taiwan"
    assert message["text"] == "Brief: taiwan — 2 sentences from 2 sources"


def test_empty_brief_suggests_topics() -> None:
    message = brief_message(Brief("taiwn", (), (), suggestions=("taiwan",)))
    assert "Nothing stored about “taiwn”. Try: taiwan." in message["blocks"][0]["text"]["text"]
    assert all(b["type"] != "actions" for b in message["blocks"])


def test_header_is_cut_to_150_chars() -> None:
    brief = Brief("t" * 400, (BriefSentence("x" * 50, 1, "T", None, None),), (_article(1),))
    header = brief_message(brief)["blocks"][0]["text"]["text"]
    assert len(header) <= 150 and header.endswith("…")


def test_dates_render_in_the_byline() -> None:
    a = _article(3, summary=("s",))
    a = StoredArticle(
        **{**{f: getattr(a, f) for f in a.__slots__}, "published": datetime(2026, 5, 4, tzinfo=UTC)}
    )
    [message] = [p.payload for p in digest_parts(compose([a], now=NOW))]
    assert "04 May 2026" in json.dumps(message)


def test_a_story_shows_its_five_strongest_tags() -> None:
    tags = ("taiwan", "china", "trade", "japan", "russia", "iran", "economy")
    digest = compose([replace(_article(1), tags=tags)], now=NOW)
    [message] = [p.payload for p in digest_parts(digest)]
    contexts = [
        e["text"] for b in message["blocks"] if b["type"] == "context" for e in b["elements"]
    ]
    assert "#taiwan #china #trade #japan #russia" in contexts
    assert not any("#iran" in c for c in contexts)


def test_the_topics_fallback_marks_source_tags_as_the_blocks_do() -> None:
    """`/brief topics`' plain-text fallback (what a notification shows) listed a source tag
    as if a configured topic, while its blocks mark it '(source tag: SOURCES)': it carries the
    same mark now (digests.subscribable.source_tag_note), escaped; a topic stays unmarked."""
    from bot.chat import TopicCount
    from bot.platforms.slack.commands import topics_message
    from digests.subscribable import source_tag_note

    counts = [
        TopicCount("taiwan", 120),
        TopicCount("markets", 7, source_tag_note(["news.example/markets.xml"])),
        TopicCount("world", 0, source_tag_note(["wire", "<desk>"])),
    ]
    message = topics_message(counts)
    text = message["text"]
    assert text == (
        "Topics: taiwan (120), markets (7) (source tag: news.example/markets.xml), "
        "world (0) (source tag: wire, &lt;desk&gt;)"
    ), text
    blocks = str(message["blocks"])
    assert "(source tag: news.example/markets.xml)" in blocks  # the blocks' mark, the same


def test_the_topics_fallback_names_the_biggest_topics_whole_within_the_limit() -> None:
    from bot.chat import TopicCount
    from bot.platforms.slack.commands import topics_message
    from bot.platforms.slack.render import FALLBACK_CHARS

    counts = [TopicCount(f"topic-number-{i:02d}", i * 10) for i in range(60)]
    text = topics_message(counts)["text"]
    assert len(text) <= FALLBACK_CHARS and text.startswith("Topics: topic-number-59 (590), ")
    shown = text.removeprefix("Topics: ").rsplit(" and ", 1)
    assert shown[1].endswith(" more") and len(shown[0].split(", ")) + int(shown[1][:-5]) == 60
    assert all(e.endswith(")") for e in shown[0].split(", "))  # whole entries, none cut
