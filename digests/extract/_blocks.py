"""Split a browser-style text dump into blocks: reflowed paragraphs, list items, headings.

Two dump styles exist: lynx's (wrapped at ~80 columns, paragraphs indented, list items
marked ``*``/``+``/``o``) and "unwrapped" dumps where every paragraph is one line and list
items start with ``•``. Wrapped lines are joined back into one block only when the
previous line was full enough that the next word could not have fit: that keeps short
stacked lines (bylines, dates, menu entries) apart, which is what the classifier needs.
"""

from __future__ import annotations

from dataclasses import dataclass

_BULLETS = frozenset("*+o#•-–·▪◦")
# Markers that also start ordinary words or dashes: a wrapped line may begin with them.
_AMBIGUOUS = frozenset("o-–#")
_UNWRAPPED_LINE = 100  # a lynx -width=80 dump never has lines this long (bar URLs)


@dataclass(slots=True)
class Block:
    """One paragraph-like unit of a text dump."""

    text: str
    indent: int
    bullet: bool
    lines: int
    blank_before: bool


def _split_bullet(stripped: str) -> tuple[bool, str]:
    # "* text", "• text", "+ text", "o text" (lynx's third level) and a lone "*".
    if stripped and stripped[0] in _BULLETS:
        if len(stripped) == 1:
            return True, ""
        if stripped[1] == " ":
            rest = stripped[1:].lstrip()
            # A nested "• • LIVE" keeps its inner marker out of the text.
            while rest[:1] in _BULLETS and rest[1:2] == " ":
                rest = rest[1:].lstrip()
            return True, rest
    return False, stripped


def _wrap_width(lines: list[str]) -> int | None:
    """The column a wrapped dump breaks at, or None for an unwrapped dump."""
    lengths = sorted(len(line.rstrip()) for line in lines if line.strip())
    if not lengths:
        return None
    long_lines = sum(1 for n in lengths if n > _UNWRAPPED_LINE)
    if long_lines >= 3 or long_lines > len(lengths) * 0.05:
        return None
    # The 98th percentile of line lengths is a robust estimate of the wrap column.
    return lengths[int(len(lengths) * 0.98) - 1 if len(lengths) > 1 else 0]


def split_blocks(text: str) -> list[Block]:
    """Reflow ``text`` (a page text dump) into blocks in page order."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ").split("\n")
    width = _wrap_width(lines)
    blocks: list[Block] = []
    cur: Block | None = None
    prev_len = 0
    blank = True
    for raw in lines:
        line = raw.rstrip().replace("\xa0", " ")
        stripped = line.lstrip()
        if not stripped:
            cur = None
            blank = True
            continue
        indent = len(line) - len(stripped)
        bullet, body = _split_bullet(stripped)
        if (
            cur is not None
            and width is not None
            and (not bullet or stripped[0] in _AMBIGUOUS)
            and body
            # Continuation lines keep the text column: same indent, or the bullet's text column.
            and (indent == cur.indent or (cur.bullet and indent == cur.indent + 2))
            and prev_len + 1 + len(stripped.split(" ", 1)[0]) > width - 2
        ):
            body = stripped if bullet else body
            cur.text = f"{cur.text} {body}" if cur.text else body
            cur.lines += 1
            prev_len = len(line)
            continue
        cur = Block(text=body, indent=indent, bullet=bullet, lines=1, blank_before=blank)
        blocks.append(cur)
        prev_len = len(line)
        blank = False
    for block in blocks:
        block.text = " ".join(block.text.split())
    return [b for b in blocks if b.text]
