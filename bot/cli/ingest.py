"""`digestbot ingest`, and the refresh every terminal command does first."""

from __future__ import annotations

import logging
import os
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli._app import now, open_store, state
from bot.cli.output import err, safe, warn

if TYPE_CHECKING:
    from digests.config import Settings
    from digests.ingest.pipeline import IngestReport
    from digests.store import Store

_PROGRESS_MIN = 20  # below this many inputs a bar is noise
log = logging.getLogger(__name__)


def refresh(
    store: Store,
    settings: Settings,
    paths: list[Path | str] | None = None,
    *,
    quiet: bool = False,
    workers: int = 1,
    force: bool = False,
) -> IngestReport:
    """Ingest what is new (with a progress bar for long runs) and say what happened on stderr."""
    from digests.ingest.sources import ingest_sources, plan_ingest

    plan = plan_ingest(store, settings, now=now(), paths=paths or [], force=force)
    # One run, so ingest_sources' own fetcher is this process's one (made only when a feed
    # or page is due: the HTTP and feed libraries are not loaded otherwise).
    # plan.total reads JSON Lines files through to count their lines: only for a bar.
    if quiet or not err.is_terminal or plan.total < _PROGRESS_MIN:
        report = ingest_sources(store, settings, now=now(), plan=plan, workers=workers)
    else:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        columns = (
            TextColumn("ingesting"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err, transient=True) as bar:
            task = bar.add_task("ingest", total=plan.total)
            report = ingest_sources(
                store,
                settings,
                now=now(),
                plan=plan,
                workers=workers,
                on_progress=lambda _: bar.advance(task),
            )
    for locator, reason in report.failed:
        warn("skipped", locator, reason)
    if not quiet or report.added or report.failed:
        err.print(f"ingest: {safe(report.line())}")
    _learn_topics(store, settings, report.added, quiet=quiet)
    return report


def _learn_topics(store: Store, settings: Settings, added: list[int], *, quiet: bool) -> None:
    """Tag what came in with the learned topics, refitting them when enough is new."""
    from digests.refit import refresh as refresh_topics

    # A first fit encodes a sample of up to ~250k tokens (~40 s on two cores): a spinner on a
    # terminal says what the pause is (nothing is printed elsewhere: rich's status is transient).
    spinner = err.status("topics: learning what each topic means…") if not quiet else nullcontext()
    try:
        with spinner:
            topics = refresh_topics(store, settings.topics, now=now(), added=added)
    except Exception as exc:  # the articles are stored; their tags stay the keyword ones
        log.warning("topics not refreshed: %s", exc, exc_info=log.isEnabledFor(logging.DEBUG))
        err.print(f"[yellow]warning:[/] topics not refreshed: {safe(exc)}")
        return
    if (topics.fitted or topics.busy) and not quiet:
        err.print(f"topics: {safe(topics.line())}")


def ingest_cmd(
    paths: Annotated[
        list[str] | None,
        typer.Argument(help="Files, folders, or feed/page URLs (default: configured sources)."),
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Processes for extract+summarize.")
    ] = os.cpu_count() or 1,
    allow_private: Annotated[
        bool,
        typer.Option("--allow-private-networks", help="Let URLs reach loopback/private addresses."),
    ] = False,
) -> None:
    """Ingest new or changed articles (unchanged files are skipped by content hash).

    Exits 1 when any input or source failed (each is listed; everything else is ingested).
    """
    settings = state.settings()
    if allow_private:
        settings = settings.model_copy(update={"allow_private_networks": True})
    store = open_store(settings)
    report = refresh(store, settings, list(paths or []), workers=workers, force=True)
    # One rule, named inputs or configured sources alike: anything that failed is exit 1 (a
    # cron job or a script notices); the report line above already said what got in.
    if report.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the ingest command."""
    app.command("ingest")(ingest_cmd)
