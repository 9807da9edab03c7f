"""`digestbot sources` (health) and `sources add/remove/list` (the poll schedule)."""

from __future__ import annotations

import typer

from bot.cli._app import state
from bot.cli.output import err, out


def register(app: typer.Typer) -> None:
    """Add the sources group (built in bot.commands_sources)."""
    from bot.commands_sources import make_sources_app

    app.add_typer(make_sources_app(state.settings, out=out, err=err), name="sources")
