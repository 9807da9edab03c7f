"""Ingest stage: turn paths (files and folders) into RawDocuments, refusing bad files early.

Feeds and article URLs are fetched by digests.ingest.feeds / digests.net.fetch; they also yield
RawDocuments, so everything after this stage is the same whatever the source. Folders are
listed first and their files read one at a time as the caller reaches them: a run holds the
documents it is working on, never a whole folder.

Hostile files are refused with one line each, never followed into a hang or outside the
folder: anything but a regular file (a FIFO, a socket, a device) is refused from its
``stat`` without being opened; a symlink that leads outside the folder being read is refused
unless the source allows it (``follow_symlinks = true``), and so is a symlink loop (a folder
reached twice, through a symlink, is read once); a file is opened non-blocking, and
without following a symlink that was not there when the folder was listed, and read to at
most ``max_bytes`` (a JSON Lines file a line at a time, each line to at most ``max_bytes``);
NUL bytes anywhere mean binary, not text.
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import os
import stat
import threading
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from digests.ingest import jsonlines
from digests.models import RawDocument

KINDS = {
    ".txt": "txt",
    ".html": "html",
    ".htm": "html",
    ".md": "md",
    ".markdown": "md",
    ".json": "json",
}
# What a folder's scan reads: the kinds above, and JSON Lines files (digests.ingest.jsonlines:
# one .json article a line, each its own document).
READABLE = frozenset(KINDS) | jsonlines.SUFFIXES
# Documents people drop into a folder that digestbot cannot read: said with a one-line reason
# (other unknown files — editor backups, downloads in progress, .DS_Store — are left alone
# quietly): office and print formats, data tables and markup, saved mail and web archives.
UNREADABLE_DOCUMENTS = frozenset(
    {
        *(".pdf", ".ps", ".djvu", ".epub", ".rtf", ".doc", ".docx", ".odt", ".pages", ".wpd"),
        *(".ppt", ".pptx", ".odp", ".xls", ".xlsx", ".ods", ".numbers"),
        *(".csv", ".tsv", ".xml", ".rst", ".tex", ".eml", ".msg", ".mht", ".mhtml"),
    }
)
_WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_CHUNK = 1 << 16
# Failures of one file's documents (JSON Lines lines, a collection's articles) reported one
# by one; past these, one line counts the rest (FailureLimit). A file that is not JSON Lines at
# all (a CSV renamed .jsonl) was a line on stderr and a row in the database for each of its
# lines: 2 MB of them, 1M lines, ran past 3 minutes. Lines that parse but hold no article
# (3,000 `{}`) fail later, at extract: the limit is applied where failures are reported.
BAD_LINES_SHOWN = 20
_LOOP = "symlink loop (the link leads back to itself)"


@dataclass(frozen=True, slots=True)
class IngestFailure:
    """An input that could not be read, and why (one line)."""

    locator: str
    reason: str
    part_of: str | None = None  # the file it is a line or article of (see RawDocument)
    # The SHA-256 of what was read, when the file was read whole and refused for what it
    # holds (binary, empty, a list of no articles): the failure is remembered against it, as
    # one found later is against its document's (digests.ingest.pipeline). "": not read.
    content_hash: str = ""


class FailureLimit:
    """Which failures to report one by one: a file's first :data:`BAD_LINES_SHOWN` failed
    documents (its lines or articles, whatever failed them: not JSON, no text, a repeated id),
    then :meth:`summaries` says how many more, one line a file. Failures of documents that
    are not part of a file (a file's own, a feed entry's) are all shown.

    Asking again about a shown locator (a failure reported at a second stage) counts it once.
    Safe to share between threads (an ingest stores in a thread of its own).
    """

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._shown: dict[str, set[str]] = {}
        self._left_out: dict[str, int] = {}  # counted by left_out (one thread), no lock
        self._lock = threading.Lock()

    def shown(self, part_of: str | None, locator: str) -> bool:
        """Whether this failure is reported (and recorded) on its own; counts it."""
        if part_of is None:
            return True
        with self._lock:
            shown = self._shown.setdefault(part_of, set())
            if locator in shown:
                return True
            count = self._counts[part_of] = self._counts.get(part_of, 0) + 1
            if count > BAD_LINES_SHOWN:
                return False
            shown.add(locator)
            return True

    def left_out(self, failure: IngestFailure) -> bool:
        """Whether ``failure`` is one its file's limit already leaves out (it is counted): it
        need go no further. A file of a million lines that are not JSON took twice as long
        when each went through the pipeline's batches."""
        part_of = failure.part_of
        if part_of is None:
            return False
        shown = self._shown.get(part_of, ())  # only ever grows, to BAD_LINES_SHOWN
        if len(shown) < BAD_LINES_SHOWN or failure.locator in shown:
            return False
        self._left_out[part_of] = self._left_out.get(part_of, 0) + 1
        return True

    def summaries(self) -> list[IngestFailure]:
        """One failure per file with more than were shown, located at the file: the count."""
        with self._lock:
            counts = [(f, n + self._left_out.get(f, 0)) for f, n in self._counts.items()]
        return [
            IngestFailure(
                file,
                f"{count - BAD_LINES_SHOWN:,} more bad "
                f"{'lines' if _is_lines(Path(file)) else 'articles'} "
                f"(of {count:,}; the first {BAD_LINES_SHOWN} are listed)",
            )
            for file, count in counts
            if count > BAD_LINES_SHOWN
        ]


