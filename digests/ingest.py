"""Ingest stage: turn paths (files and folders) into RawDocuments, refusing bad files early.

Feeds and article URLs are fetched by digests.feeds / digests.fetch; they also yield
RawDocuments, so everything after this stage is the same whatever the source.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from digests.models import RawDocument

KINDS = {
    ".txt": "txt",
    ".html": "html",
    ".htm": "html",
    ".md": "md",
    ".markdown": "md",
    ".json": "json",
}
_SNIFF_BYTES = 8192


@dataclass(frozen=True, slots=True)
class IngestFailure:
    """An input that could not be read, and why (one line)."""

    locator: str
    reason: str


def ingest(paths: Sequence[Path], *, max_bytes: int) -> Iterator[RawDocument | IngestFailure]:
    """Yield a RawDocument per supported file under ``paths`` (files or folders), sorted.

    In a folder, files of other types and hidden files are ignored; a file named
    explicitly with an unsupported type is reported as a failure.
    """
    for path in paths:
        if path.is_dir():
            for child in sorted(_walk(path)):
                yield _read(child, max_bytes)
        elif path.exists():
            yield _read(path, max_bytes)
        else:
            yield IngestFailure(str(path), "no such file or folder")


def _walk(folder: Path) -> Iterator[Path]:
    for child in folder.rglob("*"):
        if any(part.startswith(".") for part in child.relative_to(folder).parts):
            continue
        if child.is_file() and child.suffix.lower() in KINDS:
            yield child


def _read(path: Path, max_bytes: int) -> RawDocument | IngestFailure:
    locator = str(path)
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        return IngestFailure(
            locator,
            f"unsupported file type {path.suffix or '(none)'!r}; "
            f"use one of {', '.join(sorted(KINDS))}",
        )
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return IngestFailure(
                locator, f"file is {size:,} bytes, over the {max_bytes:,}-byte limit"
            )
        content = path.read_bytes()
    except OSError as exc:
        return IngestFailure(locator, f"cannot read file: {exc.strerror or exc}")
    if not content.strip():
        return IngestFailure(locator, "file is empty")
    if b"\x00" in content[:_SNIFF_BYTES] and not content.startswith((b"\xff\xfe", b"\xfe\xff")):
        return IngestFailure(locator, "file looks binary (NUL bytes), not text")
    return RawDocument(locator=locator, kind=kind, content=content)
