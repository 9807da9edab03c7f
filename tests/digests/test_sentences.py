"""Sentence and word splitting: what sumy and the other stages rely on."""

from __future__ import annotations

import re
import sys

from sumy.parsers.plaintext import PlaintextParser

from digests.sentences import Tokenizer, fold, split_sentences, words


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


def test_fold_keeps_every_character_a_case_insensitive_ascii_letter_matches() -> None:
    # fold()'s promise (tag.py and _junk.py rely on it to skip a pattern's scan): where a
    # re.IGNORECASE pattern's ASCII letter matches a character, that character folds to the
    # letter in lower case. Checked for every code point (the Kelvin sign, the long s, the
    # Turkish dotted and dotless i match ASCII letters too).
    letter = re.compile(r"[a-z]", re.IGNORECASE)
    matched = 0
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:  # surrogates are not characters
            continue
        ch = chr(code)
        if letter.fullmatch(ch):
            matched += 1
            wanted = next(c for c in "abcdefghijklmnopqrstuvwxyz" if re.fullmatch(c, ch, re.I))
            assert fold(ch) == wanted, (hex(code), fold(ch), wanted)
            assert fold(f"x{ch}\u00dfy") == f"x{wanted}ssy"  # the same inside a longer text
    assert matched > 52  # more than the ASCII letters themselves
