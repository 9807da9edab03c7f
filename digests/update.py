"""Bring the store up to date: ingest what is new from the given paths or configured sources.

Paths may be files, folders or http(s) URLs (feeds or article pages, told apart by content).
Feed and page sources are fetched concurrently (digests.fetch bounds every request) and then
processed one by one; each records its health, and one failing source never stops the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timedelta
from pathlib import Path

from digests.config import Settings, SourceConfig
from digests.errors import ConfigError, DigestError
from digests.feeds import Harvest, harvest
from digests.fetch import Fetcher, MiB
from digests.ingest import IngestFailure, ingest
from digests.models import RawDocument
from digests.pipeline import IngestReport, PipelineOptions, run
from digests.store import Store
from digests.store.sources import SourceState

log = logging.getLogger(__name__)
_POLL_THREADS = 8  # sources fetched at once (the fetcher also limits each host to two)


def pipeline_options(settings: Settings) -> PipelineOptions:
    """The pipeline settings derived from config."""
    return PipelineOptions(
        topics=settings.topics,
        algorithm=settings.summary_algorithm,
        sentences=settings.summary_sentences,
    )


def folders(settings: Settings) -> list[Path]:
    """The inbox plus every configured folder source (each once)."""
    found = [settings.inbox]
    base = settings.config_dir.parent if settings.config_dir.name == "config" else Path.cwd()
    for source in settings.sources:
        if source.kind == "folder":
            path = Path(source.location)
            found.append(path if path.is_absolute() else base / path)
    return list(dict.fromkeys(p.resolve() for p in found))


def split_targets(paths: Sequence[Path | str]) -> tuple[list[Path], list[str]]:
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


def inputs(
    settings: Settings, paths: Sequence[Path | str] = ()
) -> list[RawDocument | IngestFailure]:
    """The files to look at: those among ``paths``, else (no paths) the configured folders."""
    files, _urls = split_targets(paths)
    targets = files if paths else [p for p in folders(settings) if p.exists()]
    return list(ingest(targets, max_bytes=settings.max_file_bytes))


def remote_sources(
    store: Store,
    settings: Settings,
    paths: Sequence[Path | str] = (),
    *,
    now: datetime,
    force: bool = False,
) -> list[SourceConfig]:
    """Feeds and pages to poll: the URLs among ``paths``, else configured ones that are due."""
    if paths:
        configured = {s.location: s for s in settings.sources if s.kind != "folder"}
        _files, urls = split_targets(paths)
        return [configured.get(u) or SourceConfig(name=u, kind="url", location=u) for u in urls]
    polled = {s.name: s for s in store.sources.all()}
    return [
        s
        for s in settings.sources
        if s.kind != "folder" and (force or _due(polled.get(s.name), s, now))
    ]


def _due(state: SourceState | None, source: SourceConfig, now: datetime) -> bool:
    if state is None or state.last_polled_at is None:
        return True
    return now - state.last_polled_at >= timedelta(minutes=source.poll_minutes)


def make_fetcher(settings: Settings) -> Fetcher:
    """The fetcher for these settings (``[fetch]`` in digestbot.toml tunes its bounds)."""
    table = settings.extra.get("fetch", {})
    opts = table if isinstance(table, dict) else {}
    deadline, max_bytes = opts.get("timeout_seconds", 30), opts.get("max_bytes", 15 * MiB)
    if not isinstance(deadline, int | float) or deadline <= 0:
        raise ConfigError(f"fetch.timeout_seconds must be a positive number, got {deadline!r}")
    if not isinstance(max_bytes, int) or max_bytes < 1:
        raise ConfigError(f"fetch.max_bytes must be a whole number ≥ 1, got {max_bytes!r}")
    return Fetcher(
        allow_private_networks=settings.allow_private_networks,
        deadline=float(deadline),
        max_bytes=max_bytes,
    )


def update(
    store: Store,
    settings: Settings,
    *,
    now: datetime,
    paths: Sequence[Path | str] = (),
    workers: int = 1,
    on_progress: Callable[[str], None] | None = None,
    documents: Sequence[RawDocument | IngestFailure] | None = None,
    remote: Sequence[SourceConfig] | None = None,
    fetcher: Fetcher | None = None,
    force: bool = False,
) -> IngestReport:
    """Ingest new or changed files (``documents`` if gathered), then due feeds and pages."""
    docs: Sequence[RawDocument | IngestFailure] | Iterator[RawDocument | IngestFailure]
    docs = documents if documents is not None else inputs(settings, paths)
    report = run(
        store, docs, pipeline_options(settings), now=now, workers=workers, on_progress=on_progress
    )
    if remote is None:
        remote = remote_sources(store, settings, paths, now=now, force=force)
    if remote:
        _merge(
            report,
            poll_all(store, settings, remote, now=now, fetcher=fetcher, on_progress=on_progress),
        )
    return report


def poll_all(
    store: Store,
    settings: Settings,
    remote: Sequence[SourceConfig],
    *,
    now: datetime,
    fetcher: Fetcher | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> IngestReport:
    """Poll feed/page sources: fetched concurrently, stored one at a time, each its own health."""
    report = IngestReport()
    states = {
        s.name: store.sources.ensure(s.name, kind=s.kind, location=s.location) for s in remote
    }
    own = fetcher is None
    client = fetcher or make_fetcher(settings)
    try:
        with ThreadPoolExecutor(max(1, min(_POLL_THREADS, len(remote)))) as pool:
            futures = {pool.submit(_gather, store, client, s, states[s.name]): s for s in remote}
            for future in as_completed(futures):
                source = futures[future]
                _merge(
                    report,
                    _settle(store, settings, source, states[source.name], future.result(), now),
                )
                if on_progress:
                    on_progress(source.name)
    finally:
        if own:
            client.close()
    return report


def poll(
    store: Store,
    settings: Settings,
    source: SourceConfig,
    *,
    now: datetime,
    fetcher: Fetcher | None = None,
) -> IngestReport:
    """Ingest what is new from one configured source (the scheduler runs one job per source).

    A failing source is recorded in its health row and reported, never raised: one broken
    source must not stop the others.
    """
    store.sources.ensure(source.name, kind=source.kind, location=source.location)
    if source.kind == "folder":
        path = Path(source.location)
        base = settings.config_dir.parent if settings.config_dir.name == "config" else Path.cwd()
        folder = path if path.is_absolute() else base / path
        if not folder.is_dir():
            store.sources.failed(source.name, now=now, error=f"folder {folder} does not exist")
            return IngestReport(failed=[(str(folder), "folder does not exist")])
        docs = list(ingest([folder], max_bytes=settings.max_file_bytes))
        docs = [_with_tags(d, source.tags) for d in docs]
        report = run(store, docs, pipeline_options(settings), now=now)
        store.sources.succeeded(source.name, now=now)
        return report
    return poll_all(store, settings, [source], now=now, fetcher=fetcher)


def _gather(
    store: Store, fetcher: Fetcher, source: SourceConfig, state: SourceState
) -> Harvest | str | None:
    """Fetch one source (in a worker thread): its harvest, a one-line error, or None (skip)."""
    kind = {"feed": "feed", "page": "page"}.get(source.kind, "auto")
    if kind != "feed" and store.feed_items.seen(state.id, [source.location]):
        return None  # an article page already ingested: nothing to fetch again
    try:
        return harvest(
            source.location,
            fetcher,
            kind=kind,
            etag=state.etag,
            last_modified=state.last_modified,
            seen=lambda ids: store.feed_items.seen(state.id, ids),
            tags=source.tags,
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
) -> IngestReport:
    """Store one source's harvest, remember its entries and record its health."""
    if got is None:
        return IngestReport(unchanged=1)
    if isinstance(got, str):
        store.sources.failed(source.name, now=now, error=got)
        return IngestReport(failed=[(source.location, got)])
    if got.fetched.not_modified:
        store.sources.succeeded(
            source.name, now=now, etag=state.etag, last_modified=state.last_modified
        )
        return IngestReport(unchanged=1)
    report = run(store, got.documents, pipeline_options(settings), now=now)
    report.unchanged += got.seen
    failed = {locator for locator, _ in report.failed}
    for locator, identity in got.identities.items():
        if locator not in failed:
            store.feed_items.mark(state.id, identity, locator=locator, now=now)
    if got.kind == "page" and report.failed:
        store.sources.failed(source.name, now=now, error=report.failed[0][1])
        return report
    # With an entry left to retry, forget the validators: a 304 next time would hide it.
    complete = not failed and not got.truncated
    store.sources.succeeded(
        source.name,
        now=now,
        etag=got.fetched.etag if complete else None,
        last_modified=got.fetched.last_modified if complete else None,
    )
    if got.warning:
        store.feed_items.warn(state.id, got.warning)
    return report


def _merge(into: IngestReport, other: IngestReport) -> None:
    into.added.extend(other.added)
    into.unchanged += other.unchanged
    into.duplicates += other.duplicates
    into.failed.extend(other.failed)


def _with_tags(
    doc: RawDocument | IngestFailure, tags: Sequence[str]
) -> RawDocument | IngestFailure:
    if isinstance(doc, IngestFailure) or not tags:
        return doc
    return RawDocument(
        doc.locator, doc.kind, doc.content, doc.url, {**doc.hints, "tags": tuple(tags)}
    )
