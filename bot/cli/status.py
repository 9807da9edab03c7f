"""`digestbot status`: delivery health from the database (what /readyz says), in one table."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from bot.cli._app import open_store, state
from bot.cli.output import out, safe


def status_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Delivery health: messages waiting, unknown outcomes, refused parts, failed runs."""
    from datetime import UTC, datetime

    from bot.delivery_health import delivery_health

    store = open_store(state.settings())
    health = delivery_health(store, now=datetime.now(UTC))
    if as_json:
        out.print_json(json.dumps(health.as_dict()))
        return
    out.print(safe(f"delivery: {'ok' if health.ok else 'TROUBLE'}"))
    out.print(safe(f"  waiting {health.waiting} (oldest {health.overdue_seconds:.0f} s overdue), "
                   f"checking {health.unknown} unknown outcome(s), refused {health.dead}"))  # fmt: skip
    for problem in health.problems:
        out.print(safe(f"  - {problem}"))
    if not health.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `digestbot status`."""
    app.command("status")(status_cmd)