def ingest(
    paths: Sequence[Path],
    *,
    max_bytes: int,
    follow_symlinks: bool = False,
    exclude: Sequence[Path] = (),
    within: Path | None = None,
) -> Listing:
    """The supported files under ``paths`` (files or folders), sorted, to be read one at a time.

    Folders are listed now; files are read as the result is iterated, one RawDocument each
    (a JSON Lines file: one a line, located ``PATH#ID`` or ``PATH#N``; a bad line is a
    failure located ``PATH:N``; a line or ``.json`` file holding a list of articles: one an
    article, see digests.ingest.jsonlines). Each of those is ``part_of`` its file, and every
    one of them is yielded: whoever reports failures limits them (:class:`FailureLimit`).
    In a folder, files of other types and hidden files are ignored, and so are the folders
    in ``exclude`` (read as other sources); a file named explicitly with an unsupported type
    is reported as a failure. Symlinks may not lead outside the folder being read (or
    ``within``, for a file named explicitly) unless ``follow_symlinks``.
    """
    found: list[_Found] = []
    for path in paths:
        try:
            info = path.stat()
        except FileNotFoundError:
            found.append(_Found(path, IngestFailure(path_text(path), _missing(path))))
            continue
        except OSError as exc:
            why = _LOOP if exc.errno == errno.ELOOP else f"cannot read: {exc.strerror or exc}"
            found.append(_Found(path, IngestFailure(path_text(path), why)))
            continue
        if stat.S_ISDIR(info.st_mode):
            root = real_path(path)
            skip = {real_path(p) for p in exclude}
            listed = sorted(_walk(path, root, follow_symlinks, skip), key=lambda x: x[0])
            found += [_Found(child, failure, root) for child, failure in listed]
        else:
            found.append(_Found(path, None, within))
    return Listing(tuple(found), max_bytes, follow_symlinks)


@dataclass(frozen=True, slots=True)
class _Found:
    """A file to read (inside ``within``, for the symlink rule), or why it is refused."""

    path: Path
    failure: IngestFailure | None = None
    within: Path | None = None


@dataclass(frozen=True, slots=True)
class Listing:
    """The files :func:`ingest` found, read one at a time as this is iterated: a run holds
    the documents it is working on, never a whole folder."""

    found: tuple[_Found, ...]
    max_bytes: int
    follow_symlinks: bool

    def __iter__(self) -> Iterator[RawDocument | IngestFailure]:
        for f in self.found:
            if f.failure:
                yield f.failure
            elif _is_lines(f.path):
                yield from _lines(
                    f.path, self.max_bytes, within=f.within, follow=self.follow_symlinks
                )
            else:
                found = _read(f.path, self.max_bytes, within=f.within, follow=self.follow_symlinks)
                yield from _articles(found)

    def count(self) -> int:
        """About how many documents iterating yields, for a progress bar: one a file, and
        a JSON Lines file's lines (counted by reading it through, in bounded memory)."""
        return sum(
            _line_count(f.path, within=f.within, follow=self.follow_symlinks)
            if f.failure is None and _is_lines(f.path)
            else 1
            for f in self.found
        )

    def marks(self) -> dict[str, Mark]:
        """Each listed path's :func:`mark` now, by locator (one ``stat`` a file, none read)."""
        out = {}
        for f in self.found:
            if (found := mark(f.path)) is not None:
                out[path_text(f.path)] = found
        return out

    def without(self, locators: Collection[str]) -> Listing:
        """This listing less the paths of ``locators`` (they are not read)."""
        kept = tuple(f for f in self.found if path_text(f.path) not in locators)
        return replace(self, found=kept)


# What a path is and holds as far as ``stat`` tells: device, inode, type, size, modified and
# changed (ns) — of a symlink, and of what it leads to (None: nothing). Another mark: it changed.
Mark = tuple[tuple[int, ...], tuple[int, ...] | None]


