"""Digests of stories: one item per story, ranked, capped, every sentence cited; updates."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from digests.compose import compose, follow_up
from digests.models import StoredArticle
from tests.conftest import NOW


def _a(i: int, story: int, source: str, *, hours: int = 0, tags=("world",)) -> StoredArticle:
    return StoredArticle(
        id=i,
        title=f"Story {story} report {i}",
        source=source,
        author=None,
        published=NOW - timedelta(hours=hours),
        url=f"https://e.example/{i}",
        summary=(f"Sentence {i} about story {story} from {source}.", f"More on {story} ({i})."),
        tags=tags,
        keyphrases=(),
        ingested_at=NOW,
        story=story,
    )


ARTICLES = [
    _a(1, 10, "Wire A", hours=5),
    _a(2, 10, "Wire B", hours=4),
    _a(3, 10, "Wire C", hours=3),
    _a(4, 20, "Wire A", hours=1),
    _a(5, 20, "Wire A", hours=1),  # two from one source: still one source
    _a(6, 30, "Wire B", hours=0),
    _a(7, 40, "Wire D", hours=9),
]


def test_one_item_per_story_ranked_by_sources_then_recency() -> None:
    digest = compose(ARTICLES, now=NOW)
    [section] = digest.sections
    assert [i.story for i in section.items] == [10, 30, 20, 40]
    top = section.items[0]
    assert top.sources == ("Wire A", "Wire B", "Wire C")
    assert all(s.text in top.source_of(s).summary for s in top.sentences)  # every one cited
    assert {s.article_id for s in top.sentences} <= {1, 2, 3}
    assert digest.article_ids == (1, 2, 3, 4, 5, 6, 7) and digest.more == 0


def test_the_cap_keeps_the_top_stories_and_counts_the_rest() -> None:
    digest = compose(ARTICLES, now=NOW, max_stories=2)
    assert [i.story for s in digest.sections for i in s.items] == [10, 30]
    assert digest.more == 2
    assert digest.article_ids == (1, 2, 3, 4, 5, 6, 7)  # covered, shown or not


def test_topic_strength_breaks_ties() -> None:
    weak = [replace(_a(1, 1, "A"), tags=("world", "sport")), _a(2, 2, "A")]
    strong = [_a(3, 2, "A", tags=("world",))]
    digest = compose([*weak, *strong], now=NOW)
    assert [i.story for s in digest.sections for i in s.items][0] == 2


def test_an_update_quotes_only_what_was_not_shown() -> None:
    digest = compose(ARTICLES, now=NOW)
    shown = [s.text for i in digest.sections[0].items if i.story == 10 for s in i.sentences]
    later = compose([*ARTICLES[:3], _a(8, 10, "Wire E")], now=NOW)
    followed = follow_up(later, {10: shown})
    [item] = [i for s in followed.sections for i in s.items]
    assert item.update and item.sentences
    assert not {s.text for s in item.sentences} & set(shown)
    # Nothing new at all: the story is not shown again, its articles stay covered.
    everything = [s for a in ARTICLES[:3] for s in a.summary] + list(_a(8, 10, "E").summary)
    silent = follow_up(later, {10: everything + [s.text for s in item.sentences]})
    assert silent.sections == () and silent.article_ids == later.article_ids


def test_held_stories_are_checked_only_until_the_free_places_are_filled(monkeypatch) -> None:
    """A digest may hold thousands of stories past its cap: an update checks them in rank
    order only until the places of the stories with nothing new are filled; the rest are
    counted ("+N more") unchecked."""
    import digests.compose as module

    articles = [_a(i, i, f"Wire {i}", hours=i) for i in range(1, 7)]  # story i ranks i-th
    digest = compose(articles, now=NOW, max_stories=2)
    assert [i.story for s in digest.sections for i in s.items] == [1, 2]
    everything = {i: list(a.summary) for i, a in enumerate(articles, 1)}
    posted = {
        1: everything[1],  # nothing new: its place is free
        2: everything[2][:1],
        3: everything[3],  # nothing new: passed over
        4: ["Something else entirely was said before."],
        5: everything[5][:1],
        6: everything[6][:1],
    }
    checked: list[int | None] = []
    real = module._all_sentences
    monkeypatch.setattr(module, "_all_sentences", lambda i: checked.append(i.story) or real(i))
    followed = follow_up(digest, posted)
    assert [i.story for s in followed.sections for i in s.items] == [2, 4]
    assert checked == [1, 2, 3, 4]  # 5 and 6 never checked
    assert followed.more == 2 and [i.story for _, i in followed.held] == [5, 6]
    # Nothing new anywhere: every held story is checked, none counted, nothing to show.
    silent = follow_up(digest, everything)
    assert silent.sections == () and silent.more == 0 and silent.held == ()
