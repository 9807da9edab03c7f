"""The per-article pipeline (extract → summarize → tag) and storing its results.

``process`` is a pure function of one RawDocument, so batches can run on several cores.
``run`` drives the store: it skips unchanged documents (content hash), replaces changed
ones, records failures with their reason, and never lets one bad input stop the batch.
Each batch is stored in one transaction (``store.articles.add_chunk``); if that fails, its
inputs are stored one by one, so a bad one is reported and costs nothing else.

Only a content failure is remembered against an input (its hash and reason, so an unchanged
bad file is not reworked on every run, and its "skipped" log line is written when it fails,
not again at every read: a file refused as it is read, binary or empty, is remembered by the
hash of what was read). A passing database fault — locked, disk full,
connection lost (:class:`~digests.errors.StoreUnavailable`) — is the database's, not the
input's: nothing is recorded, the input is reported "not stored ... retried on the next run",
and the rest of the run stops writing (one wait for the database, not one per input).

The documents of one file (JSON Lines lines, a collection's articles) fail together past a
limit: the first :data:`~digests.ingest.document.BAD_LINES_SHOWN` failures of a file are
reported and recorded one by one, whatever failed them (not JSON, no text, the store); the
rest are counted into one line and one record located at the file, at the end of the run.
Those are not remembered one by one, so an unchanged file's later failures are read again and
counted again: each run reports the file the same way until it changes.
"""

from __future__ import annotations

import logging
import re
import signal
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from digests import stories
from digests.config import Settings, Topic
from digests.errors import DigestError, InputError, Stopped, StoreUnavailable
from digests.extract import extract
from digests.ingest.document import FailureLimit, IngestFailure, content_hash
from digests.models import Article, ProcessedArticle, RawDocument
from digests.sentences import split_sentences
from digests.store import Store
from digests.store.articles import ChunkItem, DocumentState
from digests.summarize import summarize
from digests.tag import tag

log = logging.getLogger(__name__)
_BATCH = 64
_MARKUP = re.compile(rb"<[^<>]*>")  # a tag: what a fallback's words are counted without


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    """What process() needs besides the document: topics and summary settings."""

    topics: tuple[Topic, ...]
    algorithm: str = "default"
    sentences: int = 3


def pipeline_options(settings: Settings) -> PipelineOptions:
    """The pipeline settings derived from config."""
    return PipelineOptions(
        topics=settings.topics,
        algorithm=settings.summary_algorithm,
        sentences=settings.summary_sentences,
    )


@dataclass(slots=True)
class IngestReport:
    """What a run did: counts, and a one-line reason per failed input."""

    added: list[int] = field(default_factory=list)
    unchanged: int = 0
    duplicates: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    # Set when the database could not be written (a passing fault): why, in one line. The
    # inputs it kept out are in ``failed`` and are retried by the next run.
    store_fault: str | None = None
    # Inputs stored over an earlier version: its article went, and with it the rows of the
    # documents that were copies of its text (read again, they are stored as their own).
    replaced: int = 0

    def line(self) -> str:
        """The summary line the CLI prints."""
        return (
            f"{len(self.added)} added, {self.unchanged} unchanged, "
            f"{self.duplicates} duplicate, {len(self.failed)} failed"
        )


def process(raw: RawDocument, options: PipelineOptions) -> ProcessedArticle:
    """Extract, summarize and tag one document (raises InputError if it has no article)."""
    article = _extracted(raw)
    summary = summarize(
        article.body, title=article.title, sentences=options.sentences, algorithm=options.algorithm
    )
    hinted = raw.hints.get("tags")
    extra = tuple(str(t) for t in hinted) if isinstance(hinted, list | tuple) else ()
    by = raw.hints.get("declared_by")  # the source whose tags these are
    tagging = tag(
        article, options.topics, extra=extra, declared_by=by if isinstance(by, str) else None
    )
    sentences = tuple(split_sentences(article.body))
    profile, names = stories.terms(article.title, article.body)
    return ProcessedArticle(article, summary, tagging, sentences, profile, names)