def mark(path: Path) -> Mark | None:
    """``path``'s :data:`Mark`, without opening it; None if it cannot be ``stat``'ed at all."""
    try:
        own = os.lstat(path)
    except OSError:
        return None
    target: os.stat_result | None = own
    if stat.S_ISLNK(own.st_mode):
        try:
            target = os.stat(path)
        except OSError:  # broken, or a loop
            target = None
    return _stat_mark(own), None if target is None else _stat_mark(target)


def _stat_mark(info: os.stat_result) -> tuple[int, ...]:
    return (
        info.st_dev, info.st_ino, info.st_mode, info.st_size, info.st_mtime_ns, info.st_ctime_ns
    )  # fmt: skip


def _missing(path: Path) -> str:
    return "broken symlink" if path.is_symlink() else "no such file or folder"


def path_text(path: Path) -> str:
    """``path`` as text any store and terminal can hold: its locator. A byte of a file name
    that is not UTF-8 (Python keeps it as a lone surrogate, which no UTF-8 encoder takes, so
    the database refused the whole batch) is written as ``\\xff``; the file is still read
    through its real ``Path``."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    return text


def real_path(path: Path) -> Path:
    """``path`` with its symlinks resolved as far as they go. Never raises: a symlink loop
    (``Path.resolve`` raises RuntimeError on Python 3.11) is left for a ``stat`` to find."""
    return Path(os.path.realpath(path))


def _is_dir(entry: os.DirEntry[str]) -> bool:
    """Whether a listed entry is (or leads to) a folder; a symlink loop is not."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def _walk(
    folder: Path, root: Path, follow: bool, skip: set[Path]
) -> Iterator[tuple[Path, IngestFailure | None]]:
    """Supported files under ``folder`` (and why a listed one is refused), never looping."""
    seen: set[tuple[int, int]] = set()
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            info = current.stat()
            if (info.st_dev, info.st_ino) in seen:
                continue  # a symlinked folder already read: no loops, no duplicates
            seen.add((info.st_dev, info.st_ino))
            entries = list(os.scandir(current))
        except OSError as exc:
            yield current, IngestFailure(path_text(current), f"cannot list: {exc.strerror or exc}")
            continue
        for entry in entries:
            child = Path(entry.path)
            if entry.name.startswith(".") or real_path(child) in skip:
                continue
            if entry.is_symlink():
                refused = _symlink_refusal(child, root, follow)
                if _is_dir(entry):
                    if refused:
                        yield child, IngestFailure(path_text(child), refused)
                    else:
                        stack.append(child)
                elif child.suffix.lower() in READABLE:
                    yield child, IngestFailure(path_text(child), refused) if refused else None
            elif entry.is_dir(follow_symlinks=False):
                stack.append(child)
            elif child.suffix.lower() in READABLE:
                yield child, None  # _read refuses anything that is not a regular file
            elif child.suffix.lower() in UNREADABLE_DOCUMENTS:
                yield child, IngestFailure(path_text(child), _unsupported(child))


def _symlink_refusal(link: Path, root: Path, follow: bool) -> str | None:
    """Why a symlink inside ``root`` is refused (None: it may be read)."""
    try:
        link.stat()
    except OSError as exc:
        return _LOOP if exc.errno == errno.ELOOP else "broken symlink"
    target = real_path(link)
    if follow or target.is_relative_to(root):
        return None
    return (
        f"symlink leads outside the folder (to {path_text(target)}); "
        "set follow_symlinks = true on the source to allow it"
    )


def _unsupported(path: Path) -> str:
    return (
        f"unsupported file type {path.suffix or '(none)'!r}; "
        f"use one of {', '.join(sorted(READABLE))} (save it as text or HTML)"
    )


def _read(
    path: Path, max_bytes: int, *, within: Path | None = None, follow: bool = False
) -> RawDocument | IngestFailure:
    locator = path_text(path)
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        return IngestFailure(locator, _unsupported(path))
    try:
        fd = _open(path, within=within, follow=follow)
        try:
            size = os.fstat(fd).st_size
            if size > max_bytes:
                return IngestFailure(
                    locator, f"file is {size:,} bytes, over the {max_bytes:,}-byte limit"
                )
            content = _read_bounded(fd, max_bytes)
        finally:
            os.close(fd)
    except _Refused as exc:
        return IngestFailure(locator, str(exc))
    except OSError as exc:
        return IngestFailure(locator, f"cannot read file: {exc.strerror or exc}")
    if not content.strip():
        return IngestFailure(locator, "file is empty", content_hash=content_hash(content))
    if b"\x00" in content and not content.startswith(_WIDE_BOMS):
        return IngestFailure(locator, _binary(content), content_hash=content_hash(content))
    return RawDocument(locator=locator, kind=kind, content=content)


def content_hash(content: bytes) -> str:
    """What an input's content is remembered by (the ``documents`` row's hash)."""
    return hashlib.sha256(content).hexdigest()


