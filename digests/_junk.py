"""Which sentences may never be quoted in a summary: captions, credits, links, fragments."""

from __future__ import annotations

import re

from digests.sentences import fold, words

MIN_WORDS = 5  # shorter than this is a fragment ("We were second best."), never a summary line
# Longer than this would fill a digest item on its own (and is often a run-on caption).
MAX_WORDS = 55

# Lines a page template adds around the story; matched at the start of a sentence.
_BOILERPLATE_START = re.compile(
    r"^\W*(read more|related|see also|more on this|click here|sign up|subscribe|follow us|"
    r"share this|advertisement|scroll down|watch:|video:|listen:|image copyright|image caption|"
    r"media caption|photo:|photograph:|picture:|pictured:|caption:|credit:|source:|"
    r"published:|updated:|last updated|copyright|all rights reserved|by \.|"
    r"this article|this story|download the|get the latest|recommended)",
    re.IGNORECASE,
)
# Credits and caption markers anywhere in the sentence (a new one needs its _CREDIT_HINTS entry).
_CREDIT = re.compile(
    r"(\((?:left|right|centre|center|above|below|top|bottom|inset|file photo|stock image)\)"
    r"|getty images|\bAP Photo\b|\bReuters/|\bAFP\b/|©|\(c\) \d{4}|all rights reserved"
    r"|\bphoto(?:graph)?s? (?:by|credit|courtesy)\b|\bimage:|\bpictures?:|\bcredit:)",
    re.IGNORECASE,
)
# Daily-Mail-style caption glued to the next sentence: "Terrified: Emma Jackson, 28, was ..."
# ("He said: We ..." is speech, not a caption.)
_CAPTION_LABEL = re.compile(
    r"^(?![A-Za-z]+ (?:said|says|added|told|wrote|asked|explained)\b)[A-Z][a-z]+(?: [a-z]+){0,2}: [A-Z]"
)
# What every match of _CREDIT contains, folded (digests.sentences.fold): a sentence without any
# of them is spared the pattern's scan, which tries each alternative at every position
# (~25 µs a sentence, a sixth of summarizing an article).
_CREDIT_HINTS = (
    *("(", "getty images", "ap photo", "reuters/", "afp/", "©", "all rights reserved"),
    *("photo", "image:", "picture", "credit:"),
)
_URL = re.compile(r"https?://|www\.\w|@\w{2,}\b.*\bon twitter", re.IGNORECASE)
_TERMINAL = re.compile(r"[.!?…][\"'”’)\]]*$")


def is_junk(sentence: str, *, whole_paragraph: bool = False) -> bool:
    """True for sentences a summary must never quote (captions, credits, links, fragments)."""
    n = len(words(sentence))
    if n < MIN_WORDS or n > MAX_WORDS:
        return True
    if _BOILERPLATE_START.search(sentence) or _CAPTION_LABEL.search(sentence):
        return True
    folded = fold(sentence)
    if any(hint in folded for hint in _CREDIT_HINTS) and _CREDIT.search(sentence):
        return True
    if ("http" in folded or "www." in folded or "@" in folded) and _URL.search(sentence):
        return True
    # A one-sentence paragraph without closing punctuation is a heading, caption or byline.
    return whole_paragraph and not _TERMINAL.search(sentence)
