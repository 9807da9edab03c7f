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


def fold(text: str) -> str:
    """``text`` case-folded as a case-insensitive regex sees it: where a ``re.IGNORECASE``
    pattern of ASCII letters and punctuation matches ``text``, the pattern's lower-case
    spelling is a substring of this (``casefold()``, but Turkish dotted and dotless i become
    i, as the regex matches them; checked against every code point)."""
    if text.isascii():
        return text.lower()
    return text.replace("\u0130", "i").casefold().replace("\u0131", "i")


def words(text: str) -> list[str]:
    """Word tokens of ``text`` (letters/digits, with inner hyphens and apostrophes)."""
    return _WORD.findall(text)


# Punkt leaves two splits undone that readers notice: a lower-case word before the period
# ("...follow next month. Taiwan hopes...") and an initialism ending a sentence ("...the
# U.S. Officials said..."). Split there unless the word is a lower-case abbreviation, or
# (after an initialism) unless the next word could continue a name ("U.S. Senate").
_LOWER_ABBREVIATIONS = frozenset(
    "etc vs approx incl est dept govt fig al ca cf no nos op vol pp ed eds jr sr st mr mrs ms "
    "dr gen col lt sgt rep sen gov".split()
)
_SENTENCE_STARTERS = frozenset(
    "the a an he she it they we i this that these those his her their its there here but and "
    "so yet or in on at for if when while after before as since although though however "
    "officials analysts experts critics police authorities residents lawmakers investors "
    "sources observers".split()
)
_MISSED_BREAK = re.compile(
    r"(?<=[a-z]{2}\.) (?=[A-Z][a-z])"  # "month. Taiwan"
    r"|(?<=\b[A-Z]\.[A-Z]\.) (?=[A-Z][a-z]+\b)"  # "U.S. Officials"
)


def _resplit(sentence: str) -> list[str]:
    out: list[str] = []
    start = 0
    for m in _MISSED_BREAK.finditer(sentence):
        before = sentence[start : m.start()].rsplit(" ", 1)[-1]
        after = sentence[m.end() :].split(" ", 1)[0]
        if before[-2].isupper():  # an initialism: only before a word that starts sentences
            if after.lower() not in _SENTENCE_STARTERS:
                continue
        elif before[:-1].lower() in _LOWER_ABBREVIATIONS or not before[:-1].isalpha():
            continue
        out.append(sentence[start : m.start()])
        start = m.end()
    out.append(sentence[start:])
    return out


# Splits Punkt makes that cut a sentence in two: after an initialism before a lower-case word
# ("three China-U.S. | joint communiqués"), and inside a quotation ("...said: “The U.S. Navy
# will sail. | We are ready.”"): a quoted sentence is quoted whole.
_INITIALISM_END = re.compile(r"(?:\b|-)(?:[A-Za-z]\.){2,}$")
_MAX_QUOTE_JOINS = 4  # a stray quote mark never glues a whole paragraph together
_MAX_QUOTE_CHARS = 1200


def quotes_balanced(text: str) -> bool:
    """Every double quotation opened in ``text`` is closed in it (and none closed unopened)."""
    return text.count("“") == text.count("”") and text.count('"') % 2 == 0


def _open_quote(text: str) -> bool:
    """A double quotation is still open at the end of ``text``."""
    return text.count("“") > text.count("”") or text.count('"') % 2 == 1


def _rejoin(parts: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(parts):
        current = parts[i]
        i += 1
        while i < len(parts) and _INITIALISM_END.search(current) and parts[i][:1].islower():
            current = f"{current} {parts[i]}"
            i += 1
        # Inside a quotation, a split after an initialism is Punkt's mistake ("...the three
        # China-U.S. | Officials..."): undo it. A quotation of several whole sentences stays
        # split (long units cost the summaries: DUC 2004 R2 10.15 -> 9.81 when joined); a
        # chat brief prefers a sentence whose quotation is whole (digests.multidoc).
        joined, j = current, i
        while (
            j < len(parts)
            and j - i < _MAX_QUOTE_JOINS
            and _open_quote(joined)
            and _INITIALISM_END.search(joined)
        ):
            joined = f"{joined} {parts[j]}"
            j += 1
        if j > i and len(joined) <= _MAX_QUOTE_CHARS:
            current, i = joined, j
        out.append(current)
    return out


@lru_cache(maxsize=4096)
def _sent_tokenize_cached(paragraph: str) -> tuple[str, ...]:
    # nupunkt is typed to return (sentence, score) pairs too; without scores it gives str.
    found = [str(s) for s in nupunkt.sent_tokenize(paragraph)]
    return tuple(_rejoin([part for s in found for part in _resplit(s)]))


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