def _extracted(raw: RawDocument) -> Article:
    """``raw``'s article, or its fallback's when ``raw`` yields none or a shorter text (a
    feed entry's own text for its article page). The fallback is extracted only when it could
    be longer: a page of as many words as the fallback's markup holds keeps its own."""
    if raw.fallback is None:
        return extract(raw)
    try:
        article = extract(raw)
    except InputError as exc:
        own = _or_none(raw.fallback)
        if own is None:
            raise
        why = str(exc).removeprefix(f"{raw.locator}: ")
    else:
        words = len(article.body.split())
        if words >= len(_MARKUP.sub(b" ", raw.fallback.content).split()):
            return article
        own = _or_none(raw.fallback)
        its = len(own.body.split()) if own else 0
        if own is None or words >= its:
            return article
        why = f"{words} words of text, fewer than the feed's {its}"
    log.info("%s: article page: %s; the feed's own text was used", raw.locator, why)
    return own


def _or_none(raw: RawDocument) -> Article | None:
    try:
        return extract(raw)
    except InputError:
        return None


def _process_safely(raw: RawDocument, options: PipelineOptions) -> ProcessedArticle | str:
    try:
        return process(raw, options)
    except DigestError as exc:
        # The report pairs each reason with its locator: don't say the path twice.
        return str(exc).removeprefix(f"{raw.locator}: ")
    except Exception as exc:  # a bug on one input must not cost the rest of the batch
        log.exception("unexpected error processing %s", raw.locator)
        return f"internal error ({type(exc).__name__}: {exc}); run with --verbose for details"


