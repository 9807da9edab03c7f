"""What trails an article inside its own region: disclaimers, bios, language labels, comments.

These sit right after the last paragraph, often in the same column and written as prose,
so the classifier keeps them; each is recognised here by its general shape, never by site.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# "The views expressed in this article are solely those of the author ..."
_DISCLAIMER = re.compile(
    r"\b(?:views?|opinions?)\b[^.]{0,60}\b(?:expressed|stated|presented)\b"
    r"|\bdo(?:es)? not necessarily (?:reflect|represent)\b",
    re.I,
)
# "From English", "Translated from Russian", "Translation by Jane Doe"
_LANGUAGE = re.compile(
    r"^(?:(?i:translated\s+)?(?i:from)\s+(?:the\s+)?[A-Z][a-z]+|(?i:translat(?:ed|ion))\s+(?:from|by)\b.{0,60})\.?$"
)
# "Jane Doe is a senior fellow at ...", "John Smith has been covering ..."
_BIO_NAME = re.compile(
    r"^(?P<name>[A-Z][\w.'’-]+(?:\s+[A-Z][\w.'’-]+){1,3})\s+"
    r"(?:is|was|has been|serves as|writes|covers|teaches)\b"
)
_BIO_WORDS = re.compile(
    r"\b(?:professor|journalist|author of|writer|editor|analyst|columnist|fellow|researcher"
    r"|correspondent|contributor|reporter|lecturer|based in|follow (?:him|her|them))\b",
    re.I,
)
# "© 2024 Name", "Copyright 2024 Name. All rights reserved." (the bare word is not enough:
# an article may well end on a copyright case).
_COPYRIGHT_LINE = re.compile(
    r"©|\(c\)\s*\d{4}|\bcopyright\s*(?:©|\(c\))?\s*\d{4}|\ball rights reserved\b", re.I
)
_COPYRIGHT_MAX_WORDS = 20
# Prompts that open a comment section, and the header of one comment.
_COMMENT_PROMPT = re.compile(
    r"^(?:leave a (?:reply|comment)|post a comment|add (?:a )?comment|send (?:a )?comments?"
    r"|write a comment|show comments|view comments|join the (?:conversation|discussion)"
    r"|be the first to comment)\b"
    # A bare count is a section header only on a line of its own ("12 comments were filed"
    # is a sentence).
    r"|^(?:\d+\s+comments?|comments?\s*\(\d+\))\s*$",
    re.I,
)
_COMMENT_HEADER = re.compile(r"\d{1,2}:\d{2}\s*(?:[ap]\.?m\.?)?\s*(?:said|says|wrote)\s*:$", re.I)
_SHORT = 8
_BIO_MAX_WORDS = 80
_DISCLAIMER_MAX_WORDS = 60


def is_comment_start(text: str) -> bool:
    """True for a comment-section prompt ("Leave a Reply") or one comment's header."""
    if len(text.split()) > 3 * _SHORT:
        return False
    return bool(_COMMENT_PROMPT.match(text) and len(text.split()) <= _SHORT) or bool(
        _COMMENT_HEADER.search(text)
    )


def _is_bio(text: str, author: str | None) -> bool:
    match = _BIO_NAME.match(text)
    if not match or len(text.split()) > _BIO_MAX_WORDS:
        return False
    name = set(match.group("name").lower().split())
    by_author = bool(author and name & set(author.lower().split()))
    return by_author or bool(_BIO_WORDS.search(text))


def _is_trailer(text: str, author: str | None) -> bool:
    words = len(text.split())
    if words <= _DISCLAIMER_MAX_WORDS and _DISCLAIMER.search(text):
        return True
    if words <= 6 and _LANGUAGE.match(text):
        return True
    if words <= _COPYRIGHT_MAX_WORDS and _COPYRIGHT_LINE.search(text):
        return True
    return _is_bio(text, author)


def trim_tail(paragraphs: Sequence[str], author: str | None) -> list[str]:
    """``paragraphs`` without trailing disclaimers, bios, language labels and copyright lines."""
    out = list(paragraphs)
    # Keep at least one paragraph: a page that is all "trailer" is better kept than emptied.
    while len(out) > 1 and _is_trailer(out[-1], author):
        out.pop()
    return out
