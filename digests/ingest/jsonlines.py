"""JSON Lines: one JSON article a line (``.jsonl``, ``.ndjson``), each line its own document;
and JSON collections: several articles in one JSON value.

A line is an object in the form of a ``.json`` article file (``digests.extract`` reads it).
It is named by its string ``id`` when it has one, else by its line number, so that the
locator ``digestbot articles`` exports maps back to it. A bad line (not JSON, not an object,
over the size limit, an id an earlier line has with other content) is reported with its reason
and the rest go on; a line repeating an earlier one exactly is the same article, read once.

A *collection* is a JSON array of article objects, or an object with no text of its own whose
``articles``, ``docs`` or ``documents`` is one (NewsAPI's responses, an evaluation set's
events): a line or a ``.json`` file holding one is read as each of its articles, named by
each one's ``id`` (else ``LINE.N`` on a line, ``N`` in a file), with the same rules.

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
from digests.extract import NO_TEXT, json_body, json_text

SUFFIXES = frozenset({".jsonl", ".ndjson"})
COLLECTION_KEYS = ("articles", "docs", "documents")  # where an object lists its articles
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
    """Each non-blank line of ``file`` (opened in binary) as a Line, or a BadLine saying why not
    (a line holding a collection: each of its articles)."""
    return _unique(_file_lines(file, max_bytes))


def read_collection(content: bytes) -> Iterator[Line | BadLine] | None:
    """The articles of a ``.json`` file that holds a collection, one at a time (a BadLine's
    ``number`` is the article's place in it), or None: the file is one article (or not JSON
    at all, which reading it as one article says)."""
    start = content.lstrip()[:1]
    if start != b"[" and not (
        start == b"{" and any(f'"{k}"'.encode() in content for k in COLLECTION_KEYS)
    ):
        return None  # the common case, without parsing the file twice
    try:
        data = json.loads(content)
    except (ValueError, RecursionError):  # reading it as one article says what is wrong
        return None
    items = _collection(data)
    if items is None:
        return None
    found = ((n, _article(item, n, str(n))) for n, item in enumerate(items, 1))
    return _unique(found, what="article")


def _file_lines(file: BinaryIO, max_bytes: int) -> Iterator[tuple[int, Line | BadLine]]:
    number = 0
    while line := file.readline(max_bytes + 1):
        number += 1
        if len(line) > max_bytes and not line.endswith(b"\n"):
            _skip_rest(file)
            yield number, BadLine(number, f"the line is over the {max_bytes:,}-byte limit")
            continue
        if number == 1:
            line = line.removeprefix(codecs.BOM_UTF8)
        line = line.strip()
        if line:
            yield from ((number, found) for found in _parse(line, number))


def _unique(
    found: Iterator[tuple[int, Line | BadLine]], *, what: str = "line"
) -> Iterator[Line | BadLine]:
    """``found`` with each key kept by its first article: an exact repeat is the same article
    (a document listed under two events, read once), other content under it is refused."""
    keys: dict[str, tuple[int, int, bytes]] = {}  # key -> (its article's place, line, digest)
    for place, (number, item) in enumerate(found):
        if isinstance(item, BadLine):
            yield item
            continue
        digest = hashlib.blake2b(item.content, digest_size=16).digest()
        first, line, seen = keys.setdefault(item.key, (place, number, digest))
        if first == place:
            yield item
        elif seen != digest:
            yield BadLine(number, _taken(item, line, what, number))


def _parse(line: bytes, number: int) -> list[Line | BadLine]:
    try:
        data = json.loads(line)
    except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, too deep, too long
        return [BadLine(number, invalid_json(exc, within_line=True))]
    items = _collection(data)
    if items is not None:
        return [_article(item, number, f"{number}.{n}") for n, item in enumerate(items, 1)]
    if not isinstance(data, dict):
        return [BadLine(number, f"expected a JSON object, found {_json_type(data)}")]
    return [_keyed(data, line, number, str(number))]


def _collection(data: object) -> list[object] | None:
    """The articles ``data`` lists, if it is a collection (see the module docstring)."""
    if isinstance(data, list):
        return data
    # A "description" beside the list describes the collection, not an article's text.
    if isinstance(data, dict) and json_text({**data, "description": None}) is None:
        for key in COLLECTION_KEYS:
            items = data.get(key)
            if isinstance(items, list):
                return items
    return None


def _article(item: object, number: int, place: str) -> Line | BadLine:
    """One article of a collection (``place``: its name when it has no id of its own)."""
    if not isinstance(item, dict):
        return BadLine(number, f"article {place}: expected a JSON object, found {_json_type(item)}")
    return _keyed(item, json.dumps(item, ensure_ascii=False).encode(), number, place)


def _keyed(data: dict[str, object], content: bytes, number: int, place: str) -> Line | BadLine:
    # Said here, as extraction would: 1.6M `{}` members of a 4.8 MB list, each made a
    # document and extracted, took 97 s and 914 MB.
    if not json_body(data):
        return BadLine(number, NO_TEXT if place == str(number) else f"article {place}: {NO_TEXT}")
    given = data.get("id")
    if not isinstance(given, str) or not given.strip():
        return Line(place, content, by_id=False)
    key = given.strip()
    if len(key) > ID_MAX:
        return BadLine(number, f"its id is over {ID_MAX} characters")
    return Line(key, content)


def _taken(line: Line, first: int, what: str, number: int) -> str:
    """Why an article whose key an earlier one has is refused (``what``: line or article;
    ``number``: its own line, or place in the file)."""
    if not line.by_id and line.key != str(number):  # an article of a list on line ``number``
        place = line.key.partition(".")[2]
        return (
            f"article {place} of this line is named {line.key} by its place, "
            f"{what} {first}'s id; give it an id"
        )
    if not line.by_id:  # named by its place, which is an earlier article's id
        return f"its {what} number is {what} {first}'s id; give this {what} an id"
    return f"id {line.key!r} is {what} {first}'s already (an id names one {what} of the file)"


def _skip_rest(file: BinaryIO) -> None:
    """Read past the rest of a line (in bounded pieces)."""
    while (piece := file.readline(_SKIP)) and not piece.endswith(b"\n"):
        pass


def _json_type(value: object) -> str:
    names = {list: "a list", str: "a string", bool: "true or false", type(None): "null"}
    return names.get(type(value), "a number")