def run(
    store: Store,
    inputs: Iterable[RawDocument | IngestFailure],
    options: PipelineOptions,
    *,
    now: datetime,
    workers: int = 1,
    on_progress: Callable[[str], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> IngestReport:
    """Process new or changed inputs into the store; see the module docstring.

    ``stop`` (e.g. a stopping server's flag) is asked between batches: once it says yes the
    run raises :class:`~digests.errors.Stopped` — batches stored so far are kept (each is
    its own transaction), a batch processed but not stored is dropped, nothing else is read.
    """
    report = IngestReport()
    limit = FailureLimit()
    pool = None
    if workers > 1:
        stories.load()  # forked workers share it: each would load its own
        pool = ProcessPoolExecutor(workers, initializer=_worker_start)
    # With a pool, the pool processes a batch while this thread stores the one before. With
    # none, a thread of its own stores it, so the database's work (PostgreSQL's, in its own
    # process) still overlaps processing here; not for an in-memory SQLite database, which
    # exists once per thread.
    storing = _Storing(store, report, now, on_progress, limit, thread=not pool and store.shared)
    try:
        iterator = _within_limits(inputs, limit, on_progress)
        while batch := list(islice(iterator, _BATCH)):
            _check(stop)
            # The same file again: its hash check must see the earlier copy stored.
            storing.flush(only={item.locator for item in batch})
            try:
                if report.store_fault:
                    raise StoreUnavailable(report.store_fault)
                plan = _plan(store, batch)
            except StoreUnavailable as exc:
                _not_stored(report, batch, exc, limit)
                for item in batch:
                    _tick(on_progress, item.locator)
                continue
            raws = [item for digest, item, _ in plan if digest and isinstance(item, RawDocument)]
            results: Iterable[ProcessedArticle | str] = (
                pool.map(_process_safely, raws, [options] * len(raws), chunksize=4)
                if pool and len(raws) > 1
                else [_process_safely(r, options) for r in _asked(raws, stop)]
            )
            processed = _Batch(plan, iter(results))
            _check(stop)  # asked while it was processed: store nothing more
            storing.add(processed)
        storing.flush()  # every failure counted (the last batch may be in the store's thread)
        if summaries := limit.summaries():  # one line and one record per file, its count
            storing.add(_Batch([(None, summary, False) for summary in summaries], iter(())))
            storing.flush()
    finally:
        storing.close()
        if pool:
            # Interrupted (Ctrl-C) or failed: the batch's queued work is dropped, not done.
            pool.shutdown(cancel_futures=True)
    return report


def _within_limits(
    inputs: Iterable[RawDocument | IngestFailure],
    limit: FailureLimit,
    on_progress: Callable[[str], None] | None,
) -> Iterator[RawDocument | IngestFailure]:
    """``inputs`` without the failures their file's limit already leaves out (counted here)."""
    for item in inputs:
        if isinstance(item, IngestFailure) and limit.left_out(item):
            _tick(on_progress, item.locator)
        else:
            yield item


def _check(stop: Callable[[], bool] | None) -> None:
    if stop is not None and stop():
        raise Stopped("ingest left off: the process is stopping")


def _asked(raws: list[RawDocument], stop: Callable[[], bool] | None) -> Iterator[RawDocument]:
    """``raws``, asking ``stop`` before each (processing one takes up to a few hundred ms)."""
    for raw in raws:
        _check(stop)
        yield raw


def _worker_start() -> None:
    """A pool worker leaves Ctrl-C to the process that started it (which stops the run and
    says so in one line), instead of dying with a traceback of its own."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _Storing:
    """Batches on their way into the store, in order: one is stored while the next is made.

    Without a thread the latest batch is held, and stored when the next one is added (its
    pool works meanwhile); with one, it is stored at once in that thread. The report is
    written only by whoever stores, one batch at a time.
    """

    def __init__(
        self,
        store: Store,
        report: IngestReport,
        now: datetime,
        on_progress: Callable[[str], None] | None,
        limit: FailureLimit,
        *,
        thread: bool,
    ) -> None:
        self._args = (store, report, now, on_progress, limit)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="ingest-store") if thread else None
        self._held: _Batch | None = None
        self._running: tuple[_Batch, Future[None]] | None = None

    def add(self, batch: _Batch) -> None:
        """Store the batch before (or wait for it), then this one (now, or with the next)."""
        self.flush()
        if self._thread:
            self._running = (batch, self._thread.submit(batch.finish, *self._args))
        else:
            self._held = batch

    def flush(self, *, only: set[str] | None = None) -> None:
        """Have every added batch stored (``only``: if it holds one of these locators)."""
        if self._held and (only is None or self._held.locators & only):
            held, self._held = self._held, None
            held.finish(*self._args)
        if self._running and (only is None or self._running[0].locators & only):
            running, self._running = self._running[1], None
            running.result()

    def close(self) -> None:
        """Let a batch being stored finish (none is left half-written behind an error)."""
        if self._thread:
            self._thread.shutdown()


# One input's fate, decided before processing: (digest, input, seen before). The digest is
# None for an input not read whole and "" for an unchanged one; an unchanged input that
# failed before comes back as an IngestFailure with its digest, "seen before" saying so (a
# remembered failure: reported, not logged again).
_Entry = tuple[str | None, RawDocument | IngestFailure, bool]


def _not_stored(
    report: IngestReport,
    items: Iterable[RawDocument | IngestFailure],
    exc: StoreUnavailable,
    limit: FailureLimit,
) -> None:
    """Report inputs the database could not take (nothing is recorded: the next run retries)."""
    if report.store_fault is None:
        report.store_fault = str(exc)
        log.warning("the database is unavailable (%s); what is left is retried next run", exc)
    for item in items:
        if not limit.shown(item.part_of, item.locator):
            continue
        if isinstance(item, IngestFailure):
            report.failed.append((item.locator, item.reason))
        else:
            report.failed.append((item.locator, f"not stored ({exc}); retried on the next run"))


# Reasons recorded before passing faults were told apart from content failures: such a
# document is tried again rather than reported failed for good.
_FAULT_WORDS = ("locked", "disk is full", "disk i/o", "unable to open", "readonly", "connection")


def _remembered(error: str | None) -> bool:
    """Whether a recorded failure is the input's own (not an old database fault)."""
    text = (error or "").lower()
    stored = text.startswith(("could not store", "could not record"))
    return not (stored and any(word in text for word in _FAULT_WORDS))


def _plan(store: Store, batch: list[RawDocument | IngestFailure]) -> list[_Entry]:
    known = store.articles.documents(
        i.locator for i in batch if isinstance(i, RawDocument) or i.content_hash
    )
    plan: list[_Entry] = []
    for item in batch:
        if isinstance(item, IngestFailure):
            state = known.get(item.locator)
            again = bool(item.content_hash) and _failed_as(state, item.content_hash)
            plan.append((item.content_hash or None, item, again))
            continue
        digest = content_hash(item.content)
        state = known.get(item.locator)
        previous = state.content_hash if state else None
        if _failed_as(state, digest) and state:
            # Failed before and unchanged since: report it again (never "unchanged"), but do
            # not redo the work; a change to the file is retried.
            why = state.error or "failed before"
            plan.append((digest, IngestFailure(item.locator, why, item.part_of), True))
            continue
        plan.append(("" if previous == digest else digest, item, previous is not None))
    return plan


def _failed_as(state: DocumentState | None, digest: str) -> bool:
    """Whether the input recorded as ``state`` failed, on its own, with this content."""
    return (
        state is not None
        and state.content_hash == digest
        and state.status == "failed"
        and _remembered(state.error)
    )


@dataclass(slots=True)
class _Batch:
    """A planned batch whose processing results are (or will be) coming from the pool."""

    plan: list[_Entry]
    results: Iterator[ProcessedArticle | str]

    @property
    def locators(self) -> set[str]:
        return {item.locator for _, item, _ in self.plan}

    def finish(
        self,
        store: Store,
        report: IngestReport,
        now: datetime,
        on_progress: Callable[[str], None] | None,
        limit: FailureLimit,
    ) -> None:
        """Record every input of the batch in input order, storing the processed ones (a
        failure past its file's limit is neither recorded nor reported: it is counted)."""
        chunk: list[ChunkItem] = []
        part_of: dict[str, str | None] = {}
        # Failed before with this content: reported again, logged once (when it failed).
        again = {i.locator for _, i, seen in self.plan if seen and isinstance(i, IngestFailure)}
        for digest, item, seen in self.plan:
            if isinstance(item, IngestFailure):
                one = ChunkItem(item.locator, digest or "", item.reason)
            elif digest != "":
                assert digest is not None
                one = ChunkItem(item.locator, digest, next(self.results), seen)
            else:
                continue
            if isinstance(one.result, str) and not limit.shown(item.part_of, item.locator):
                continue
            chunk.append(one)
            part_of[one.locator] = item.part_of
        try:
            if report.store_fault:
                raise StoreUnavailable(report.store_fault)
            ids = store.articles.add_chunk(chunk, now=now) if chunk else []
        except StoreUnavailable as exc:
            _not_stored(report, [_as_input(one, part_of) for one in chunk], exc, limit)
        except DigestError as exc:
            log.warning("%s; storing them one at a time", exc)
            for one in chunk:
                if report.store_fault:
                    fault = StoreUnavailable(report.store_fault)
                    _not_stored(report, [_as_input(one, part_of)], fault, limit)
                else:
                    _store_one(store, report, one, now, limit, part_of, again)
        else:
            own = _stored_meanwhile(
                store, [o for o, i in zip(chunk, ids, strict=True) if i is None]
            )
            for one, article_id in zip(chunk, ids, strict=True):
                _report(report, one, article_id, own, again=one.locator in again)
        for digest, item, _seen in self.plan:
            if digest == "":
                report.unchanged += 1
            _tick(on_progress, item.locator)


def _as_input(item: ChunkItem, part_of: dict[str, str | None]) -> RawDocument | IngestFailure:
    """What a chunk item came from, for reporting it as not stored (a processed article, or an
    input that failed on its own, whose own reason is kept)."""
    file = part_of.get(item.locator)
    if isinstance(item.result, str):
        return IngestFailure(item.locator, item.result, file)
    return RawDocument(item.locator, "txt", b"", part_of=file)


def _stored_meanwhile(store: Store, items: Sequence[ChunkItem]) -> set[str]:
    """Of inputs whose text was found stored, those stored from their own locator: the same new
    file, stored by another process while this one read it (unchanged, not a duplicate)."""
    wanted = [i.locator for i in items if not isinstance(i.result, str)]
    if not wanted:
        return set()
    try:
        states = store.articles.documents(wanted)
    except DigestError:  # only the count is at stake: call them duplicates
        return set()
    return {locator for locator, state in states.items() if state.status == "added"}


def _report(
    report: IngestReport,
    item: ChunkItem,
    article_id: int | None,
    own: Collection[str] = (),
    *,
    again: bool = False,
) -> None:
    """Count one stored input: added, unchanged (stored meanwhile by another process, ``own``),
    a duplicate, or failed (with its reason; ``again``: it failed before with the same
    content)."""
    if item.replaces:
        report.replaced += 1
    if isinstance(item.result, str):
        # The report carries every failure to the front end, which shows it once; INFO keeps
        # a record for serve (which logs at INFO) without printing it twice in the CLI: once
        # per content that fails, not at every read of an unchanged bad file.
        log.log(
            logging.DEBUG if again else logging.INFO,
            "skipped %s: %s%s", item.locator, item.result, " (unchanged)" if again else "",
        )  # fmt: skip
        report.failed.append((item.locator, item.result))
    elif article_id is None and item.locator in own:
        report.unchanged += 1
    elif article_id is None:
        report.duplicates += 1
    else:
        report.added.append(article_id)


def _store_one(
    store: Store,
    report: IngestReport,
    item: ChunkItem,
    now: datetime,
    limit: FailureLimit,
    part_of: dict[str, str | None],
    again: set[str],
) -> None:
    """Store one input in its own transactions (after its chunk failed as a whole)."""
    result = item.result
    article_id = None
    if not isinstance(result, str):
        try:
            replaces = item.locator if item.replaces else None
            article_id = store.articles.add(result, now=now, replaces=replaces)
        except StoreUnavailable as exc:  # the database's fault: record nothing, retry later
            _not_stored(report, [_as_input(item, part_of)], exc, limit)
            return
        except DigestError as exc:
            result = str(exc)
            if not limit.shown(part_of.get(item.locator), item.locator):
                return  # counted into its file's summary
    status = "failed" if isinstance(result, str) else "added" if article_id else "duplicate"
    try:
        # A duplicate's row names the article holding its text (exported under its locator).
        copy_of = (
            None
            if isinstance(result, str) or article_id
            else store.articles.stored_as(result.article.body)
        )
        store.articles.record_document(
            item.locator,
            item.content_hash,
            status=status,
            now=now,
            error=result if isinstance(result, str) else None,
            article_id=article_id or copy_of,
            # A copy's own source: its story counts the sites that carried the text.
            source=None if isinstance(result, str) else result.article.source,
        )
    except StoreUnavailable as exc:
        if article_id is None:  # nothing of it stored: the next run tries it again
            failed = _as_input(ChunkItem(item.locator, "", result), part_of)
            _not_stored(report, [failed], exc, limit)
            return
        report.store_fault = report.store_fault or str(exc)  # stored; its hash is not
    outcome = ChunkItem(item.locator, item.content_hash, result, item.replaces)
    own = _stored_meanwhile(store, [outcome] if not article_id else [])
    _report(report, outcome, article_id, own, again=item.locator in again)


def _tick(on_progress: Callable[[str], None] | None, locator: str) -> None:
    if on_progress:
        on_progress(locator)
