"""Per-source fetch state (conditional-GET validators) and health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select, update

from digests.store._engine import as_utc
from digests.store.schema import sources


@dataclass(frozen=True, slots=True)
class SourceState:
    """What we remember about a source between polls."""

    id: int
    name: str
    kind: str
    location: str
    etag: str | None
    last_modified: str | None
    consecutive_failures: int
    last_error: str | None
    last_polled_at: datetime | None
    last_ok_at: datetime | None


class Sources:
    """Source rows: one per configured folder, feed or page."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def ensure(self, name: str, *, kind: str, location: str) -> SourceState:
        """The state of a source, created on first sight."""
        with self._engine.begin() as conn:
            row = conn.execute(select(sources).where(sources.c.name == name)).mappings().first()
            if row is None:
                conn.execute(
                    insert(sources).values(
                        name=name, kind=kind, location=location, consecutive_failures=0
                    )
                )
            elif row["location"] != location or row["kind"] != kind:
                conn.execute(
                    update(sources)
                    .where(sources.c.name == name)
                    .values(kind=kind, location=location, etag=None, last_modified=None)
                )
            row = conn.execute(select(sources).where(sources.c.name == name)).mappings().one()
        return _to_state(row)

    def succeeded(
        self, name: str, *, now: datetime, etag: str | None = None, last_modified: str | None = None
    ) -> None:
        """Record a good poll (and the validators for the next conditional GET)."""
        with self._engine.begin() as conn:
            conn.execute(
                update(sources)
                .where(sources.c.name == name)
                .values(
                    consecutive_failures=0,
                    last_error=None,
                    last_polled_at=now,
                    last_ok_at=now,
                    etag=etag,
                    last_modified=last_modified,
                )
            )

    def failed(self, name: str, *, now: datetime, error: str) -> None:
        """Record a failed poll; failures in a row are counted."""
        with self._engine.begin() as conn:
            conn.execute(
                update(sources)
                .where(sources.c.name == name)
                .values(
                    consecutive_failures=sources.c.consecutive_failures + 1,
                    last_error=error,
                    last_polled_at=now,
                )
            )

    def all(self) -> list[SourceState]:
        """Every known source, by name."""
        with self._engine.connect() as conn:
            return [
                _to_state(r)
                for r in conn.execute(select(sources).order_by(sources.c.name)).mappings()
            ]


def _to_state(row) -> SourceState:  # type: ignore[no-untyped-def]
    return SourceState(
        id=int(row["id"]),
        name=row["name"],
        kind=row["kind"],
        location=row["location"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        consecutive_failures=int(row["consecutive_failures"]),
        last_error=row["last_error"],
        last_polled_at=as_utc(row["last_polled_at"]),
        last_ok_at=as_utc(row["last_ok_at"]),
    )
