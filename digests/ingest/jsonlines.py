"""JSON Lines: one JSON article a line (``.jsonl``, ``.ndjson``), each line its own document.

A line is an object in the form of a ``.json`` article file (``digests.extract`` reads it).
It is named by its string ``id`` when it has one, else by its line number, so that the
locator ``digestbot articles`` exports maps back to it. A bad line (not JSON, not an object,
over the size limit, an id an earlier line has with other content) is reported with its reason
and the rest go on; a line repeating an earlier one exactly is the same article, read once.

The file is read a line at a time: ``max_bytes`` bounds each line, not the file, and what is
kept besides the line being read is each line's id and a 16-byte digest of it (to refuse a
repeated id), at most :data:`ID_MAX` characters each.
"""

from __future__ import annotations

import codecs
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from digests.errors import invalid_json

SUFFIXES = frozenset({".jsonl", ".ndjson"})
ID_MAX = 200  # characters: an id is part of a locator, printed and stored with every line
_SKIP = 1 << 16  # bytes read at a time past the end of a line that is too long


@dataclass(frozen=True, slots=True)
class Line:
    """A line to ingest: its key (its id, else its line number) and its JSON text."""

    key: str
    content: bytes
    by_id: bool = True


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that cannot be ingested, and why (one line)."""

    number: int
    reason: str


def read_lines(file: BinaryIO, *, max_bytes: int) -> Iterator[Line | BadLine]:
    """Each non-blank line of ``file`` (opened in binary) as a Line, or a BadLine saying why not."""
    keys: dict[str, tuple[int, bytes]] = {}  # key -> the line that has it, and its digest
    number = 0
    while line := file.readline(max_bytes + 1):
        number += 1
        if len(line) > max_bytes and not line.endswith(b"\n"):
            _skip_rest(file)
            yield BadLine(number, f"the line is over the {max_bytes:,}-byte limit")
            continue
        if number == 1:
            line = line.removeprefix(codecs.BOM_UTF8)
        line = line.strip()
        if not line:
            continue
        found = _parse(line, number)
        if isinstance(found, BadLine):
            yield found
            continue
        digest = hashlib.blake2b(line, digest_size=16).digest()
        first, seen = keys.setdefault(found.key, (number, digest))
        if first == number:
            yield found
        elif seen != digest:
            yield BadLine(number, _taken(found, first))
        # else: the same article again (a document listed under two events): stored once


def _parse(line: bytes, number: int) -> Line | BadLine:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        return BadLine(number, invalid_json(exc, within_line=True))
    except UnicodeDecodeError:
        return BadLine(number, "not UTF-8 text")
    except (ValueError, RecursionError) as exc:  # a number too long, nesting too deep
        return BadLine(number, f"invalid JSON ({type(exc).__name__}: {exc})")
    if not isinstance(data, dict):
        return BadLine(number, f"expected a JSON object, found {_json_type(data)}")
    given = data.get("id")
    if not isinstance(given, str) or not given.strip():
        return Line(str(number), line, by_id=False)
    key = given.strip()
    if len(key) > ID_MAX:
        return BadLine(number, f"its id is over {ID_MAX} characters")
    return Line(key, line)


def _taken(line: Line, first: int) -> str:
    """Why a line whose key an earlier line has is refused."""
    if not line.by_id:  # named by its line number, which is an earlier line's id
        return f"its line number is line {first}'s id; give this line an id"
    return f"id {line.key!r} is line {first}'s already (an id names one line of the file)"


def _skip_rest(file: BinaryIO) -> None:
    """Read past the rest of a line (in bounded pieces)."""
    while (piece := file.readline(_SKIP)) and not piece.endswith(b"\n"):
        pass


def _json_type(value: object) -> str:
    names = {list: "a list", str: "a string", bool: "true or false", type(None): "null"}
    return names.get(type(value), "a number")
