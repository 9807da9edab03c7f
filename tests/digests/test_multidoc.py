"""The multi-document engine: what several sources say, to a word budget, cited, in order."""

from __future__ import annotations

from datetime import UTC, datetime

from digests import multidoc
from digests.multidoc import Source, summarize_sources
from digests.sentences import words

DAY1 = datetime(2026, 11, 20, tzinfo=UTC)
DAY2 = datetime(2026, 11, 21, tzinfo=UTC)

SHARED = (
    "The central bank raised its main interest rate by half a point on Thursday to fight inflation."
)
SOURCES = [
    Source(
        key="a",
        published=DAY2,
        text=(
            "The central bank raised its main interest rate by half a point on Thursday to curb inflation. "
            "Mortgage lenders said monthly repayments would rise for about two million households. "
            "A spokesman for the bakery association complained about the price of flour this winter."
        ),
    ),
    Source(
        key="b",
        published=DAY1,
        text=(
            f"{SHARED} "
            "Economists had expected the central bank to raise the rate by a quarter point only. "
            "Mortgage lenders said monthly repayments would rise for many households next year."
        ),
    ),
    Source(
        key="c",
        published=DAY1,
        text=(
            "Markets fell after the central bank raised its main interest rate by half a point. "
            "Economists had expected a smaller rise of a quarter point from the central bank. "
            "The city zoo welcomed a baby giraffe that keepers named after a local footballer."
        ),
    ),
]


def _all_sentences() -> str:
    return " ".join(s.text for s in SOURCES)


def test_quotes_whole_sentences_within_the_word_budget_with_their_source() -> None:
    for budget in (20, 40, 60):
        out = summarize_sources(SOURCES, words=budget)
        assert out, budget
        assert sum(len(words(c.text)) for c in out) <= budget
        for c in out:
            assert c.text in SOURCES[c.source].text  # verbatim, credited to the right source


def test_prefers_what_several_sources_say_and_never_repeats_it() -> None:
    out = summarize_sources(SOURCES, words=40)
    texts = " ".join(c.text for c in out)
    assert "central bank raised its main interest rate by half a point" in texts
    assert "giraffe" not in texts and "flour" not in texts  # one source's aside
    rate_sentences = [c for c in out if "raised its main interest rate" in c.text]
    assert len(rate_sentences) == 1  # the same fact from three sites is quoted once


def test_order_is_by_source_date_then_position() -> None:
    out = summarize_sources(SOURCES, words=80)
    keys = [(SOURCES[c.source].published, c.source, c.position) for c in out]
    assert keys == sorted(keys)


def test_a_name_query_is_mentioned_by_every_sentence() -> None:
    sources = [
        Source(
            key=i,
            text=(
                "United States officials met their Chinese counterparts in Beijing on Monday. "
                f"Secretary of State Antony Blinken said the talks on trade were candid and useful {i}. "
                "United States officials said more meetings between the two sides would follow soon."
            ),
        )
        for i in range(4)
    ]
    out = summarize_sources(sources, query="Blinken", words=60)
    assert out and all("Blinken" in c.text for c in out)
    out = summarize_sources(sources, query="blinken", words=60)
    assert out and all("Blinken" in c.text for c in out)


def test_candidates_are_capped_whatever_the_input() -> None:
    sentence = (
        "Officials in district {} said the new bridge would open to traffic in the spring {}."
    )
    big = [
        Source(key=i, text=" ".join(sentence.format(i, j) for j in range(500))) for i in range(40)
    ]
    cands = list(multidoc._candidates(big, frozenset()))
    assert len(cands) <= multidoc.MAX_CANDIDATES
    assert max(c.position for c in cands) < multidoc.MAX_PER_SOURCE
    out = summarize_sources(big, words=50)
    assert 0 < sum(len(words(c.text)) for c in out) <= 50


def test_nothing_in_nothing_out() -> None:
    assert summarize_sources([], words=100) == []
    assert summarize_sources(SOURCES, words=0) == []
    assert summarize_sources([Source(key=1, text="Too short.")], words=100) == []
