"""`digestbot sources`: every configured or polled source and its health, as a table or JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from rich.console import Console
from rich.table import Table

from digests.config import Settings
from digests.store import Store

_ERROR_WIDTH = 80  # long reasons are cut in the table; --format json keeps them whole


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One line of the table: what a source is and how its polls went."""

    name: str
    kind: str
    location: str
    last_polled: datetime | None
    last_ok: datetime | None
    failures: int
    last_error: str | None
    configured: bool


def source_rows(store: Store, settings: Settings) -> list[SourceRow]:
    """Configured sources first (in config order), then others polled before (URLs given once)."""
    known = {s.name: s for s in store.sources.all()}
    rows: list[SourceRow] = []
    for source in settings.sources:
        state = known.pop(source.name, None)
        rows.append(
            SourceRow(
                name=source.name,
                kind=source.kind,
                location=source.location,
                last_polled=state.last_polled_at if state else None,
                last_ok=state.last_ok_at if state else None,
                failures=state.consecutive_failures if state else 0,
                last_error=state.last_error if state else None,
                configured=True,
            )
        )
    for state in known.values():
        rows.append(
            SourceRow(
                name=state.name,
                kind=state.kind,
                location=state.location,
                last_polled=state.last_polled_at,
                last_ok=state.last_ok_at,
                failures=state.consecutive_failures,
                last_error=state.last_error,
                configured=False,
            )
        )
    return rows


def show_sources(store: Store, settings: Settings, *, console: Console, as_json: bool) -> None:
    """Print the sources table (or JSON) on ``console``."""
    rows = source_rows(store, settings)
    if as_json:
        console.print_json(json.dumps([_record(r) for r in rows]))
        return
    table = Table("name", "kind", "location", "last polled", "last ok", "failures", "last error")
    table.columns[2].overflow = "fold"  # a URL cut with "…" is useless: wrap it whole
    for r in rows:
        error = r.last_error or ""
        if len(error) > _ERROR_WIDTH:
            error = error[: _ERROR_WIDTH - 1] + "…"
        table.add_row(
            "" if r.name == r.location else r.name,  # a URL given on the command line
            r.kind,
            r.location,
            _when(r.last_polled),
            _when(r.last_ok),
            f"[red]{r.failures}[/]" if r.failures else "0",
            error,
        )
    console.print(table)


def _record(row: SourceRow) -> dict[str, object]:
    return {
        "name": row.name,
        "kind": row.kind,
        "location": row.location,
        "configured": row.configured,
        "last_polled": row.last_polled.isoformat() if row.last_polled else None,
        "last_ok": row.last_ok.isoformat() if row.last_ok else None,
        "consecutive_failures": row.failures,
        "last_error": row.last_error,
    }


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "never"
