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

The use cases are here; each kind of source has a module of its own: ``folders`` (the inbox
and folder sources, :class:`FolderReads`), ``remote`` (feeds and pages), ``due`` (what is due,
a URL given on the command line), ``tagging`` (a source's tags, applied and re-applied).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from digests.config import Settings, SourceConfig
from digests.errors import InputError, Stopped
from digests.ingest.document import Listing
from digests.ingest.due import _given_url, default_name, due_sources
from digests.ingest.folders import (
    FolderReads,
    _folders,
    _list,
    _Marked,
    _owner,
    _recorded,
    _resolved,
    folder_path,
    watched_folders,
)
from digests.ingest.pipeline import IngestReport, pipeline_options, run
from digests.ingest.remote import (
    Progress,
    SourceReport,
    _as_source_report,
    _gather,
    _poll_remote,
    _settle,
    make_fetcher,
)
from digests.ingest.tagging import Document, _retag, _tagged, retag_source
from digests.models import SourceKind
from digests.store import Store
from digests.store.sources import SourceState, shut_line

if TYPE_CHECKING:  # feedparser and httpx load only when a feed or page is polled
    from digests.net.fetch import Fetcher


__all__ = [
    "FolderReads",
    "IngestPlan",
    "SourceReport",
    "default_name",
    "due_sources",
    "folder_path",
    "ingest_folders",
    "ingest_sources",
    "make_fetcher",
    "pipeline_options",
    "plan_ingest",
    "poll_source",
    "retag_source",
    "watched_folders",
]


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
        for u in urls:  # refused before anything is read: nothing half done
            if u not in configured:
                _not_shut(store, u, rows)
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


def _not_shut(store: Store, url: str, rows: dict[str, SourceState]) -> None:
    """Refuse a URL given on the command line (no configured source's) that a scheduled source
    sealed with a key not given (a key lost) may poll already: the two cannot be compared, and
    `ingest URL` would add a second source polling it (`sources add`'s rule and line)."""
    if all(r.location != url for r in rows.values()) and (shut := store.sources.shut_to(url)):
        raise InputError(shut_line(url, shut))


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


def _merge(into: IngestReport, other: IngestReport) -> None:
    into.added.extend(other.added)
    into.unchanged += other.unchanged
    into.duplicates += other.duplicates
    into.failed.extend(other.failed)
    into.replaced += other.replaced
