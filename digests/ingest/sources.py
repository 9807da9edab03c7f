"""The ingest use case: bring the store up to date from the inbox and the configured sources.

Every front end calls this module and nothing below it: the CLI (``digestbot ingest`` and the
refresh every command does first) through :func:`ingest_sources`, the scheduler's poll jobs
(and later database-claimed polling) through :func:`poll_source`. The rules live here once:

* **Folders.** A folder source's path is read by :func:`digests.config.config_path`. A file
  belongs to the most specific folder source that contains it (the inbox is the fallback),
  so overlapping folders never ingest a file twice or under the wrong source.
* **Tags.** A source's ``tags`` reach every document it yields (files, feed entries, pages),
  whichever path ingested it: :func:`_tagged` is the one place they are applied, declared by
  the source (stored with its name: no re-tag by the topics takes them off). When a source's
  tags change, its stored articles no digest has shown yet are re-tagged the next time it is
  read or polled (:func:`_retag`), whatever its kind.
* **One fetcher.** A long-running caller (``serve``) owns one :class:`~digests.net.fetch.Fetcher`
  per process and passes it in, so the per-host politeness limit and the connection pool are
  shared by every poll; a one-off run (the CLI) passes none and :func:`ingest_sources` makes
  one only when a feed or page is due (the HTTP and feed libraries are imported then, not at
  start). :func:`make_fetcher` builds it from config.
* **Reading a folder once.** A long-running caller also keeps one :class:`FolderReads`: its
  readers of the folders (``serve``'s watcher and folder polls) take turns with it, and a
  read of a whole folder passes over the files unchanged since the last read the store
  recorded. A one-off run keeps none and reads every file.

Feeds and pages are fetched concurrently and then stored one by one (the store is written
from the calling thread only); each source records its health, and one failing source never
stops the others.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from digests.config import Settings, SourceConfig, config_path
from digests.errors import DigestError, Stopped
from digests.ingest.document import IngestFailure, Listing, Mark, ingest, real_path
from digests.ingest.pipeline import IngestReport, PipelineOptions, run
from digests.models import RawDocument, SourceKind
from digests.net.util import locator_of, source_name
from digests.sealing import MISSING_KEY
from digests.store import Store
from digests.store.sources import Health, SourceState

if TYPE_CHECKING:  # feedparser and httpx load only when a feed or page is polled
    from digests.ingest.feeds import Harvest
    from digests.net.fetch import Fetcher

__all__ = [
    "FolderReads",
    "IngestPlan",
    "SourceReport",
    "due_sources",
    "folder_path",
    "ingest_folders",
    "ingest_sources",
    "make_fetcher",
    "pipeline_options",
    "plan_ingest",
    "poll_source",
    "watched_folders",
]

log = logging.getLogger(__name__)
_POLL_THREADS = 8  # sources fetched at once (the fetcher also limits each host to two)
Progress = Callable[[str], None]
Document = RawDocument | IngestFailure


@dataclass(slots=True)
class SourceReport(IngestReport):
    """What one poll of one source did; ``error`` says why the source itself failed."""

    source: str = ""
    error: str | None = None
    # How the poll went, for the source's row; written by poll_source unless the caller
    # records it itself (the Poller writes it with the claim's release: one statement).
    health: Health | None = None


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


@dataclass(slots=True)
class IngestPlan:
    """What one ingest run will read: the files found (each listing with the source whose tags
    its files get; None: the inbox), folder sources, due remote sources; with a
    :class:`FolderReads`, the files passed over (unchanged since they were read) and what to
    remember once the read is stored."""

    files: list[tuple[Listing, SourceConfig | None]] = field(default_factory=list)
    folders: list[tuple[SourceConfig, Path]] = field(default_factory=list)
    remote: list[SourceConfig] = field(default_factory=list)
    passed_over: int = 0
    reads: FolderReads | None = None
    # With ``reads``: which of some locators the store has a document row of.
    recorded: Callable[[Sequence[str]], Collection[str]] = lambda _locators: ()
    marked: list[_Marked] = field(default_factory=list)

    def add_folder(
        self, folder: Path, listed: tuple[Listing, SourceConfig | None], *, whole: bool
    ) -> None:
        """Read a listing of ``folder`` (passing over unchanged files, with ``reads``)."""
        listing, source = listed
        if self.reads is not None:
            kept, marked = self.reads.pass_over(
                folder, listing, whole=whole, recorded=self.recorded
            )
            self.passed_over += len(listing.found) - len(kept.found)
            self.marked.append(marked)
            listing = kept
        self.files.append((listing, source))

    def read(self, report: IngestReport) -> None:
        """After the run: count the files passed over; remember what was read."""
        report.unchanged += self.passed_over
        if self.reads is not None:
            self.reads.remember(self.marked, report)

    @property
    def documents(self) -> Iterator[Document]:
        """The documents of the files found, tagged, each read when it is reached."""
        for listing, source in self.files:
            for doc in listing:
                yield _tagged(doc, source)

    @property
    def total(self) -> int:
        """Steps for a progress bar: one per document, one per remote source."""
        return sum(listing.count() for listing, _ in self.files) + len(self.remote)


def pipeline_options(settings: Settings) -> PipelineOptions:
    """The pipeline settings derived from config."""
    return PipelineOptions(
        topics=settings.topics,
        algorithm=settings.summary_algorithm,
        sentences=settings.summary_sentences,
    )


def folder_path(settings: Settings, source: SourceConfig) -> Path:
    """Where a folder source's files are (the one folder rule: digests.config.config_path)."""
    return real_path(config_path(settings.config_dir, source.location))


