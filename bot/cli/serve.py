"""`digestbot serve` and `digestbot discord register`: the chat side, imported only when run."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli._app import state
from bot.cli.output import err, safe

discord_app = typer.Typer(no_args_is_help=True, help="Discord: register the /brief command.")


def serve_cmd() -> None:
    """Run the bot: Slack (HTTP, or Socket Mode with SLACK_APP_TOKEN), Discord and Mattermost
    (HTTP), with the scheduler and the outbox.

    Listens on $HOST:$PORT (default 0.0.0.0:3000: /healthz, /readyz, /metrics and the
    platforms' endpoints). Its settings come from the environment, at least one platform's:
    SLACK_BOT_TOKEN + SLACK_SIGNING_SECRET, DISCORD_PUBLIC_KEY + DISCORD_APPLICATION_ID, or
    MATTERMOST_URL (+ MATTERMOST_COMMAND_TOKEN for /brief); README.md's Slack, Discord and
    Mattermost sections explain each."""
    import logging
    import os

    from bot.logs import set_level
    from bot.serve import run_serve  # heavy imports only when serving

    set_level(logging.WARNING)  # the config's warnings go to the log (serve logs from INFO)
    log = logging.getLogger(__name__)
    run_serve(state.settings(report=lambda line: log.warning("config: %s", line)), os.environ)


@discord_app.command("register")
def register_cmd(
    guild: Annotated[
        str | None,
        typer.Option(help="Register in one server (guild id) only: updates at once, for testing."),
    ] = None,
) -> None:
    """Register the /brief command with Discord (needs DISCORD_APPLICATION_ID, DISCORD_BOT_TOKEN)."""
    import os

    from bot.platforms.discord.register import register_slash_commands

    names = register_slash_commands(os.environ, guild=guild)
    where = f"server {guild}" if guild else "all servers (may take a while to show)"
    err.print(safe(f"registered {names} for {where}"))


def register(app: typer.Typer) -> None:
    """Add serve and the discord group."""
    app.command("serve")(serve_cmd)
    app.add_typer(discord_app, name="discord")
