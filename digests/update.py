"""Bring the store up to date: ingest what is new from the given paths or configured sources."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

from digests.config import Settings
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
