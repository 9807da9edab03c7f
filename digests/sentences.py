"""Sentence and word splitting with no downloads.

nupunkt ships its Punkt model inside its wheel, so nothing is fetched at run time (NLTK's
punkt data would be). :class:`Tokenizer` has the shape sumy's parsers expect
(``language``, ``to_sentences``, ``to_words``), so sumy never reaches for NLTK data.
"""

from __future__ import annotations

import re
from functools import lru_cache

import nupunkt

_WORD = re.compile(r"\w+(?:[-'’.]\w+)*", re.UNICODE)


def split_sentences(text: str) -> list[str]:
    """Split a paragraph or body into sentences (abbreviations like "U.S." kept intact)."""
    out: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = " ".join(paragraph.split())
        if paragraph:
            out.extend(s.strip() for s in _sent_tokenize(paragraph) if s.strip())
    return out


def words(text: str) -> list[str]:
    """Word tokens of ``text`` (letters/digits, with inner hyphens and apostrophes)."""
    return _WORD.findall(text)


@lru_cache(maxsize=4096)
def _sent_tokenize_cached(paragraph: str) -> tuple[str, ...]:
    return tuple(nupunkt.sent_tokenize(paragraph))


def _sent_tokenize(paragraph: str) -> tuple[str, ...]:
    return _sent_tokenize_cached(paragraph)


class Tokenizer:
    """A sumy-compatible tokenizer backed by nupunkt (no NLTK data needed)."""

    def __init__(self, language: str = "english") -> None:
        self._language = language

    @property
    def language(self) -> str:
        return self._language

    def to_sentences(self, paragraph: str) -> tuple[str, ...]:
        return tuple(split_sentences(paragraph))

    def to_words(self, sentence: str) -> tuple[str, ...]:
        return tuple(words(sentence))
