"""`digestbot status`: delivery health from the database (what /healthz and /readyz say)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from bot.cli._app import Format, open_store, state
from bot.cli.output import err, out, safe


def status_cmd(
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.text,
    as_json: Annotated[
        bool, typer.Option("--json", hidden=True, help="Deprecated: use --format json.")
    ] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Also read the whole SQLite file for damage (slow on a large file)."
        ),
    ] = False,
) -> None:
    """Delivery health: messages waiting, unknown outcomes, refused parts, failed runs.

    Exits 1 when delivery is in trouble (the rule /healthz and /readyz apply), whatever the
    format. ``--check`` first reads every page of a SQLite file (``PRAGMA quick_check``,
    seconds per GB): a damaged file is exit 1 with what to do. Without it, status reads
    only what its queries need, so it stays quick however large the file is.
    """
    import os
    from datetime import UTC, datetime

    from bot.delivery_health import delivery_health
    from bot.settings import load_serve_env
    from bot.sweep import Timings

    if as_json:  # the spelling before --format; kept so scripts keep working
        err.print("[yellow]warning:[/] --json is deprecated; use --format json")
        fmt = Format.json
    store = open_store(state.settings())
    if check:
        store.check_integrity()  # a damaged file is exit 1 with what to do, never "delivery: ok"
    lease = load_serve_env(os.environ).outbox_lease  # serve's lease sets its verify window
    timings = Timings(lease=lease) if lease else None
    health = delivery_health(store, now=datetime.now(UTC), timings=timings)
    if fmt is Format.json:
        out.print_json(json.dumps(health.as_dict()))
        if not health.ok:
            raise typer.Exit(1)
        return
    out.print(safe(f"delivery: {'ok' if health.ok else 'TROUBLE'}"))
    out.print(safe(f"  waiting {health.waiting} (oldest {health.overdue_seconds:.0f} s overdue), "
                   f"checking {health.unknown} unknown outcome(s), refused {health.dead}"))  # fmt: skip
    for problem in health.problems:
        out.print(safe(f"  - {problem}"))
    for line in health.retrying:  # failed once or more, tried again: not trouble yet
        out.print(safe(f"  retrying: {line}"))
    for line in health.paused:  # told once, in the reason: not trouble
        out.print(safe(f"  paused: {line}"))
    for note in health.unverified:
        out.print(safe(f"  note: not verified, assumed delivered: {note}"))
    if store.engine.dialect.name == "sqlite":
        # Never "ok" about pages no query read: say how to have them all checked.
        out.print(
            "  database file: read whole, no damage found"
            if check
            else "  database file: not read whole for damage (digestbot status --check)"
        )
    if not health.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `digestbot status`."""
    app.command("status")(status_cmd)
