"""Junk sentences: the quick tests before the credit and link patterns change no verdict."""

from __future__ import annotations

import random

from digests import _junk
from digests._junk import is_junk
from digests.sentences import words


def _by_patterns_alone(sentence: str, whole_paragraph: bool) -> bool:
    n = len(words(sentence))
    if n < _junk.MIN_WORDS or n > _junk.MAX_WORDS:
        return True
    for pattern in (_junk._BOILERPLATE_START, _junk._CREDIT, _junk._CAPTION_LABEL, _junk._URL):
        if pattern.search(sentence):
            return True
    return whole_paragraph and not _junk._TERMINAL.search(sentence)


def test_verdicts_are_those_of_the_patterns_alone() -> None:
    """Sentences made of credits, links and captions in any case (Turkish i's, a long s and
    the Kelvin sign, which a case-insensitive pattern matches to i, s and k, included)."""
    pieces = [
        *"The minister said the talks would resume next week in Geneva".split(),
        *"(left) (File Photo) Getty Images GETTY IMAGES AP Photo Reuters/ AFP/ © (c) 2024".split(),
        *"All Rights Reserved photographs by Photo credit Image: Pictures: Credit:".split(),
        *"https://x.org HTTP://X www.example.com @reuters on Twitter ON TWİTTER".split(),
        *"Gettı İmages ſource: Reuterſ/ \u212aremlin Terrified: Emma said: We".split(),
        *"Photographs courtesy PICTURE: reuters/ afp/ (C) 1999 — ' ” )".split(),
    ]
    rng = random.Random(11)
    for _ in range(4000):
        sentence = " ".join(rng.choices(pieces, k=rng.randint(3, 16)))
        sentence += rng.choice(["", ".", "!", "”", ".”"])
        whole = rng.random() < 0.3
        assert is_junk(sentence, whole_paragraph=whole) == _by_patterns_alone(sentence, whole), (
            sentence
        )
