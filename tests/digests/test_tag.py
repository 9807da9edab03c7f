"""Tagging: word boundaries, aliases, capitals-only acronyms, title weight, keyphrases."""

from __future__ import annotations

from digests.config import Settings, Topic
from digests.models import Article
from digests.tag import keyphrases, mentions, tag

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


def test_mentions_counts_the_name_and_aliases_as_tagging_matches_them() -> None:
    us = TOPICS[1]
    assert mentions(us, "The United States and the US, then the U.S. again; us too.") == 3
    assert mentions(TOPICS[0], "Taipei said so.\nTaiwanese-made chips in the Taiwan Strait") == 2
    assert mentions(us, "") == 0


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


def test_counting_finds_what_a_scan_of_the_whole_pattern_finds() -> None:
    """tag() tries a topic's pattern only where a phrase's first word is: on texts made to
    trip it up (overlapping phrases, capitals, neighbouring letters, line breaks inside a
    phrase, the Turkish i's, other scripts), its counts are the whole pattern's."""
    import random

    from digests.tag import _count, _Text, topic_pattern

    topics = (
        *TOPICS,
        Topic(name="south-china-sea", aliases=("South China Sea", "Spratly", "Scarborough Shoal")),
        Topic(name="china", aliases=("China", "Chinese", "PRC", "Xi Jinping")),
        Topic(name="sea-of-japan", aliases=("Japan", "Japan Sea", "Sea")),  # matches inside
        Topic(name="zelensky", aliases=("Зеленський", "Zelensky", "Zelenskyy")),
    )
    pieces = [
        *(w for t in topics for p in t.phrases for w in (p, *p.split())),
        *"us US u.s. U.S.A. Taiwanese tradeoff xtrade trade_ TAIWAN TaİWAN taıwan ß é".split(),
        *" \n\t-.,;'’_(",
    ]
    rng = random.Random(7)
    for _ in range(3000):
        words = rng.choices(pieces, k=rng.randint(1, 40))
        text = "".join(w + rng.choice(["", " ", "  ", "\n", "-", ".", "_"]) for w in words)
        for topic in topics:
            assert _count(topic, _Text(text)) == len(topic_pattern(topic).findall(text)), text
