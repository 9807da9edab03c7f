"""Every kind of digest item renders into messages Slack and Discord accept, every article once."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.platforms.discord import render as discord_render
from bot.platforms.slack import render as slack_render
from digests.compose import compose
from digests.errors import DeliveryError
from digests.models import StoredArticle
from testkit.slack_stub import slack_would_refuse
from tests.conftest import NOW


def _article(i: int, **changes: object) -> StoredArticle:
    base = StoredArticle(
        id=i,
        title=f"Story number {i} about harbour{i} cranes{i}",
        source=f"Wire {i % 5}",
        author=f"Reporter {i}",
        published=NOW - timedelta(hours=i),
        url=f"https://news.example/{i}?a=1&b=<2>",
        summary=(f"Unique{i} words{i} describe event{i} in place{i}.",),
        tags=("taiwan", "trade"),
        keyphrases=(),
        ingested_at=NOW,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


KINDS = {
    "no tags": {"tags": ()},
    "no author": {"author": None},
    "no date": {"published": None},
    "no source": {"source": None},
    "no url": {"url": None},
    "not a web url": {"url": "javascript:alert(1)"},
    "no summary": {"summary": ()},
    "empty title": {"title": "   "},
    "huge title": {"title": "Very long headline " * 400},
    "huge summary": {"summary": tuple("A sentence of some length here. " * 40 for _ in range(8))},
    "markup everywhere": {"title": "<!channel> & <@U1> *bold* `code` @everyone", "tags": ("a&b",)},
    "many tags": {"tags": tuple(f"tag{j}" for j in range(40))},
}


def _all_kinds() -> list[StoredArticle]:
    return [_article(i, **changes) for i, changes in enumerate(KINDS.values(), 1)]


def _assert_each_article_once(parts, digest) -> None:  # type: ignore[no-untyped-def]
    counts = Counter(a for p in parts for a in p.article_ids)
    assert sorted(counts) == sorted(digest.article_ids)
    assert set(counts.values()) == {1}


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_of_item_alone_renders_valid_messages(kind: str) -> None:
    digest = compose([_article(1, **KINDS[kind])], now=NOW)
    for render, validate in (
        (lambda d: slack_render.digest_parts(d), slack_render.validate_message),
        (lambda d: discord_render.digest_parts(d), discord_render.validate_message),
    ):
        parts = render(digest)
        assert parts
        for part in parts:
            validate(part.payload)
        _assert_each_article_once(parts, digest)
    for part in slack_render.digest_parts(digest):
        assert slack_would_refuse(part.payload) is None  # the strict stand-in agrees


def test_untagged_items_have_no_empty_context_block() -> None:
    digest = compose([_article(1, tags=()), _article(2)], now=NOW)
    [message] = [p.payload for p in slack_render.digest_parts(digest)]
    contexts = [b for b in message["blocks"] if b["type"] == "context"]
    assert contexts and all(b["elements"] for b in contexts)
    text = str(message["blocks"])
    assert "harbour1" in text and "harbour2" in text  # the untagged story is shown


def test_sixty_mixed_stories_split_into_valid_parts_each_article_once() -> None:
    # Each kind once as is, then 50 more of them with distinct words (compose merges copies).
    articles = _all_kinds()
    for i in range(100, 150):
        changes = {k: v for k, v in KINDS[list(KINDS)[i % len(KINDS)]].items()}
        changes.pop("title", None), changes.pop("summary", None)
        articles.append(_article(i, **changes))
    digest = compose(articles, now=NOW)
    slack_parts = slack_render.digest_parts(digest)
    assert len(slack_parts) > 1
    for part in slack_parts:
        assert len(part.payload["blocks"]) <= slack_render.MAX_BLOCKS
        assert slack_would_refuse(part.payload) is None
    _assert_each_article_once(slack_parts, digest)
    discord_parts = discord_render.digest_parts(digest)
    assert len(discord_parts) > 1
    _assert_each_article_once(discord_parts, digest)


def test_validators_refuse_what_the_platforms_refuse() -> None:
    empty_context = {"text": "x", "blocks": [{"type": "context", "elements": []}]}
    with pytest.raises(DeliveryError, match="context"):
        slack_render.validate_message(empty_context)
    assert slack_would_refuse(empty_context) == "invalid_blocks"
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
    too_many = {"text": "x", "blocks": [section] * 51}
    with pytest.raises(DeliveryError, match="50 blocks"):
        slack_render.validate_message(too_many)
    assert slack_would_refuse(too_many) == "invalid_blocks"
    long_header = {
        "text": "x",
        "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
    }
    with pytest.raises(DeliveryError):
        slack_render.validate_message(long_header)
    with pytest.raises(DeliveryError, match="6000"):
        discord_render.validate_message(
            {"content": "x", "embeds": [{"title": "t", "description": "d" * 4000}] * 2}
        )
    with pytest.raises(DeliveryError, match="empty"):
        discord_render.validate_message({"content": " ", "embeds": []})
