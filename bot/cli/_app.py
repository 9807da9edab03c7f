"""The `digestbot` Typer app, its global options and the state they set.

Heavy libraries are imported inside the commands that need them, never here: ``--help``
and the terminal commands must start fast (see tests/bot/test_cli_start.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from digests.config import Settings
    from digests.store import Store

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="News digests and cited topic briefs from the articles you feed it.",
)


class Format(StrEnum):
    """Output of the terminal commands."""

    text = "text"
    json = "json"


class LineFormat(StrEnum):
    """Output of the per-file commands (extract, summarize)."""

    jsonl = "jsonl"
    text = "text"


class LogFormat(StrEnum):
    """How log records are written to stderr."""

    human = "human"
    json = "json"


class State:
    """Settings chosen by the global options, resolved lazily so --help needs no config."""

    config_dir: Path | None = None
    verbose: bool = False

    def settings(self) -> Settings:
        """The validated settings (config folder found as the README describes)."""
        from bot.settings import load_core_settings

        return load_core_settings(None, self.config_dir)


state = State()


@app.callback()
def _options(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Config folder (default: $DIGESTBOT_CONFIG_DIR, ./config, then the user config folder).",
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log details and tracebacks to stderr.")
    ] = False,
    log_format: Annotated[
        LogFormat | None,
        typer.Option(
            "--log-format",
            help="Log records as human text or JSON lines (default $DIGESTBOT_LOG_FORMAT or human).",
        ),
    ] = None,
) -> None:
    import os

    from bot.logs import configure_logging

    state.config_dir = config
    state.verbose = verbose
    configure_logging(
        verbose=verbose,
        fmt=(log_format.value if log_format else None)
        or os.environ.get("DIGESTBOT_LOG_FORMAT")
        or "human",
    )


def now() -> datetime:
    """The current time: read here, at the edge, and passed down."""
    return datetime.now(UTC)


def open_store(settings: Settings) -> Store:
    """The store the settings name (migrated on first use)."""
    from datetime import timedelta

    from digests.sealing import Sealer
    from digests.store import Store

    store = Store.open(settings.database_url, sealer=Sealer.from_settings(settings))
    store.articles.story_window = timedelta(days=settings.story_window_days)
    return store
