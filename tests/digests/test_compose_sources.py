"""A story several sources ran: one summary from all of them, each sentence credited."""

from __future__ import annotations

import json
from datetime import timedelta

from rich.console import Console

from bot.platforms.discord import render as discord_render
from bot.platforms.mattermost import render as mattermost_render
from bot.platforms.slack import render as slack_render
from bot.render.data import digest_data
from bot.render.text import digest_text
from digests.compose import compose
from digests.models import StoredArticle
from tests.conftest import NOW

LEAD = (
    "Taiwan's president said on Monday the island would boost defence spending after Chinese "
    "military drills near the Taiwan Strait drew international concern."
)


def _copy(i: int, source: str, extra: str, days: int) -> StoredArticle:
    return StoredArticle(
        id=i,
        title="Taiwan to boost defence spending after drills",
        source=source,
        author=None,
        published=NOW - timedelta(days=days),
        url=f"https://{source.lower()}.example/{i}",
        summary=(LEAD, extra),
        tags=("taiwan",),
        keyphrases=(),
        ingested_at=NOW,
    )


COPIES = [
    _copy(
        1,
        "Reuters",
        "The budget will fund new coastal missile batteries and reservist training.",
        2,
    ),
    _copy(
        2,
        "AP",
        "Lawmakers from the opposition said they would debate the plan in parliament next week.",
        1,
    ),
]


def test_a_merged_story_is_summarized_from_all_its_sources_with_credits() -> None:
    [section] = compose(COPIES, now=NOW).sections
    [item] = section.items
    assert item.also  # the copies were merged into one story
    ids = {c.article_id for c in item.sentences}
    assert ids <= {1, 2} and len(item.sentences) >= 2
    assert sum(c.text == LEAD for c in item.sentences) <= 1  # said by both, quoted once
    for c in item.sentences:
        assert c.text in item.source_of(c).summary  # credited to the copy it quotes
    texts = " ".join(c.text for c in item.sentences)
    assert "coastal missile" in texts or "opposition" in texts  # not just one copy's lead

    data = digest_data(compose(COPIES, now=NOW))
    [json_item] = data["sections"][0]["items"]
    assert [c["text"] for c in json_item["citations"]] == [c.text for c in item.sentences]
    assert {c["source"] for c in json_item["citations"]} <= {"Reuters", "AP"}
    json.dumps(data)


def test_chat_renderings_credit_each_sentence_of_a_merged_story() -> None:
    digest = compose(COPIES, now=NOW)
    [item] = digest.sections[0].items
    slack = json.dumps([p.payload for p in slack_render.digest_parts(digest)])
    discord = json.dumps([p.payload for p in discord_render.digest_parts(digest)])
    for c in item.sentences:
        name = item.source_of(c).source
        assert f"_({name})_" in slack
        assert f"*{name}*" in discord


def test_a_single_source_story_keeps_its_own_summary() -> None:
    [section] = compose(COPIES[:1], now=NOW).sections
    [item] = section.items
    assert not item.also and [c.text for c in item.sentences] == list(COPIES[0].summary)


# One wire text that three outlets ran: stored once (as Reuters's), the others its copies.
WIRE = StoredArticle(
    **{
        **{f: getattr(COPIES[0], f) for f in COPIES[0].__slots__},
        "id": 9,
        "title": "Harbour strike ends after wage deal",
        "summary": ("Dock workers ended a week-long strike after a wage deal.",),
        "published": NOW - timedelta(days=3),  # older than the two-source story
        "copy_sources": ("AP", "Reuters", "The Times"),  # its own source is not counted twice
    }
)


def test_a_texts_copies_count_as_sources_and_rank_its_story() -> None:
    digest = compose([*COPIES, WIRE], now=NOW)
    [section] = digest.sections
    # Three outlets ran the wire story, two the Taiwan one (newer): the wire story comes first.
    first, second = section.items
    assert first.article.id == 9 and not first.also
    assert first.sources == ("Reuters", "AP", "The Times")
    assert first.copy_sources == ("AP", "The Times")
    assert second.sources == ("Reuters", "AP")
    [json_item, _] = digest_data(digest)["sections"][0]["items"]
    assert (json_item["sources"], json_item["source_count"]) == (["Reuters", "AP", "The Times"], 3)
    # Without its copies it would be one source, ranked after the newer two-source story.
    alone = StoredArticle(**{**{f: getattr(WIRE, f) for f in WIRE.__slots__}, "copy_sources": ()})
    assert [i.article.id for i in compose([*COPIES, alone], now=NOW).sections[0].items] == [1, 9]


def test_every_rendering_names_the_sources_of_a_texts_copies() -> None:
    digest = compose([WIRE], now=NOW)
    console = Console(width=200, record=True)
    console.print(digest_text(digest))
    assert "3 sources: Reuters, AP, The Times" in console.export_text()
    slack = json.dumps([p.payload for p in slack_render.digest_parts(digest)])
    assert "3 sources: " in slack and "AP, The Times" in slack
    discord = json.dumps([p.payload for p in discord_render.digest_parts(digest)])
    assert '"3 sources"' in discord and "AP, The Times" in discord
    mattermost = json.dumps([p.payload for p in mattermost_render.digest_parts(digest)])
    assert "Also: AP, The Times" in mattermost


def test_the_terminal_counts_sources_it_cannot_name_instead_of_listing_headlines() -> None:
    # Files dropped in the inbox often name no source: each still counts as one (it ranks the
    # story), but its headline is not a source's name.
    def article(i: int, source: str | None, title: str) -> StoredArticle:
        fields = {f: getattr(COPIES[0], f) for f in COPIES[0].__slots__}
        return StoredArticle(**{**fields, "id": i, "source": source, "title": title, "story": 5})

    titles = ["Harbour strike ends", "Dockers accept wage deal", "Port reopens after strike"]
    mixed = compose(
        [article(1, "Reuters", titles[0]), *(article(i, None, titles[i - 1]) for i in (2, 3))],
        now=NOW,
    )
    unnamed = compose([article(i, None, titles[i - 1]) for i in (1, 2)], now=NOW)
    for digest, label in (
        (mixed, "3 sources: Reuters and 2 not named"),
        (unnamed, "2 sources, not named"),
    ):
        console = Console(width=200, record=True)
        console.print(digest_text(digest))
        text = console.export_text()
        [line] = [
            line.strip() for line in text.splitlines() if "source" in line and "·" not in line
        ]
        assert line == label
    [item] = mixed.sections[0].items
    assert len(item.sources) == 3 and item.named_sources == ("Reuters",)  # the ranking's count
    # JSON lists the same names and the count, never a headline as a source.
    [json_item] = digest_data(mixed)["sections"][0]["items"]
    assert (json_item["sources"], json_item["source_count"]) == (["Reuters"], 3)
