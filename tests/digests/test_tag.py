"""Tagging: word boundaries, aliases, capitals-only acronyms, title weight, keyphrases."""

from __future__ import annotations

from digests.config import Settings, Topic
from digests.models import Article
from digests.tag import keyphrases, tag

TOPICS = (
    Topic(name="taiwan", aliases=("Taiwan", "Taipei", "Taiwan Strait", "One China")),
    Topic(name="united-states", aliases=("US", "U.S.", "Washington")),
    Topic(name="trade", aliases=("tariff", "tariffs")),
)


def _tags(title: str, body: str, **kw) -> tuple[str, ...]:
    return tag(Article(title=title, body=body, **kw), TOPICS).names


def test_aliases_match_case_insensitively_on_word_boundaries() -> None:
    assert _tags("News", "Officials in TAIPEI and the taiwan   strait.") == ("taiwan",)
    assert _tags("News", "Taiwanese-made chips, Taiwanese-made phones") == ()  # not whole words
    assert _tags("News", "A new tariff, then another tariff") == ("trade",)


def test_capital_acronyms_do_not_match_ordinary_words() -> None:
    assert _tags("News", "Let us talk about it; us again.") == ()
    assert _tags("News", "The US said so. The U.S. said so.") == ("united-states",)


def test_name_written_as_words_title_weight_and_passing_mentions() -> None:
    result = tag(
        Article(
            title="Taiwan on edge",
            body="United States officials met twice. "
            "The United States said so. A tariff was mentioned once.",
        ),
        TOPICS,
    )
    assert result.tags == (("taiwan", 3), ("united-states", 2))  # one "tariff" is not about trade


def test_page_tags_and_source_tags_count() -> None:
    article = Article(title="x", body="Nothing relevant here.", page_tags=("Taiwan", "Opinion"))
    assert tag(article, TOPICS, extra=("Trade",)).names == ("taiwan", "trade")


def test_keyphrases_are_repeated_proper_nouns() -> None:
    body = (
        "Antony Blinken met Wang Yi in Beijing. Blinken said the talks were useful. "
        "Wang Yi said little. The weather was fine."
    )
    phrases = keyphrases("Blinken visits Beijing", body)
    assert "Blinken" in " ".join(phrases) and "Wang Yi" in phrases
    assert "The" not in phrases


def test_every_seed_mentioning_taiwan_gets_the_tag(settings: Settings) -> None:
    for path in sorted(settings.inbox.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        if "Taiwan" in text:
            assert "taiwan" in tag(Article(title="", body=text), settings.topics).names, path.name