def _articles(found: RawDocument | IngestFailure) -> Iterator[RawDocument | IngestFailure]:
    """A read file as its documents: a ``.json`` file holding a collection (a list of
    articles: digests.ingest.jsonlines) is one a member, located ``PATH#ID`` or ``PATH#N``."""
    items = (
        jsonlines.read_collection(found.content)
        if isinstance(found, RawDocument) and found.kind == "json"
        else None
    )
    if items is None:
        yield found
        return
    assert isinstance(found, RawDocument)
    file, empty = found.locator, True
    for item in items:  # one at a time: the list may hold millions
        empty = False
        if isinstance(item, jsonlines.BadLine):
            yield IngestFailure(f"{file}#{item.number}", item.reason, part_of=file)
        else:
            yield RawDocument(f"{file}#{item.key}", "json", item.content, part_of=file)
    if empty:
        yield IngestFailure(
            file, "the JSON list holds no articles", content_hash=content_hash(found.content)
        )


def _is_lines(path: Path) -> bool:
    return path.suffix.lower() in jsonlines.SUFFIXES


def _lines(
    path: Path, max_bytes: int, *, within: Path | None, follow: bool
) -> Iterator[RawDocument | IngestFailure]:
    """Each line of a JSON Lines file as a ``json`` document, read a line at a time (the
    file's size is not limited, each line's is: see digests.ingest.jsonlines)."""
    locator = path_text(path)
    try:
        fd = _open(path, within=within, follow=follow)
    except _Refused as exc:
        yield IngestFailure(locator, str(exc))
        return
    except OSError as exc:
        yield IngestFailure(locator, f"cannot read file: {exc.strerror or exc}")
        return
    try:
        head = os.read(fd, _CHUNK)  # the file's start, read again as its first lines
        os.lseek(fd, 0, os.SEEK_SET)
    except OSError as exc:
        os.close(fd)
        yield IngestFailure(locator, f"cannot read file: {exc.strerror or exc}")
        return
    if head.startswith(_WIDE_BOMS):
        os.close(fd)
        yield IngestFailure(locator, "JSON Lines must be UTF-8 (this is UTF-16 or UTF-32)")
        return
    if b"\x00" in head:  # a binary file: one line for it, not one per "line"
        os.close(fd)
        yield IngestFailure(locator, _binary(head))
        return
    empty = True
    with open(fd, "rb", buffering=_CHUNK) as file:
        try:
            for line in jsonlines.read_lines(file, max_bytes=max_bytes):
                empty = False
                if isinstance(line, jsonlines.BadLine):
                    yield IngestFailure(f"{locator}:{line.number}", line.reason, part_of=locator)
                else:
                    yield RawDocument(
                        f"{locator}#{line.key}", "json", line.content, part_of=locator
                    )
        except OSError as exc:  # the lines before it are in: say where it stopped
            yield IngestFailure(locator, f"cannot read file: {exc.strerror or exc}")
            return
    if empty:
        yield IngestFailure(locator, "file is empty")


def _line_count(path: Path, *, within: Path | None, follow: bool) -> int:
    """The lines of a JSON Lines file (blank ones too), counted in pieces; 1 if unreadable."""
    try:
        fd = _open(path, within=within, follow=follow)
    except (_Refused, OSError):
        return 1
    lines, last = 0, b"\n"
    try:
        while piece := os.read(fd, _CHUNK):
            lines += piece.count(b"\n")
            last = piece[-1:]
    except OSError:
        pass
    finally:
        os.close(fd)
    return max(1, lines + (last != b"\n"))


def _binary(content: bytes) -> str:
    at = content.index(b"\x00")
    return f"file looks binary (a NUL byte at offset {at:,}), not text"


class _Refused(Exception):
    """A file that may not be read (the one-line reason), or one that changed between its
    check and its read into something not readable."""


def _open(path: Path, *, within: Path | None, follow: bool) -> int:
    """A descriptor to read ``path`` with, after the checks the module doc lists (the caller
    closes it); raises _Refused with the reason, or OSError."""
    link = path.is_symlink()
    if link and within is not None and (why := _symlink_refusal(path, within, follow)):
        raise _Refused(why)
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):  # a FIFO would block the open itself: never open
        raise _Refused(f"not a regular file ({_file_type(info.st_mode)})")
    # Non-blocking, and no symlink swapped in after the listing (O_NOFOLLOW): defence in
    # depth behind the stat check above.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not link:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _Refused("not a regular file")
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read_bounded(fd: int, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while chunk := os.read(fd, _CHUNK):
        total += len(chunk)
        if total > max_bytes:  # it grew since the stat
            raise _Refused(f"file is over the {max_bytes:,}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _file_type(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a folder"),
    ):
        if test(mode):
            return name
    return "not a file"
