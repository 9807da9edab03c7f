"""What a reader sees in a brief (issue #11's defects), through the real splitter and store."""

from __future__ import annotations

import uuid
from datetime import timedelta

from digests.brief import brief
from digests.config import Topic
from digests.models import Article, ProcessedArticle, Tagging
from digests.sentences import split_sentences
from digests.store import Store
from digests.summarize import summarize
from tests.conftest import NOW

TOPICS = (
    Topic(name="taiwan", aliases=("Taiwan", "Taipei")),
    Topic(name="united-states", aliases=("US", "Washington")),
)


def _add(
    store: Store,
    title: str,
    body: str,
    *,
    source: str = "Wire",
    tags: tuple[tuple[str, int], ...] = (),
    days_ago: float = 1.0,
) -> None:
    """Store an article as the pipeline would: real sentence split, real summary."""
    article = Article(
        title=title,
        body=body,
        source=source,
        published=NOW - timedelta(days=days_ago),
        locator=f"test://{uuid.uuid4().hex}",
    )
    processed = ProcessedArticle(
        article=article,
        summary=summarize(body, title=title),
        tagging=Tagging(tags=tags),
        sentences=tuple(split_sentences(body)),
    )
    store.articles.add(processed, now=NOW)


def _texts(store: Store, query: str, **kw: object) -> list[str]:
    return [s.text for s in brief(store, query, topics=TOPICS, now=NOW, **kw).sentences]


def test_section_headings_are_never_quoted(store: Store) -> None:
    body = (
        "Meeting of Trump and Xi Under Strategic Doubts\n\n"
        "Taiwan watched closely as the two leaders met in Busan on Thursday for talks.\n\n"
        "Taiwan Strait Tensions Ahead\n\n"
        "Officials in Taipei said Taiwan would keep its defence spending plans unchanged."
    )
    _add(store, "Summit", body, tags=(("taiwan", 4),))
    texts = _texts(store, "taiwan", sentences=4)
    assert texts
    assert not any("Strategic Doubts" in t or "Tensions Ahead" in t for t in texts)


def test_two_sentences_are_never_merged(store: Store) -> None:
    body = (
        "Taiwan's negotiators said more talks would follow next month. Taiwan hopes to expand "
        "its trade ties with the region this year.\n\n"
        "The agreement on Taiwan chips was welcomed in the U.S. Officials said it would take "
        "effect soon."
    )
    _add(store, "Talks", body, tags=(("taiwan", 3),))
    texts = _texts(store, "taiwan", sentences=4)
    assert "Taiwan's negotiators said more talks would follow next month." in texts
    assert "The agreement on Taiwan chips was welcomed in the U.S." in texts
    assert not any("month. Taiwan" in t or "U.S. Officials" in t for t in texts)


def test_a_name_brief_only_quotes_sentences_naming_it(store: Store) -> None:
    for n in range(3):
        _add(
            store,
            f"US diplomacy {n}",
            "The United States and China held talks on trade in Beijing this week. "
            f"Secretary of State Antony Blinken said the meeting number {n} was candid. "
            "United States officials said more meetings would follow in the spring.",
            source=f"Site {n}",
            tags=(("united-states", 3),),
        )
    texts = _texts(store, "Blinken", sentences=4)
    assert texts and all("Blinken" in t for t in texts)


def test_acronym_queries_match_whole_words_in_capitals(store: Store) -> None:
    _add(store, "Prices", "Consumer prices rose nearly five percent in order to keep pace.")
    _add(store, "Order", "The court issued an order on Monday after nearly a year of hearings.")
    _add(store, "Probe", "The NEAR spacecraft sent back pictures of the asteroid Eros on Monday.")
    _add(store, "Oregon", "Voters in OR and WA went to the polls early on Tuesday morning.")
    near = _texts(store, "NEAR")
    assert near == ["The NEAR spacecraft sent back pictures of the asteroid Eros on Monday."]
    assert _texts(store, "OR") == [
        "Voters in OR and WA went to the polls early on Tuesday morning."
    ]


def test_near_copies_are_one_source(store: Store) -> None:
    body = (
        "Taiwan's defence ministry said on Monday that Chinese warships had been tracked near "
        "the island for a third straight day. Taiwan put its coast guard on alert."
    )
    _add(store, "Warships near Taiwan", body, source="Wire", tags=(("taiwan", 2),), days_ago=2)
    _add(store, "Warships near Taiwan", body, source="Wire", tags=(("taiwan", 2),), days_ago=1)
    result = brief(store, "taiwan", topics=TOPICS, now=NOW, sentences=4)
    assert result.sentences and len(result.articles) == 1
    assert len({s.article_id for s in result.sentences}) == 1


def test_an_article_of_long_sentences_still_has_a_summary_and_a_brief(store: Store) -> None:
    clause = "and the committee on Taiwan's budget reviewed item {} of the appropriations bill"
    sentences = [
        "The legislature in Taipei " + ", ".join(clause.format(f"{i}-{j}") for j in range(6)) + "."
        for i in range(3)
    ]
    assert all(len(s) > 350 for s in sentences)
    body = " ".join(sentences)
    assert summarize(body).sentences  # a digest item is never a bare title
    _add(store, "Budget review", body, tags=(("taiwan", 3),))
    assert _texts(store, "taiwan", sentences=2)


def test_words_budget_is_whole_sentences_and_reported(store: Store) -> None:
    for n in range(4):
        _add(
            store,
            f"Taiwan story {n}",
            f"Taiwan's parliament approved a defence budget on Tuesday in vote number {n}. "
            "Taiwan will buy new air defence systems and coastal missiles next year. "
            f"Lawmakers in Taipei debated the plan for {n + 2} days before the vote.",
            source=f"Site {n}",
            tags=(("taiwan", 3),),
        )
    result = brief(store, "taiwan", topics=TOPICS, now=NOW, words=40)
    assert result.words == 40 and result.sentences
    assert sum(len(s.text.split()) for s in result.sentences) <= 40
