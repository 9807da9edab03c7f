"""Bring the store up to date: ingest what is new from the given paths or configured sources."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

from digests.config import Settings, SourceConfig
from digests.ingest import IngestFailure, ingest
from digests.models import RawDocument
from digests.pipeline import IngestReport, PipelineOptions, run
from digests.store import Store


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


def inputs(settings: Settings, paths: Sequence[Path] = ()) -> list[RawDocument | IngestFailure]:
    """Everything to look at: the given paths, else the configured folders."""
    targets = list(paths) or [p for p in folders(settings) if p.exists()]
    return list(ingest(targets, max_bytes=settings.max_file_bytes))


def update(
    store: Store,
    settings: Settings,
    *,
    now: datetime,
    paths: Sequence[Path] = (),
    workers: int = 1,
    on_progress: Callable[[str], None] | None = None,
    documents: Sequence[RawDocument | IngestFailure] | None = None,
) -> IngestReport:
    """Ingest new or changed inputs (``documents`` if already gathered) into ``store``."""
    docs: Sequence[RawDocument | IngestFailure] | Iterator[RawDocument | IngestFailure]
    docs = documents if documents is not None else inputs(settings, paths)
    return run(
        store, docs, pipeline_options(settings), now=now, workers=workers, on_progress=on_progress
    )


def poll(store: Store, settings: Settings, source: SourceConfig, *, now: datetime) -> IngestReport:
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
    raise NotImplementedError(f"{source.kind} sources are fetched by digests.feeds")


def _with_tags(doc: RawDocument | IngestFailure, tags: Sequence[str]) -> RawDocument | IngestFailure:
    if isinstance(doc, IngestFailure) or not tags:
        return doc
    return RawDocument(doc.locator, doc.kind, doc.content, doc.url, {**doc.hints, "tags": tuple(tags)})
