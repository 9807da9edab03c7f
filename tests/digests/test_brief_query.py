"""Free-text briefs: ``OR`` between terms, and short acronyms (EU, UN, AI, US), on both stores.

``digestbot brief "EU OR NATO"`` (and ``/brief EU OR NATO``) means articles about either. The
search used to require every word — "or" included — and fall back to any word only when
nothing had them all, so one article naming both hid every article naming one; PostgreSQL
dropped "or" as a stop word and required EU and NATO together.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from digests.brief import brief
from digests.config import Topic
from digests.query import MAX_WORDS, parse_query
from digests.store import Store
from tests.conftest import NOW, make_processed

ARTICLES = {
    "eu": (
        "EU ministers agree on steel tariffs",
        "EU ministers agreed on Monday to raise tariffs on imported steel by ten percent. "
        "The EU trade commissioner said the measure would take effect in March. "
        "Steelmakers welcomed the decision after months of lobbying in Brussels.",
    ),
    "nato": (
        "NATO allies plan a new air defence exercise",
        "NATO allies will hold their largest air defence exercise in years next month. "
        "The NATO secretary general said thirty members would send aircraft and crews. "
        "The drills will take place over the Baltic Sea and in northern Poland.",
    ),
    "both": (
        "Leaders meet on security",
        "Leaders of the EU and NATO met in Brussels on Thursday to discuss joint security. "
        "Officials said the talks on military mobility lasted more than four hours. "
        "A joint statement promised more money for roads and railways near the border.",
    ),
    "neither": (
        "Farmers weigh their options",
        "Farmers said they would either sell their land or keep it for another season. "
        "Several of us spoke to growers who said prices had fallen or stayed flat all year. "
        "Let us hope, one grower said, that the rain comes before the harvest or not at all.",
    ),
    "us": (
        "US announces new chip export rules",
        "The US Commerce Department announced new export rules for advanced chips on Friday. "
        "US officials said the rules would close gaps left by last year's measures. "
        "Chipmakers said they were studying the rules and expected some delays.",
    ),
    "un": (
        "UN envoy calls for a ceasefire",
        "The UN envoy called on Wednesday for an immediate ceasefire in the region. "
        "The UN Security Council will meet on the crisis again next week. "
        "Aid groups said supplies were running low in several towns.",
    ),
    "ai": (
        "AI chip demand lifts supplier shares",
        "AI chip demand lifted the shares of several suppliers to record highs on Tuesday. "
        "Analysts said AI spending by cloud companies showed no sign of slowing. "
        "Some investors warned that valuations had run ahead of profits.",
    ),
}


def test_queries_parse_into_alternatives_of_words() -> None:
    assert parse_query("EU OR NATO").groups == (("EU",), ("NATO",))
    assert parse_query("eu or nato|UN").groups == (("eu",), ("nato",), ("UN",))
    assert parse_query("EU NATO OR UN").groups == (("EU", "NATO"), ("UN",))
    assert parse_query("OR EU OR").groups == (("EU",),)
    assert parse_query("OR").groups == (("OR",),)
    assert parse_query(" | ").groups == ()
    assert len(parse_query(" OR ".join(f"w{i}" for i in range(40))).words) == MAX_WORDS
    assert parse_query("what about the EU and US").content_words == ("EU", "US")
    assert parse_query("the").content_words == ("the",)


def _store(store: Store) -> dict[str, int]:
    ids = {}
    for i, (key, (title, body)) in enumerate(ARTICLES.items()):
        item = make_processed(title, body, source=f"Wire {key}", published=NOW - timedelta(hours=i))
        article_id = store.articles.add(item, now=NOW)
        assert article_id is not None
        ids[key] = article_id
    return ids


def _cited(store: Store, text: str, ids: dict[str, int], **kwargs: object) -> set[str]:
    result = brief(store, text, topics=(), now=NOW, sentences=6, **kwargs)  # type: ignore[arg-type]
    by_id = {v: k for k, v in ids.items()}
    return {by_id[a.id] for a in result.articles}


@pytest.mark.parametrize("text", ["EU OR NATO", "eu or nato", "NATO OR EU", "EU | NATO"])
def test_or_means_either(any_store: Store, text: str) -> None:
    ids = _store(any_store)
    found = set(any_store.articles.search(text, limit=40))
    assert found == {ids["eu"], ids["nato"], ids["both"]}, text
    cited = _cited(any_store, text, ids)
    assert {"eu", "nato"} <= cited and cited <= {"eu", "nato", "both"}, cited


def test_terms_without_or_are_all_required_first(any_store: Store) -> None:
    ids = _store(any_store)
    # Every word first; then, ranked by BM25 up to the limit, articles with any of them
    # (a title typed in full is rarely all in one article: issue 22, DUC 2006 retrieval).
    found = any_store.articles.search("EU NATO", limit=40)
    assert found[0] == ids["both"] and set(found[1:]) == {ids["eu"], ids["nato"]}
    assert any_store.articles.search("EU NATO", limit=1) == [ids["both"]]
    # (a b) OR c: each side of OR is its own group of required words
    found = any_store.articles.search("EU NATO OR UN", limit=40)
    assert set(found[:2]) == {ids["both"], ids["un"]}
    assert set(found[2:]) == {ids["eu"], ids["nato"]}


@pytest.mark.parametrize("acronym", ["EU", "UN", "AI", "NATO"])
def test_short_acronyms_are_found(any_store: Store, acronym: str) -> None:
    ids = _store(any_store)
    expected = {"EU": {"eu", "both"}, "UN": {"un"}, "AI": {"ai"}, "NATO": {"nato", "both"}}
    assert _cited(any_store, acronym, ids) == expected[acronym]
    assert _cited(any_store, acronym.lower(), ids) == expected[acronym]  # typed in lower case


def test_us_in_capitals_is_the_country_not_the_pronoun(any_store: Store) -> None:
    ids = _store(any_store)
    assert _cited(any_store, "US", ids) == {"us"}
    assert _cited(any_store, "US OR UN", ids) == {"us", "un"}


def test_or_alone_or_at_the_ends_is_a_word_not_an_operator(any_store: Store) -> None:
    ids = _store(any_store)
    # Nothing but operators and nothing found is an answer without sentences, not an error.
    assert brief(any_store, "OR", topics=(), now=NOW).sentences == ()
    assert _cited(any_store, "OR EU", ids) == {"eu", "both"}
    assert _cited(any_store, "EU OR", ids) == {"eu", "both"}


def test_a_configured_topic_is_still_found_by_its_alias(any_store: Store) -> None:
    topics = (Topic(name="united-states", aliases=("US", "United States")),)
    item = make_processed("US tariffs", "The US raised tariffs on steel imports on Monday again.",
                          tags=(("united-states", 2),))  # fmt: skip
    any_store.articles.add(item, now=NOW)
    assert brief(any_store, "US", topics=topics, now=NOW).topic == "united-states"


def test_a_query_of_stop_words_is_an_empty_answer_not_an_error(any_store: Store) -> None:
    _store(any_store)
    # PostgreSQL's English configuration drops "who" and "it" from its index and its queries.
    for text in ("WHO", "IT OR WHO", "the OR a"):
        brief(any_store, text, topics=(), now=NOW)
