"""Sentence and word splitting: what sumy and the other stages rely on."""

from __future__ import annotations

from sumy.parsers.plaintext import PlaintextParser

from digests.sentences import Tokenizer, split_sentences, words


def test_abbreviations_stay_inside_sentences() -> None:
    text = "Mr. Smith flew to the U.S. on Jan. 5 to meet officials. He returned on Friday."
    assert split_sentences(text) == [
        "Mr. Smith flew to the U.S. on Jan. 5 to meet officials.",
        "He returned on Friday.",
    ]


def test_never_merges_across_paragraphs_and_normalises_whitespace() -> None:
    text = "A heading without a stop\n\nThe first  sentence\nwraps here. Second one.\n"
    assert split_sentences(text) == [
        "A heading without a stop",
        "The first sentence wraps here.",
        "Second one.",
    ]


def test_empty_text() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \n\n ") == []
    assert words("") == []


def test_words_keep_inner_hyphens_and_apostrophes() -> None:
    assert words("Taiwan's well-known U.S. ally, 2024!") == [
        "Taiwan's",
        "well-known",
        "U.S",
        "ally",
        "2024",
    ]


def test_tokenizer_has_the_shape_sumy_parsers_use() -> None:
    tokenizer = Tokenizer("english")
    assert tokenizer.language == "english"
    doc = PlaintextParser.from_string(
        "One short sentence here. Another one follows.", tokenizer
    ).document
    assert [str(s) for s in doc.sentences] == ["One short sentence here.", "Another one follows."]
    assert doc.sentences[0].words == ("One", "short", "sentence", "here")