def make_fetcher(settings: Settings) -> Fetcher:
    """The fetcher for these settings (``[fetch]`` in digestbot.toml tunes its bounds).

    Make one per process and pass it to every call here: its limits are per fetcher.
    """
    from digests.net.fetch import Fetcher

    return Fetcher(
        allow_private_networks=settings.allow_private_networks,
        deadline=settings.fetch.timeout_seconds,
        max_bytes=settings.fetch.max_bytes,
    )


def due_sources(
    store: Store, settings: Settings, *, now: datetime, force: bool = False
) -> list[SourceConfig]:
    """Feed and page sources that are due for a poll (all of them with ``force``): the
    configured ones and those added at run time (``digestbot sources add``)."""
    polled = {s.name: s for s in store.sources.all()}
    configured = [s for s in settings.sources if s.kind != SourceKind.FOLDER]
    names = {s.name for s in settings.sources}
    added = [
        SourceConfig(
            name=row.name,
            kind=stored_kind(row.kind),
            location=row.location,
            tags=row.tags,
            poll_minutes=max(1, (row.poll_seconds or 1800) // 60),
        )
        for row in polled.values()
        if row.origin == "cli"
        and row.scheduled
        and row.kind != SourceKind.FOLDER
        and row.name not in names
    ]
    return [s for s in configured + added if force or _due(polled.get(s.name), s, now)]


def plan_ingest(
    store: Store,
    settings: Settings,
    *,
    now: datetime,
    paths: Sequence[Path | str] = (),
    force: bool = False,
    reads: FolderReads | None = None,
) -> IngestPlan:
    """Read the files to ingest and list the sources to poll (without fetching anything).

    With ``paths`` (files, folders, http(s) URLs), only those; a file or folder inside a
    configured folder source is read as that source's (its tags, its symlink rule). Without,
    the inbox, every folder source, and the feeds and pages that are due. ``reads``: see
    :class:`FolderReads` (it passes over unchanged files of a whole folder read).
    """
    plan = IngestPlan(reads=reads, recorded=_recorded(store))
    folders = _folders(settings)
    if paths:
        files, urls = _split(paths)
        for path in files:
            owner = _owner(folders, path)
            if owner is None:
                plan.files.append(_list(settings, path, None, ()))
            else:
                # Named as the folder's own scan names it: `ingest seeds` after `ingest`
                # finds the same files unchanged, not "duplicate".
                resolved = _resolved(path)
                listed = _list(settings, resolved, owner.source, owner.exclude, within=owner.path)
                plan.add_folder(owner.path, listed, whole=resolved == owner.path)
        configured = {s.location: s for s in settings.sources if s.kind != SourceKind.FOLDER}
        rows = {s.name: s for s in store.sources.all()} if urls else {}
        plan.remote = [configured.get(u) or _given_url(u, rows) for u in urls]
        return plan
    for folder in folders:
        if folder.source is not None:
            plan.folders.append((folder.source, folder.path))
        if folder.path.is_dir():
            listed = _list(settings, folder.path, folder.source, folder.exclude)
            plan.add_folder(folder.path, listed, whole=True)
    plan.remote = due_sources(store, settings, now=now, force=force)
    return plan


def default_name(url: str) -> str:
    """A source name from its URL: host and path only (no scheme, userinfo or query).

    The name is shown in /metrics, health and chat; a URL's password or ``?api_key=`` never is.
    """
    return source_name(url)


def _given_url(url: str, rows: dict[str, SourceState]) -> SourceConfig:
    """A URL named on the command line: named as `sources add` would name it.

    A URL seen before keeps its row's name (its seen entries and validators with it) and its
    tags (a `sources add --tags` feed's entries get them, whoever polls it); a name already
    taken by another location gets a digest of the URL after it (never the URL).
    """
    row = next((r for r in rows.values() if r.location == url), None)
    if row is not None:
        return SourceConfig(name=row.name, kind=SourceKind.URL, location=url, tags=row.tags)
    name = default_name(url)
    if name in rows and rows[name].location != url:
        name = source_name(url, distinct=True)
    return SourceConfig(name=name, kind=SourceKind.URL, location=url)


def ingest_sources(
    store: Store,
    settings: Settings,
    *,
    now: datetime,
    fetcher: Fetcher | None = None,
    paths: Sequence[Path | str] = (),
    force: bool = False,
    workers: int = 1,
    on_progress: Progress | None = None,
    plan: IngestPlan | None = None,
    stop: Callable[[], bool] | None = None,
) -> IngestReport:
    """Ingest new or changed files, then poll feed and page sources (see the module doc).

    ``plan`` (from :func:`plan_ingest`) lets a caller size a progress bar first; ``fetcher``
    should be the process's shared one (a private one is made and closed otherwise);
    ``stop``: see :func:`digests.ingest.pipeline.run` (raises ``Stopped``).
    """
    plan = plan or plan_ingest(store, settings, now=now, paths=paths, force=force)
    report = run(
        store,
        plan.documents,
        pipeline_options(settings),
        now=now,
        workers=workers,
        on_progress=on_progress,
        stop=stop,
    )
    plan.read(report)
    if report.store_fault:  # the database cannot take writes now: poll nothing more
        why = f"not polled ({report.store_fault}); retried on the next run"
        report.failed += [(source.location, why) for source in plan.remote]
        return report
    for source, path in plan.folders:  # a missing folder fails as a feed that cannot be fetched
        _merge(report, _record_folder(store, settings, source, path, now))
    if plan.remote:
        own = fetcher is None
        client = fetcher or make_fetcher(settings)
        try:
            for polled in _poll_remote(
                store, settings, plan.remote, now=now, fetcher=client, on_progress=on_progress
            ):
                _merge(report, polled)
        finally:
            if own:
                client.close()
    return report


def ingest_folders(
    store: Store,
    settings: Settings,
    *,
    now: datetime,
    paths: Sequence[Path] = (),
    stop: Callable[[], bool] | None = None,
    reads: FolderReads | None = None,
) -> IngestReport:
    """Ingest new or changed files of the inbox and the folder sources, nothing remote.

    With ``paths`` (files or folders inside them, e.g. what a folder watcher saw change) only
    those, each read as its folder's (its tags, its symlink rule). ``stop``: see
    :func:`digests.ingest.pipeline.run`; ``reads``: see :class:`FolderReads` (the caller
    holds its turn).
    """
    plan = plan_ingest(store, settings, now=now, paths=paths, reads=reads)
    plan.remote = []
    return ingest_sources(store, settings, now=now, plan=plan, stop=stop)


def watched_folders(settings: Settings) -> list[Path]:
    """The folders files are dropped into: the inbox and every folder source (resolved)."""
    return [f.path for f in _folders(settings)]


def poll_source(
    store: Store,
    settings: Settings,
    source: SourceConfig,
    *,
    now: datetime,
    fetcher: Fetcher,
    state: SourceState | None = None,
    record: bool = True,
    stop: Callable[[], bool] | None = None,
    reads: FolderReads | None = None,
) -> SourceReport:
    """Ingest what is new from one configured source (a scheduler job, or a claimed poll).

    A failing source is recorded in its health row and reported, never raised: one broken
    source must not stop the others. ``state`` is the source's row if the caller has it;
    with ``record=False`` a feed's or page's health is left in ``report.health`` for the
    caller to write (with its claim's release). ``stop`` (the process is stopping) is asked
    between batches and before storing a harvest: then ``Stopped`` is raised and nothing
    about the poll is recorded (entries not stored stay unseen). ``reads``: a folder's
    :class:`FolderReads` (the caller holds its turn).
    """
    if source.kind == "folder":
        folder = next((f for f in _folders(settings) if f.source == source), None)
        path = folder.path if folder else folder_path(settings, source)
        store.sources.ensure(source.name, kind=source.kind, location=source.location)
        if not path.is_dir():
            return _record_folder(store, settings, source, path, now)
        files = IngestPlan(reads=reads, recorded=_recorded(store))
        files.add_folder(
            path, _list(settings, path, source, folder.exclude if folder else ()), whole=True
        )
        report = run(store, files.documents, pipeline_options(settings), now=now, stop=stop)
        files.read(report)
        if not report.store_fault:  # else the database takes no writes: the next poll retries
            _record_folder(store, settings, source, path, now)
        return _as_source_report(source, report)
    row = state or store.sources.ensure(source.name, kind=source.kind, location=source.location)
    got = _gather(store, fetcher, source, row)  # one source: no thread pool of its own
    if stop is not None and stop():  # e.g. a fetch the closing fetcher cut short
        raise Stopped(f"poll of {source.name} left off: the process is stopping")
    report = _settle(store, settings, source, row, got, now, stop=stop)
    if record and report.health is not None:
        store.sources.record(source.name, report.health)
    return report


# -- folders -----------------------------------------------------------------------------------


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


def _record_folder(
    store: Store, settings: Settings, source: SourceConfig, path: Path, now: datetime
) -> SourceReport:
    state = store.sources.ensure(source.name, kind=source.kind, location=source.location)
    if path.is_dir():
        _retag(store, settings, source, state, now=now)
        store.sources.succeeded(source.name, now=now)
        return SourceReport(source=source.name)
    error = f"folder {path} does not exist"
    store.sources.failed(source.name, now=now, error=error)
    return SourceReport(
        failed=[(str(path), "folder does not exist")], source=source.name, error=error
    )


def retag_source(
    store: Store, settings: Settings, state: SourceState, tags: Sequence[str], *, now: datetime
) -> int:
    """Give a source added at run time (``digestbot sources add``, its row ``state``) the tags
    ``tags`` in place: its stored articles no digest has shown yet are re-tagged as a changed
    sources.toml source's are at its next read (:func:`_retag`). How many were re-tagged."""
    from digests.ingest.polling import as_config

    source = as_config(replace(state, tags=tuple(tags)), settings)
    return _retag(store, settings, source, state, now=now)


def _retag(
    store: Store, settings: Settings, source: SourceConfig, state: SourceState, *, now: datetime
) -> int:
    """When a source's tags changed (its row, ``state``, records those its stored articles
    were given), re-tag its stored articles no digest has shown yet, of the last week (the
    articles a topic refit re-tags): a folder's files, a feed's entries, a page. They lose
    the tags it declared and no longer gives and are declared the ones it gives now (not one
    a reader refused), then are re-tagged as the store tags now (``digests.refit.retag_now``:
    the learned topics, or the keyword tags of what their text names), so a topic it no
    longer gives stays only where the text or the model gives it. What was delivered keeps
    the tags it was shown with. The row then records the new tags (its articles' from now on)."""
    old = tuple(state.tags)
    if old == tuple(source.tags):
        return 0
    from digests import refit
    from digests.tag import SOURCE_WEIGHT

    unshown = store.topics.recent_undelivered(now - refit.RETAG_WINDOW, limit=refit.RETAG_LIMIT)
    ids = _articles_of(store, settings, source, state, unshown) if unshown else []
    changed = 0
    if ids:
        refused = refit.refused(store.topics.applied_feedback())
        removed = [t for t in old if t not in source.tags]
        changed = store.topics.declare(
            ids, source.name, source.tags, removed=removed, weight=SOURCE_WEIGHT, refused=refused
        )
        if removed:  # a tag another feed that carried the same text still declares stays
            _declared_again(store, state, ids, removed, refused)
        if changed:
            refit.retag_now(store, ids, settings.topics)
    store.sources.tagged(source.name, source.tags)
    if changed:  # (a new source's row: its articles have its tags already)
        log.info(
            "source %s: tags now %s (were %s); its stored articles not yet delivered re-tagged",
            source.name, ", ".join(source.tags) or "none", ", ".join(old) or "none",
        )  # fmt: skip
    return len(ids) if changed else 0


def _declared_again(
    store: Store,
    state: SourceState,
    ids: Sequence[int],
    removed: Sequence[str],
    refused: Collection[tuple[int, str]],
) -> None:
    """After ``state``'s source stopped declaring ``removed`` on ``ids``: the other feeds
    and pages that brought one of those texts (a copy is stored once, with every source's
    tags) and still declare one of those tags declare it again (one ``declared_by`` a row)."""
    from digests.tag import SOURCE_WEIGHT

    carried = store.feed_items.carriers(ids, besides=state.id)
    for other in store.sources.with_ids(sorted(carried)):
        if any(t in removed for t in other.tags):  # (its row's tags: its articles' own)
            ids_ = carried[other.id]
            store.topics.declare(
                ids_, other.name, other.tags, weight=SOURCE_WEIGHT, refused=refused
            )


def _articles_of(
    store: Store,
    settings: Settings,
    source: SourceConfig,
    state: SourceState,
    among: Sequence[int],
) -> list[int]:
    """Those of the articles ``among`` that ``source`` stored, and gave its tags: a folder's,
    those whose file lies in it (not in a folder source inside it); a feed's or a page's,
    those its entries became or copied (a text another source stored first carries the tags
    of every source that brought it: digests.store.articles)."""
    if source.kind == SourceKind.FOLDER:
        folders = _folders(settings)
        return [
            article_id
            for article_id, locator in store.topics.locators(among).items()
            if (folder := _folder_of(folders, locator)) is not None
            and folder.source is not None
            and folder.source.name == source.name
        ]
    return sorted({article_id for article_id, _, _ in store.feed_items.entries(state.id, among)})


def _recorded(store: Store) -> Callable[[Sequence[str]], Collection[str]]:
    """Which of some locators the store has a document row of (see FolderReads.pass_over)."""
    return lambda locators: store.articles.documents(locators).keys()


def _folder_of(folders: Sequence[_Folder], locator: str) -> _Folder | None:
    """The folder (source or inbox) a stored document's locator lies in, if any (its most
    specific one; a line's or a member's ``PATH#KEY`` lies where its file does)."""
    path = Path(locator)
    return next((f for f in folders if path.is_relative_to(f.path)), None)


# -- feeds and pages ---------------------------------------------------------------------------


def _poll_remote(
    store: Store,
    settings: Settings,
    remote: Sequence[SourceConfig],
    *,
    now: datetime,
    fetcher: Fetcher,
    on_progress: Progress | None = None,
    states: Sequence[SourceState | None] = (),
) -> list[SourceReport]:
    """Poll feed/page sources: fetched concurrently, stored one at a time, each its own health."""
    given = dict(zip((s.name for s in remote), states, strict=False))
    rows = {
        s.name: given.get(s.name) or store.sources.ensure(s.name, kind=s.kind, location=s.location)
        for s in remote
    }
    reports: list[SourceReport] = []
    with ThreadPoolExecutor(max(1, min(_POLL_THREADS, len(remote)))) as pool:
        futures = {pool.submit(_gather, store, fetcher, s, rows[s.name]): s for s in remote}
        for future in as_completed(futures):
            source = futures[future]
            row = rows[source.name]
            report = _settle(store, settings, source, row, future.result(), now)
            if report.health is not None and not report.health.ok and _one_off(source, row):
                # A URL ingested once by hand: its failure is said on the command line, and
                # no row is left unhealthy for good (nobody polls it again to clear it).
                store.sources.forget(source.name)
            elif report.health is not None:
                store.sources.record(source.name, report.health)
            reports.append(report)
            if on_progress:
                on_progress(source.name)
    return reports


def _gather(
    store: Store, fetcher: Fetcher, source: SourceConfig, state: SourceState
) -> Harvest | str | None:
    """Fetch one source (in a worker thread): its harvest, a one-line error, or None (skip)."""
    from digests.ingest.feeds import harvest

    if _key_missing(source, state):
        return f"its URL is {MISSING_KEY}"
    kind = {"feed": "feed", "page": "page"}.get(source.kind, "auto")
    if kind != "feed" and store.feed_items.seen(state.id, [locator_of(source.location)]):
        return None  # an article page already ingested: nothing to fetch again
    try:
        return harvest(
            source.location,
            fetcher,
            kind=kind,
            etag=state.etag,
            last_modified=state.last_modified,
            seen=lambda ids: store.feed_items.seen(state.id, ids),
            failures=lambda ids: store.feed_items.failures(state.id, ids),
        )
    except DigestError as exc:
        return str(exc)
    except Exception as exc:  # a bug on one source must not cost the others
        log.exception("unexpected error polling %s", source.location)
        return f"internal error ({type(exc).__name__}: {exc}); run with --verbose for details"


def _settle(
    store: Store,
    settings: Settings,
    source: SourceConfig,
    state: SourceState,
    got: Harvest | str | None,
    now: datetime,
    *,
    stop: Callable[[], bool] | None = None,
) -> SourceReport:
    """Store one source's harvest and remember its entries; its health goes in the report.
    Its stored entries are re-tagged first if its tags changed (whether or not it answered)."""
    _retag(store, settings, source, state, now=now)
    if got is None:
        return SourceReport(unchanged=1, source=source.name)
    if isinstance(got, str):
        health = Health(now, error=got)
        # A location no key given opens is its sealed text: the source is named instead.
        shown = source.name if _key_missing(source, state) else source.location
        return SourceReport(failed=[(shown, got)], source=source.name, error=got, health=health)
    if got.fetched.not_modified:
        # Nothing to parse or store: the row keeps its validators, only the times move.
        health = Health(now, etag=state.etag, last_modified=state.last_modified)
        return SourceReport(unchanged=1, source=source.name, health=health)
    docs = [_tagged(d, source) for d in got.documents]
    ran = run(store, docs, pipeline_options(settings), now=now, stop=stop)
    report = _as_source_report(source, ran)
    report.unchanged += got.seen
    failed = {locator for locator, _ in report.failed}
    # After run() returned: every stored article is committed before its entry is seen.
    done, retry = _settled(got, failed, fault=bool(ran.store_fault))
    if not store.feed_items.mark_many(state.id, done, now=now, failed=retry):
        # Removed while it was polled (`digestbot sources remove`): the stories just stored
        # are kept like any others, but no feed state is written for a source that is gone.
        return report
    if got.listed is not None:
        store.feed_items.prune(state.id, got.listed)
    if got.kind == "page" and report.failed:
        report.error = report.failed[0][1]
        report.health = Health(now, error=report.error)
        return report
    # With an entry left to retry, forget the validators: a 304 next time would hide it.
    complete = not (failed - done.keys()) and not got.truncated
    report.health = Health(
        now,
        etag=got.fetched.etag if complete else None,
        last_modified=got.fetched.last_modified if complete else None,
        note=got.warning,
    )
    return report


def _key_missing(source: SourceConfig, state: SourceState) -> bool:
    """Whether the source's URL is its row's, sealed with a key this process was not given
    (a configured source's URL is the config's: it is polled, and its row sealed again)."""
    return state.key_missing and source.location == state.location


def _settled(got: Harvest, failed: set[str], *, fault: bool) -> tuple[dict[str, str], list[str]]:
    """The entries done with (locator → identity), and those (identities) failed this time
    and tried again next poll. A feed entry failing its ``ENTRY_POLLS``-th poll is done with
    (given up); none counts a failed poll when the database failed (a passing fault) or
    the source is a page (its health says it failed, and it is polled again)."""
    from digests.ingest.feeds import ENTRY_POLLS

    done: dict[str, str] = {}
    retry: list[str] = []
    for locator, identity in got.identities.items():
        if locator not in failed:
            done[locator] = identity
        elif got.kind != "feed" or fault:
            continue
        elif got.failures.get(identity, 0) + 1 < ENTRY_POLLS:
            retry.append(identity)
        else:
            log.info("feed entry %s failed %d polls: given up", locator, ENTRY_POLLS)
            done[locator] = identity
    return done, retry


# -- rules and helpers -------------------------------------------------------------------------


def _tagged(doc: Document, source: SourceConfig | None) -> Document:
    """The tag rule: a source's configured tags go with every document it yields, declared
    by it (stored with its name: no re-tag by the learned topics takes them off)."""
    if isinstance(doc, IngestFailure) or source is None or not source.tags:
        return doc
    merged = tuple(dict.fromkeys((*_hint_tags(doc), *source.tags)))
    return replace(doc, hints={**doc.hints, "tags": merged, "declared_by": source.name})


def _hint_tags(doc: RawDocument) -> tuple[str, ...]:
    tags = doc.hints.get("tags")
    return tuple(str(t) for t in tags) if isinstance(tags, list | tuple) else ()


def _due(state: SourceState | None, source: SourceConfig, now: datetime) -> bool:
    if state is None or state.last_polled_at is None:
        return True
    return now - state.last_polled_at >= timedelta(minutes=source.poll_minutes)


def _one_off(source: SourceConfig, row: SourceState) -> bool:
    """A URL named to ``digestbot ingest`` that is no source: not configured, not scheduled."""
    return source.kind == "url" and row.origin is None and not row.scheduled


def _split(paths: Sequence[Path | str]) -> tuple[list[Path], list[str]]:
    """Files/folders and URLs among ``paths`` (anything with ``://`` is a URL)."""
    files: list[Path] = []
    urls: list[str] = []
    for item in paths:
        text = str(item)
        if "://" in text:
            urls.append(text)
        else:
            files.append(Path(item))
    return files, urls


def _as_source_report(source: SourceConfig, report: IngestReport) -> SourceReport:
    return SourceReport(
        added=report.added,
        unchanged=report.unchanged,
        duplicates=report.duplicates,
        failed=report.failed,
        replaced=report.replaced,
        source=source.name,
    )


def _merge(into: IngestReport, other: IngestReport) -> None:
    into.added.extend(other.added)
    into.unchanged += other.unchanged
    into.duplicates += other.duplicates
    into.failed.extend(other.failed)
    into.replaced += other.replaced


def stored_kind(stored: str) -> SourceKind:
    """A stored source's kind; ``auto`` (``sources add`` without ``--kind``) is found by
    fetching, as a URL given on the command line is."""
    try:
        return SourceKind(stored)
    except ValueError:
        return SourceKind.URL
