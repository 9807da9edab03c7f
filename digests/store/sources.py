"""Per-source fetch state (conditional-GET validators), health and the shared poll schedule.

Polling is work shared through the database (docs/ARCHITECTURE.md): each scheduled source
has its next poll time in its row; :meth:`Sources.claim` takes a batch of due rows (``FOR
UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent replicas never take the same row) and moves
their ``next_poll_at`` one lease ahead. The claimer polls them and calls :meth:`Sources.finish`
with the next time; a replica killed mid-poll leaves its rows to come due again when the
lease runs out. SQLite runs the same statements (it has no row locks: one process).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Engine, delete, insert, select, update

from digests.errors import InputError
from digests.store._engine import as_utc, once_more_on_conflict
from digests.store.schema import sources


class SourceSpec(Protocol):
    """What a configured source says (``digests.config.SourceConfig`` fits)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def location(self) -> str: ...
    @property
    def tags(self) -> Sequence[str]: ...
    @property
    def poll_minutes(self) -> int: ...


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
    origin: str | None = None  # config | cli | None (a URL ingested once by hand)
    tags: tuple[str, ...] = ()
    poll_seconds: int | None = None
    next_poll_at: datetime | None = None  # None: not polled on a schedule
    claimed_by: str | None = None

    @property
    def scheduled(self) -> bool:
        return self.next_poll_at is not None


class Sources:
    """Source rows: one per configured folder, feed or page."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @once_more_on_conflict  # processes starting together create the same row
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

    # -- the schedule: seeded from config, edited at run time, claimed by replicas -------------

    @once_more_on_conflict  # replicas starting together seed the same rows
    def seed(self, configured: Sequence[SourceSpec], *, now: datetime) -> None:
        """Make the config's sources scheduled rows (new ones due now); retire removed ones.

        A source dropped from the config keeps its row (and health) but is no longer polled.
        """
        names = {c.name for c in configured}
        with self._engine.begin() as conn:
            rows = {r["name"]: r for r in conn.execute(select(sources)).mappings()}
            for c in configured:
                values = {
                    "kind": c.kind,
                    "location": c.location,
                    "tags": list(c.tags),
                    "poll_seconds": int(c.poll_minutes) * 60,
                    "origin": "config",
                }
                row = rows.get(c.name)
                if row is None:
                    conn.execute(
                        insert(sources).values(
                            name=c.name, consecutive_failures=0, next_poll_at=now, **values
                        )
                    )
                    continue
                if row["location"] != c.location or row["kind"] != c.kind:
                    values.update(etag=None, last_modified=None)
                if row["next_poll_at"] is None:
                    values["next_poll_at"] = now
                if any(row[k] != v for k, v in values.items()):
                    conn.execute(update(sources).where(sources.c.id == row["id"]).values(values))
            for name, row in rows.items():
                if row["origin"] == "config" and name not in names:
                    conn.execute(
                        update(sources)
                        .where(sources.c.id == row["id"])
                        .values(origin=None, next_poll_at=None, claimed_by=None)
                    )

    def add(
        self,
        name: str,
        *,
        kind: str,
        location: str,
        tags: Sequence[str] = (),
        poll_seconds: int,
        now: datetime,
    ) -> SourceState:
        """Schedule a source added at run time (``digestbot sources add``); due now."""
        values = {
            "kind": kind,
            "location": location,
            "tags": list(tags),
            "poll_seconds": poll_seconds,
            "origin": "cli",
            "next_poll_at": now,
            "claimed_by": None,
        }
        with self._engine.begin() as conn:
            row = conn.execute(select(sources).where(sources.c.name == name)).mappings().first()
            if row is not None and row["next_poll_at"] is not None:
                where = "sources.toml" if row["origin"] == "config" else "digestbot sources add"
                raise InputError(f"a source named {name!r} already exists (from {where})")
            taken = conn.execute(
                select(sources.c.name).where(
                    sources.c.location == location, sources.c.next_poll_at.is_not(None)
                )
            ).first()
            if taken is not None:
                raise InputError(f"{location} is already polled as {taken[0]!r}")
            if row is None:
                conn.execute(insert(sources).values(name=name, consecutive_failures=0, **values))
            else:  # a URL seen before (ingested by hand): keep its entries and validators
                if row["location"] != location or row["kind"] != kind:
                    values.update(etag=None, last_modified=None)
                conn.execute(update(sources).where(sources.c.id == row["id"]).values(values))
            row = conn.execute(select(sources).where(sources.c.name == name)).mappings().one()
        return _to_state(row)

    def remove(self, name: str) -> None:
        """Forget a source added at run time, with the entries it has seen."""
        with self._engine.begin() as conn:
            row = conn.execute(select(sources).where(sources.c.name == name)).mappings().first()
            if row is None:
                raise InputError(f"no source named {name!r} (see `digestbot sources list`)")
            if row["origin"] == "config":
                raise InputError(f"{name!r} comes from sources.toml: remove it there")
            conn.execute(delete(sources).where(sources.c.id == row["id"]))

    def claim(
        self, owner: str, *, now: datetime, limit: int, lease: timedelta
    ) -> list[SourceState]:
        """Take up to ``limit`` due sources (oldest due first) for ``lease``; see module doc."""
        if limit < 1:
            return []
        due = (
            select(sources.c.id)
            .where(sources.c.next_poll_at <= now)
            .order_by(sources.c.next_poll_at, sources.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self._engine.begin() as conn:
            ids = list(conn.scalars(due))
            if not ids:
                return []
            conn.execute(
                update(sources)
                .where(sources.c.id.in_(ids))
                .values(next_poll_at=now + lease, claimed_by=owner)
            )
            rows = conn.execute(select(sources).where(sources.c.id.in_(ids))).mappings().all()
        by_id = {r["id"]: r for r in rows}
        return [_to_state(by_id[i]) for i in ids]

    def finish(self, source_id: int, owner: str, *, next_poll_at: datetime) -> bool:
        """Release a claim and set the next poll; False if the claim was lost (lease ran out)."""
        with self._engine.begin() as conn:
            done = conn.execute(
                update(sources)
                .where(sources.c.id == source_id, sources.c.claimed_by == owner)
                .values(next_poll_at=next_poll_at, claimed_by=None)
            )
            return bool(done.rowcount)

    def release(self, owner: str, *, now: datetime) -> int:
        """Hand back every claim of ``owner`` (a clean shutdown): due again at ``now``."""
        with self._engine.begin() as conn:
            done = conn.execute(
                update(sources)
                .where(sources.c.claimed_by == owner, sources.c.next_poll_at.is_not(None))
                .values(next_poll_at=now, claimed_by=None)
            )
            return int(done.rowcount)

    def get(self, name: str) -> SourceState | None:
        """One source by name."""
        with self._engine.connect() as conn:
            row = conn.execute(select(sources).where(sources.c.name == name)).mappings().first()
        return _to_state(row) if row is not None else None

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
        origin=row["origin"],
        tags=tuple(row["tags"] or ()),
        poll_seconds=row["poll_seconds"],
        next_poll_at=as_utc(row["next_poll_at"]),
        claimed_by=row["claimed_by"],
    )
