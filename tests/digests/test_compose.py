"""Composing a digest: grouping by tag, merging same-story copies, topic filters."""

from __future__ import annotations

from datetime import timedelta

from digests.compose import OTHER, compose
from digests.models import StoredArticle
from tests.conftest import NOW

WIRE = (
    "Taiwan's president said on Monday the island would boost defence spending "
    "after Chinese military drills near the Taiwan Strait drew international concern."
)


def _article(
    i: int, title: str, tags: tuple[str, ...], summary: str, source: str = "Wire", days: int = 0
) -> StoredArticle:
    return StoredArticle(
        id=i,
        title=title,
        source=source,
        author=None,
        published=NOW - timedelta(days=days),
        url=f"https://e.com/{i}",
        summary=(summary,),
        tags=tags,
        keyphrases=(),
        ingested_at=NOW,
    )


def test_groups_by_strongest_tag_biggest_section_first() -> None:
    digest = compose(
        [
            _article(1, "Chips", ("trade", "china"), "Export controls tightened on chips."),
            _article(2, "Drills", ("taiwan", "china"), "Drills near the island continued today."),
            _article(3, "Tariffs", ("trade",), "New tariffs were announced on steel imports."),
            _article(4, "Football", (), "The match ended in a draw on Sunday evening."),
        ],
        now=NOW,
    )
    assert [s.tag for s in digest.sections] == ["trade", "taiwan", OTHER]
    assert [i.article.id for i in digest.sections[0].items] == [1, 3]
    assert digest.article_ids == (1, 2, 3, 4)


def test_same_story_from_two_sources_is_one_item_listing_both() -> None:
    digest = compose(
        [
            _article(1, "Taiwan to boost defence", ("taiwan",), WIRE, source="Reuters", days=1),
            _article(
                2, "Taiwan to boost defence spending", ("taiwan",), WIRE, source="Taipei Times"
            ),
            _article(3, "Unrelated", ("taiwan",), "Baseball season opened in Taichung with a win."),
        ],
        now=NOW,
    )
    [section] = digest.sections
    merged = next(i for i in section.items if i.also)
    assert merged.article.source == "Reuters"  # the earliest copy leads
    assert [a.source for a in merged.also] == ["Taipei Times"]
    assert len(section.items) == 2 and digest.article_ids == (1, 2, 3)


def test_topic_filter_keeps_only_wanted_and_uses_wanted_tag_as_header() -> None:
    digest = compose(
        [
            _article(1, "Chips", ("china", "trade"), "Export controls tightened on chips."),
            _article(2, "Football", ("sport",), "The match ended in a draw on Sunday evening."),
        ],
        now=NOW,
        topics=["trade"],
    )
    assert [s.tag for s in digest.sections] == ["trade"]
    assert digest.article_ids == (1,)


def test_nothing_new_is_empty() -> None:
    assert compose([], now=NOW).empty
