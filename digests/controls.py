"""The one control-character rule, for what the bot prints, logs and accepts as a command or
as a source (a name or URL in sources.toml or `sources add`).

A control character is one that can change how text is shown or read, rather than being
text: C0 controls except tab and newline, DEL, C1 controls (0x9b is a one-byte CSI on some
terminals), zero-width characters and marks, the line and paragraph separators, and the
bidirectional embeddings, overrides and isolates (text that reads differently than it is).
The terminal and the log strip them; chat commands containing one are refused.
"""

from __future__ import annotations

import re

CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


def strip_controls(text: str) -> str:
    """``text`` without control characters (tab and newline kept)."""
    return CONTROL.sub("", text)


def has_controls(text: str) -> bool:
    """True when ``text`` holds a control character (tab and newline are text)."""
    return CONTROL.search(text) is not None
