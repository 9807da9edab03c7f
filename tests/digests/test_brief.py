"""Topic briefs: configured topics, free text, citations, spread, dedup, unknown topics."""

from __future__ import annotations

from datetime import timedelta

from digests.brief import brief, find_topic
from digests.config import Settings, Topic
from digests.ingest.sources import ingest_sources
from digests.store import Store
from tests.conftest import NOW, make_processed

TOPICS = (
    Topic(name="taiwan", aliases=("Taiwan", "Taipei")),
    Topic(name="trade", aliases=("tariffs",)),
)
WIRE = (
    "Taiwan's defence ministry said on Monday that Chinese warships had been tracked "
    "near the island for a third straight day."
)


def test_find_topic_by_name_alias_or_spacing() -> None:
    topics = (Topic(name="united-states", aliases=("US",)), *TOPICS)
    assert find_topic("Taipei", topics).name == "taiwan"
    assert find_topic("united states", topics).name == "united-states"
    assert find_topic("bananas", topics) is None


def test_brief_over_the_seeds_is_cited_and_multi_source(store: Store, settings: Settings) -> None:
    ingest_sources(store, settings, now=NOW)
    result = brief(store, "taiwan", topics=settings.topics, now=NOW, sentences=4)
    assert 3 <= len(result.sentences) <= 4
    assert len({s.article_id for s in result.sentences}) >= 2
    for s in result.sentences:
        assert s.title and s.article_id in {a.id for a in result.articles}
    texts = [s.text for s in result.sentences]
    assert len(set(texts)) == len(texts)
    assert all(len(t) <= 300 for t in texts)  # each readable at a glance


def test_same_wire_story_twice_counts_once(store: Store) -> None:
    store.articles.add(
        make_processed(
            "Warships near Taiwan",
            WIRE + " Officials were calm.",
            tags=(("taiwan", 2),),
            source="Wire A",
        ),
        now=NOW,
    )
    store.articles.add(
        make_processed(
            "Warships tracked",
            WIRE + " Markets were steady.",
            tags=(("taiwan", 2),),
            source="Wire B",
        ),
        now=NOW,
    )
    store.articles.add(
        make_processed(
            "Taipei chips",
            "Taipei chipmakers reported record Taiwan exports this quarter.",
            tags=(("taiwan", 1),),
            source="Daily",
        ),
        now=NOW,
    )
    result = brief(store, "taiwan", topics=TOPICS, now=NOW, sentences=4)
    assert sum("warships" in s.text for s in result.sentences) == 1
    assert any(s.source == "Daily" for s in result.sentences)


def test_newer_articles_are_favoured(store: Store) -> None:
    store.articles.add(
        make_processed(
            "Old",
            "Taiwan held an old election long ago in the past.",
            tags=(("taiwan", 1),),
            published=NOW - timedelta(days=400),
        ),
        now=NOW,
    )
    store.articles.add(
        make_processed(
            "New",
            "Taiwan held a new election this week with high turnout.",
            tags=(("taiwan", 1),),
            published=NOW - timedelta(days=1),
        ),
        now=NOW,
    )
    result = brief(store, "taiwan", topics=TOPICS, now=NOW, sentences=1)
    assert result.sentences[0].title == "New"


def test_recency_outweighs_what_stale_sources_agreed_on(store: Store) -> None:
    """Three sources agreeing 200 days ago say more than one, unless age counts: the brief
    weighs each article by recency (half-life 30 days), so today's news comes first."""
    old = NOW - timedelta(days=200)
    for title, source, body in (
        ("Port deal", "Reuters", "Taiwan signed the harbour lease agreement with the shipping "
         "group in March. Other things happened elsewhere entirely."),
        ("Lease signed", "AP", "Officials said Taiwan signed the harbour lease agreement with "
         "the shipping group. The weather was fine."),
        ("Shipping news", "AFP", "Taiwan signed the harbour lease agreement with the shipping "
         "group, ministers confirmed. Markets were calm."),
    ):  # fmt: skip
        store.articles.add(
            make_processed(title, body, tags=(("taiwan", 2),), source=source, published=old),
            now=old,
        )
    fresh = make_processed(
        "Fresh",
        "Taiwan opened a new semiconductor research centre near Hsinchu on Monday. It cost a lot.",
        tags=(("taiwan", 2),),
        source="BBC",
        published=NOW,
    )
    new_id = store.articles.add(fresh, now=NOW)
    [sentence] = brief(store, "taiwan", topics=TOPICS, now=NOW, sentences=1).sentences
    assert sentence.article_id == new_id, sentence.text


