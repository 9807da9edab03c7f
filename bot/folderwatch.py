"""Files dropped into the inbox or a folder source are ingested within seconds (`serve`).

One thread per process: it reads every folder once at start (:attr:`FolderWatch.ingested`
is set when that first ingest is over: ``/readyz`` and ``/brief`` wait for it), then
watches the folders with ``watchfiles`` (inotify, or polling where the filesystem gives no
events) and ingests each batch of new or changed files through the one ingest use case,
:func:`digests.ingest.sources.ingest_folders`. The database-claimed folder polls of
:mod:`digests.ingest.polling` stay as the slow safety net (a missed event, a folder created later);
they and the watcher take turns (:attr:`FolderWatch.reading`, a
:class:`~digests.ingest.sources.FolderReads`), never reading a folder at once, and each read
of a whole folder passes over the files the other already read unchanged: at start the
folders are read once, not by the first ingest, the first poll and the watcher's rescan each.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from bot.render import counted
from digests.config import Settings
from digests.errors import Stopped
from digests.ingest.document import READABLE, UNREADABLE_DOCUMENTS
from digests.ingest.pipeline import IngestReport
from digests.ingest.sources import FolderReads, ingest_folders, watched_folders
from digests.store import Store

log = logging.getLogger(__name__)

DEBOUNCE_MS = 1000  # changes within this long are one batch (a file being copied in)
_RETRY_SECONDS = 10.0  # a watcher that failed (or no folder exists yet) tries again after this
_STOP_CHECK = 0.1  # seconds: how soon a wait for the first ingest sees stop()


class FolderWatch:
    """The folder watcher of one `serve` process (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        clock: Callable[[], datetime],
        on_ingest: Callable[[IngestReport], None] | None = None,
        force_polling: bool | None = None,
        reading: FolderReads | None = None,
    ) -> None:
        self.store, self.settings, self.clock = store, settings, clock
        self.on_ingest = on_ingest
        # Its turn is held while the folders are read: the poller's folder polls share it, so
        # the same folder is never read twice at once, nor a file read again unchanged (see
        # DigestScheduler.start).
        self.reading = reading if reading is not None else FolderReads()
        self.ingested = threading.Event()  # the first ingest is over
        self._stop = threading.Event()
        self._polling = force_polling
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread: the first ingest of every folder, then watching."""
        self._thread = threading.Thread(target=self._run, name="folder-watch", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 0.0) -> None:
        """Stop watching; an ingest under way leaves off at its next batch (what is stored is
        kept). ``timeout``: wait up to that long for the thread to end."""
        self._stop.set()
        if self._thread is not None and timeout:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        """The thread is still at work (reading, or watching)."""
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the first ingest, or until :meth:`stop`; whether
        the first ingest is over."""
        deadline = time.monotonic() + timeout
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if self.ingested.wait(min(left, _STOP_CHECK)):
                return True
        return self.ingested.is_set()

    # -- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._ingest(())
        finally:
            self.ingested.set()
        while not self._stop.is_set():
            folders = [p for p in watched_folders(self.settings) if p.is_dir()]
            if not folders:
                self._stop.wait(_RETRY_SECONDS)
                continue
            try:
                self._watch(folders)
            except Exception as exc:  # no inotify, too many watches, a folder removed...
                if self._polling:
                    log.warning("folder watch failed (%s); trying again", exc)
                else:
                    log.warning("folder watch failed (%s); polling the folders instead", exc)
                    self._polling = True
                self._stop.wait(_RETRY_SECONDS)

    def _watch(self, folders: list[Path]) -> None:
        import watchfiles

        first = True
        for changes in watchfiles.watch(
            *folders,
            stop_event=self._stop,
            debounce=DEBOUNCE_MS,
            rust_timeout=1000,
            yield_on_timeout=True,
            raise_interrupt=False,
            force_polling=self._polling,
            poll_delay_ms=1000,
        ):
            if first:
                # Watching now: look again for files dropped in between (those read already,
                # unchanged, are passed over).
                first = False
                self._ingest(())
                log.info(
                    "folder watch: watching %s for new files%s",
                    counted(len(folders), "folder"),
                    " (polling: the filesystem gives no events)" if self._polling else "",
                )
                continue
            paths = _documents(p for change, p in changes if change != watchfiles.Change.deleted)
            if paths:
                self._ingest(paths)
            if any(p not in folders for p in watched_folders(self.settings) if p.is_dir()):
                return  # a folder appeared: watch it too

    def _ingest(self, paths: Iterable[Path]) -> None:
        paths = list(paths)
        try:
            with self.reading:
                report = ingest_folders(
                    self.store, self.settings, now=self.clock(), paths=paths,
                    stop=self._stop.is_set, reads=self.reading,
                )  # fmt: skip
        except Stopped:
            log.info("folder ingest left off: the process is stopping (what was stored is kept)")
            return
        except Exception:
            log.exception("folder ingest failed")
            return
        if report.added or report.failed or paths:
            log.info(
                "folder ingest: %s%s",
                report.line(),
                f" ({', '.join(p.name for p in paths[:5])}{', ...' if len(paths) > 5 else ''})"
                if paths
                else "",
            )
        if self.on_ingest is not None:
            self.on_ingest(report)


def _documents(changed: Iterable[str]) -> list[Path]:
    """The changed paths worth ingesting: folders, and files of a kind digestbot reads or
    reports (never hidden files, editor backups or downloads in progress)."""
    out = []
    for text in sorted(set(changed)):
        path = Path(text)
        if path.name.startswith("."):
            continue
        if path.is_dir() or (
            path.suffix.lower() in READABLE | UNREADABLE_DOCUMENTS and path.exists()
        ):
            out.append(path)
    return out
