"""The `digestbot` Typer app, its global options and the state they set.

Heavy libraries are imported inside the commands that need them, never here: ``--help``
and the terminal commands must start fast (see tests/bot/test_cli_start.py).
"""

from __future__ import annotations

from collections.abc import Callable
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


def _system_clock() -> datetime:
    return datetime.now(UTC)


class State:
    """Settings chosen by the global options, resolved lazily so --help needs no config."""

    config_dir: Path | None = None
    verbose: bool = False
    warned: bool = False  # the config's warnings are said once per command

    def __init__(self) -> None:
        # The one clock every command reads "now" from (see :func:`now`); a test sets its own.
        self.clock: Callable[[], datetime] = _system_clock

    def settings(self, *, report: Callable[[str], None] | None = None) -> Settings:
        """The validated settings (config folder found as the README describes); what the
        config says that cannot work as meant is reported, a line each, the first time:
        on stderr, or to ``report`` (``serve``: its log)."""
        from bot.settings import load_core_settings
        from digests.config import config_warnings

        settings = load_core_settings(None, self.config_dir)
        if not self.warned:
            self.warned = True
            for line in config_warnings(settings):
                if report is not None:
                    report(line)
                else:
                    from bot.cli.output import warning_line

                    warning_line(line)
        return settings


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
    state.warned = False
    configure_logging(
        verbose=verbose,
        fmt=(log_format.value if log_format else None)
        or os.environ.get("DIGESTBOT_LOG_FORMAT", "").strip()  # blank counts as unset
        or "human",
    )


def now() -> datetime:
    """The current time: read here, at the edge, and passed down."""
    return state.clock()


def open_store(settings: Settings) -> Store:
    """The store the settings name (migrated on first use)."""
    from datetime import timedelta

    from digests.sealing import Sealer
    from digests.store import Store

    store = Store.open(settings.database_url, sealer=Sealer.from_settings(settings))
    store.seal_pending()  # with a key: secrets stored plain (or with the previous key) sealed
    store.articles.story_window = timedelta(days=settings.story_window_days)
    store.topics.feedback_workspaces = settings.feedback_workspaces
    return store