def test_free_text_uses_full_text_search(store: Store) -> None:
    store.articles.add(
        make_processed(
            "Chips", "Semiconductor export controls were tightened again this year.", tags=()
        ),
        now=NOW,
    )
    result = brief(store, "semiconductor controls", topics=TOPICS, now=NOW)
    assert result.sentences and "Semiconductor" in result.sentences[0].text


def test_unknown_topic_gets_suggestions_not_an_error(store: Store) -> None:
    assert brief(store, "taiwn", topics=TOPICS, now=NOW).suggestions == ()  # nothing stored
    store.articles.add(make_processed("Strait", WIRE, tags=(("taiwan", 2),)), now=NOW)
    result = brief(store, "taiwn", topics=TOPICS, now=NOW)
    assert result.sentences == () and result.suggestions == ("taiwan",)


def test_suggestions_name_topics_with_articles_never_the_one_asked(store: Store) -> None:
    topics = (*TOPICS, Topic(name="lebanon", aliases=("Beirut",)))
    store.articles.add(make_processed("Strait", WIRE, tags=(("taiwan", 2),)), now=NOW)
    for asked in ("lebanon", "zorblax", "Beirut"):
        result = brief(store, asked, topics=topics, now=NOW)
        assert result.sentences == () and result.suggestions == (), asked
        assert result.known_topics == ("taiwan",), asked  # listed as what is known, not a guess


def test_only_close_topics_are_suggested_else_the_known_ones_are_listed(store: Store) -> None:
    """`brief narnia` answered "Try: iran, united-states, ukraine": no topic was close, so the
    busiest ones were offered as if they were, and read as random. Suggestions are now close
    ones only (a typo, or the first letters shared); otherwise the known topics are listed
    plainly, busiest first."""
    names = ("iran", "united-states", "ukraine", "technology")
    topics = tuple(Topic(name=n) for n in names)
    for n, name in enumerate(names):
        for i in range(4 - n):  # iran busiest, technology least
            body = f"Report {i} on {name} from the wire, with enough words to store."
            store.articles.add(make_processed(f"{name} {i}", body, tags=((name, 1),)), now=NOW)
    narnia = brief(store, "narnia", topics=topics, now=NOW)
    assert narnia.suggestions == ()
    assert narnia.known_topics == names
    assert brief(store, "ukrane", topics=topics, now=NOW).suggestions == ("ukraine",)
    assert brief(store, "tech", topics=topics, now=NOW).suggestions == ("technology",)
    assert brief(store, "ukrane", topics=topics, now=NOW).known_topics == ()


def test_sentences_that_lean_on_context_are_ranked_lower(store: Store) -> None:
    store.articles.add(
        make_processed(
            "Budget",
            "It is clear that Taiwan matters greatly to everyone involved here. "
            "Taiwan's legislature passed the annual defence budget on Friday.",
            tags=(("taiwan", 2),),
        ),
        now=NOW,
    )
    [only] = brief(store, "taiwan", topics=TOPICS, now=NOW, sentences=1).sentences
    assert only.text.startswith("Taiwan's legislature")


def test_answer_spans_sources_before_repeating_one(store: Store) -> None:
    bodies = {
        "A": "Taiwan held elections on Saturday. Taiwan saw a record turnout of voters. "
        "Taiwan counted ballots by hand overnight.",
        "B": "Typhoon rains hit southern Taiwan ports. Ferries in Taiwan stopped sailing for two days.",
        "C": "Chipmakers in Taiwan reported strong quarterly exports to Europe and America.",
    }
    for source, body in bodies.items():
        store.articles.add(
            make_processed(f"Story {source}", body, tags=(("taiwan", 3),), source=source), now=NOW
        )
    result = brief(store, "taiwan", topics=TOPICS, now=NOW, sentences=3)
    assert sorted(s.source for s in result.sentences) == ["A", "B", "C"]
