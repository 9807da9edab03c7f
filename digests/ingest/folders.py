"""Folder sources and the inbox: which folder a file belongs to (the most specific folder source
that contains it, else the inbox), how a folder's files are listed, and one process's reads of
its folders (:class:`FolderReads`)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from digests.config import Settings, SourceConfig, config_path
from digests.ingest.document import Listing, Mark, ingest, real_path
from digests.ingest.pipeline import IngestReport
from digests.store import Store


@dataclass(frozen=True, slots=True)
class _Folder:
    """A folder to read: its path, the source it belongs to (None: the inbox), what to skip."""

    path: Path
    source: SourceConfig | None
    exclude: tuple[Path, ...] = ()  # more specific folder sources inside this one

    @property
    def follow_symlinks(self) -> bool:
        return bool(self.source and self.source.follow_symlinks)

    @property
    def tags(self) -> tuple[str, ...]:
        return self.source.tags if self.source else ()


@dataclass(frozen=True, slots=True)
class _Marked:
    """The marks of the paths one listing found in a folder, to remember once they are in."""

    folder: Path
    marks: dict[str, Mark]
    whole: bool  # the whole folder was listed (else: paths a change event named)


class FolderReads:
    """One process's reads of its folders (``serve``: the watcher and the folder polls).

    Entered (``with reads:``) it is the turn to read: two readers never read a folder at once
    (each would store what the other did, and record the file a duplicate of itself). And it
    remembers each file's :func:`~digests.ingest.document.mark` (its ``stat``) as of the last
    read whose outcome the store recorded, so that a read of a whole folder passes over the
    files unchanged since whose row the store still has (counted unchanged, neither read nor
    reported again; a row another process took away, a replaced article's copy's, is read
    again): a trigger
    that comes while a read runs, or just after it, reads nothing new, and a bad file is
    reported once per change, not once per read. Files a change event names are always read.
    The marks are this process's: a new process reads every file once.
    """

    def __init__(self) -> None:
        self._turn = threading.Lock()
        self._lock = threading.Lock()
        self._marks: dict[Path, dict[str, Mark]] = {}  # folder -> its files' marks

    def __enter__(self) -> FolderReads:
        self._turn.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self._turn.release()

    def pass_over(
        self,
        folder: Path,
        listing: Listing,
        *,
        whole: bool,
        recorded: Callable[[Sequence[str]], Collection[str]],
    ) -> tuple[Listing, _Marked]:
        """``listing`` less the files unchanged since they were read (``whole``: a listing of
        the whole folder; else nothing is passed over), and the marks to remember after.

        Only files the store still has a row of (``recorded``: those of the locators it has)
        are passed over: a copy whose article another process replaced lost its row, and is
        read again (a JSON Lines file or a collection, whose rows are its members', is read
        at every whole read, as without marks)."""
        marks = listing.marks()
        if not whole:
            return listing, _Marked(folder, marks, whole)
        with self._lock:
            known = self._marks.get(folder, {})
            same = [locator for locator, found in marks.items() if known.get(locator) == found]
        kept = set(recorded(same)) if same else set()
        return listing.without(kept), _Marked(folder, marks, whole)

    def remember(self, marked: Sequence[_Marked], report: IngestReport) -> None:
        """The read of these listings is in the store (``report``: how it went): their files
        count as read. If it replaced an article, every file is read again next time: the
        copies of the article's text lost their rows, to be stored again when read."""
        if report.store_fault:
            return
        with self._lock:
            if report.replaced:
                self._marks.clear()
                return
            for one in marked:
                if one.whole:  # what is gone from the folder is forgotten
                    self._marks[one.folder] = one.marks
                else:
                    self._marks.setdefault(one.folder, {}).update(one.marks)


def folder_path(settings: Settings, source: SourceConfig) -> Path:
    """Where a folder source's files are (the one folder rule: digests.config.config_path)."""
    return real_path(config_path(settings.config_dir, source.location))


def watched_folders(settings: Settings) -> list[Path]:
    """The folders files are dropped into: the inbox and every folder source (resolved)."""
    return [f.path for f in _folders(settings)]


def _folders(settings: Settings) -> list[_Folder]:
    """Folder sources (most specific first), then the inbox; each excludes the ones inside it."""
    found: dict[Path, SourceConfig | None] = {}
    for source in settings.sources:
        if source.kind == "folder":
            found.setdefault(folder_path(settings, source), source)
    found.setdefault(real_path(settings.inbox), None)
    ordered = sorted(found, key=lambda p: (found[p] is None, -len(p.parts)))
    return [
        _Folder(path, found[path], tuple(o for o in found if o != path and o.is_relative_to(path)))
        for path in ordered
    ]


def _resolved(path: Path) -> Path:
    """An absolute path with its folders resolved (the file itself may be a symlink)."""
    absolute = Path(os.path.normpath(path.absolute()))
    return real_path(absolute.parent) / absolute.name


def _owner(folders: Sequence[_Folder], path: Path) -> _Folder | None:
    """The folder (source or inbox) a path given on the command line lies in, if any."""
    resolved = _resolved(path)
    return next((f for f in folders if resolved.is_relative_to(f.path)), None)


def _list(
    settings: Settings,
    path: Path,
    source: SourceConfig | None,
    exclude: Sequence[Path],
    *,
    within: Path | None = None,
) -> tuple[Listing, SourceConfig | None]:
    """The files under ``path`` as ``source`` reads them (its symlink rule), with it."""
    listing = ingest(
        [path],
        max_bytes=settings.max_file_bytes,
        follow_symlinks=bool(source and source.follow_symlinks),
        exclude=exclude,
        within=within,
    )
    return listing, source


def _recorded(store: Store) -> Callable[[Sequence[str]], Collection[str]]:
    """Which of some locators the store has a document row of (see FolderReads.pass_over)."""
    return lambda locators: store.articles.documents(locators).keys()


def _folder_of(folders: Sequence[_Folder], locator: str) -> _Folder | None:
    """The folder (source or inbox) a stored document's locator lies in, if any (its most
    specific one; a line's or a member's ``PATH#KEY`` lies where its file does)."""
    path = Path(locator)
    return next((f for f in folders if path.is_relative_to(f.path)), None)
