"""Free-text queries (``brief "EU OR NATO"``): words, and OR between alternatives.

``OR`` (any case) or ``|`` between words separates alternatives; the words of one alternative
are all wanted. OR binds loosest, as in SQLite FTS5 and PostgreSQL's ``websearch_to_tsquery``:
``EU NATO OR UN`` is (EU and NATO) or UN. An OR with nothing on one side is dropped; a query
of nothing but ORs is taken as words. Words keep the case they were typed in, so a reader can
tell the acronym "US" from the word "us" (the databases' indexes cannot: both fold case).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_WORDS = 12  # words searched for; the rest of a long query is ignored
_TOKEN = re.compile(r"\w+|\|", re.UNICODE)
# Words that say nothing about a topic, dropped when a brief looks for sentences mentioning
# the query (not by length: "EU", "UN", "AI" and "us" are two letters and mean something).
_FUNCTION_WORDS = frozenset(
    "a an and are as at be by for from has have in is it its of on or than that the their "
    "this to was were what whats when where which who why will with about after before news "
    "latest how".split()
)


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query: alternatives (OR), each a tuple of words wanted together."""

    groups: tuple[tuple[str, ...], ...]

    @property
    def words(self) -> tuple[str, ...]:
        """Every word of every alternative, in order (as typed)."""
        return tuple(w for group in self.groups for w in group)

    @property
    def content_words(self) -> tuple[str, ...]:
        """The words that name the topic: function words left out unless typed in capitals
        ("OR" as a word, "IT"); all words if that leaves none."""
        kept = tuple(w for w in self.words if w.isupper() or w.lower() not in _FUNCTION_WORDS)
        return kept or self.words


def parse_query(text: str) -> Query:
    """Split ``text`` into OR-separated alternatives of words (at most :data:`MAX_WORDS`)."""
    tokens = _TOKEN.findall(text)
    groups: list[tuple[str, ...]] = []
    current: list[str] = []
    for token in tokens:
        if token == "|" or token.lower() == "or":
            if current:
                groups.append(tuple(current))
            current = []
        else:
            current.append(token)
    if current:
        groups.append(tuple(current))
    if not groups:  # "OR" alone: a word, not an operator
        words = [t for t in tokens if t != "|"]
        groups = [tuple(words)] if words else []
    capped: list[tuple[str, ...]] = []
    room = MAX_WORDS
    for group in groups:
        if room <= 0:
            break
        capped.append(group[:room])
        room -= len(capped[-1])
    return Query(tuple(capped))


__all__ = ["MAX_WORDS", "Query", "parse_query"]
