"""Per-source fetch state (conditional-GET validators), health and the shared poll schedule.

Polling is work shared through the database (docs/ARCHITECTURE.md): each scheduled source
has its next poll time in its row; :meth:`Sources.claim` takes a batch of due rows (``FOR
UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent replicas never take the same row) and moves
their ``next_poll_at`` one lease ahead. The claimer polls them and calls :meth:`Sources.finish`
with the next time; a replica killed mid-poll leaves its rows to come due again when the
lease runs out. SQLite runs the same statements (it has no row locks: one process).

Thousands of feeds make this bookkeeping the per-poll cost worth watching, so a poll costs
one statement here: the claim is one ``UPDATE ... RETURNING`` over the locked due rows, and
a poll's health (:class:`Health`) is written by the same ``UPDATE`` that releases its claim.
:meth:`Sources.settle` records several finished polls and claims the next batch in one
transaction. On PostgreSQL that transaction does not wait for its WAL flush
(``synchronous_commit = off``): other sessions see it at once, and a server crash can lose
only the last few bookkeeping writes — a source polled once more, its entries still
deduplicated by ``feed_items``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import ColumnElement, Connection, Engine, Update, delete, insert, select, update

from digests.errors import InputError, KeyMissing
from digests.net.util import holds_secret, redact
from digests.sealing import MISSING_KEY, Sealer
from digests.store._faults import once_more_on_conflict
from digests.store.schema import as_utc, feed_items, sources
from digests.store.sealed import plain_secret_written


def shut_line(location: str, names: list[str]) -> str:
    """Why `sources add` and `ingest URL` refuse ``location``: the sources (from
    :meth:`Sources.shut_to`) whose sealed URL no key given opens may be it, and a second source
    polling one URL is what the refusal prevents. One line, secrets redacted."""
    shown = ", ".join(repr(redact(n)) for n in names[:3]) + (
        f" and {len(names) - 3} more" if len(names) > 3 else ""
    )
    one = len(names) == 1
    return (
        f"{redact(location)} may already be polled as {shown}: "
        f"{'its URL is' if one else 'their URLs are'} {MISSING_KEY}; or, if "
        f"{'it is' if one else 'they are'} another URL, `digestbot sources remove "
        f"{redact(names[0]) if one else 'NAME'}` first"
    )


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
    # Its location is sealed with a key this process was not given: ``location`` is the
    # sealed text (a lookup key only); polling it fails, alone (digests.ingest.sources).
    key_missing: bool = False

    @property
    def scheduled(self) -> bool:
        return self.next_poll_at is not None


@dataclass(frozen=True, slots=True)
class Health:
    """How one poll went: written with the poll's outcome (and its next time, if scheduled)."""

    polled_at: datetime
    error: str | None = None  # the poll failed, and why: failures in a row are counted
    etag: str | None = None  # a good poll: the validators for the next conditional GET
    last_modified: str | None = None
    note: str | None = None  # a good poll with a problem worth showing (a malformed feed)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class Finished:
    """A claimed poll that is over: release the claim, set the next time, record its health."""

    source_id: int
    next_poll_at: datetime
    health: Health | None = None  # None: schedule only (the poll could not say how it went)


def _health_values(health: Health | None) -> dict[str, object]:
    if health is None:
        return {}
    if not health.ok:
        return {
            "consecutive_failures": sources.c.consecutive_failures + 1,
            "last_error": health.error,
            "last_polled_at": health.polled_at,
        }
    return {
        "consecutive_failures": 0,
        "last_error": health.note,
        "last_polled_at": health.polled_at,
        "last_ok_at": health.polled_at,
        "etag": health.etag,
        "last_modified": health.last_modified,
    }


def _async_commit(conn: Connection) -> None:
    """Poll bookkeeping need not wait for the WAL flush (see the module docstring)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")


class Sources:
    """Source rows: one per configured folder, feed or page.

    A location holding a secret (``https://user:pw@host/feed?api_key=…``, see
    :func:`~digests.net.util.holds_secret`) is stored sealed when a key is set, deterministically
    (``siv:``) so it stays a lookup key; every :class:`SourceState` carries it opened.
    """

    def __init__(self, engine: Engine, sealer: Sealer | None = None) -> None:
        self._engine = engine
        self._sealer = sealer or Sealer()

    def _stored(self, location: str) -> str:
        """``location`` as its row holds it: sealed when it holds a secret and a key is set."""
        return self._sealer.seal_fixed(location) if holds_secret(location) else location

    def _at(self, location: str) -> ColumnElement[bool]:
        """The rows whose location is ``location``, sealed (with the current key or, during a
        rotation, a previous one) or still plain (stored before the key was set; ``serve``
        seals those at start)."""
        forms = self._sealer.fixed_forms(location) if holds_secret(location) else [location]
        return sources.c.location.in_(sorted(set(forms)))

    def _state(self, row) -> SourceState:  # type: ignore[no-untyped-def]
        opened = self._opened(row["location"])
        if opened is None:  # sealed with a key not given: this source alone cannot be polled
            return replace(_to_state(row, row["location"]), key_missing=True)
        return _to_state(row, opened)

    def _opened(self, stored: str) -> str | None:
        """The plain location of a row, or None when no key given opens it."""
        try:
            return self._sealer.open(stored) or ""
        except KeyMissing:
            return None

    def _written(self, conn: Connection, stored: str) -> None:
        """About to write ``stored``: a secret written plain (no key in this process) is
        sealed by the next command that has one (digests/store/sealed.py)."""
        if not self._sealer.enabled and holds_secret(stored):
            plain_secret_written(conn)

    def _holds(self, stored: str, location: str) -> bool:
        """Whether a row holding ``stored`` is at ``location`` (a row no key given opens is
        not, unless ``location`` is its sealed text: then it is rewritten with this key)."""
        return stored == location or self._opened(stored) == location

    @once_more_on_conflict  # processes starting together create the same row
    def ensure(self, name: str, *, kind: str, location: str) -> SourceState:
        """The state of a source, created on first sight."""
        stored = self._stored(location)
        with self._engine.begin() as conn:
            row = conn.execute(select(sources).where(sources.c.name == name)).mappings().first()
            if row is None:
                self._written(conn, stored)
                conn.execute(
                    insert(sources).values(
                        name=name, kind=kind, location=stored, consecutive_failures=0
                    )
                )
            elif not self._holds(row["location"], location) or not _same_kind(row["kind"], kind):
                self._written(conn, stored)
                conn.execute(
                    update(sources)
                    .where(sources.c.name == name)
                    .values(kind=kind, location=stored, etag=None, last_modified=None)
                )
            row = conn.execute(select(sources).where(sources.c.name == name)).mappings().one()
        return self._state(row)

    def succeeded(
        self, name: str, *, now: datetime, etag: str | None = None, last_modified: str | None = None
    ) -> None:
        """Record a good poll (and the validators for the next conditional GET)."""
        self.record(name, Health(now, etag=etag, last_modified=last_modified))

    def failed(self, name: str, *, now: datetime, error: str) -> None:
        """Record a failed poll; failures in a row are counted."""
        self.record(name, Health(now, error=error))

    def tagged(self, name: str, tags: Sequence[str]) -> None:
        """Record the tags a configured source's stored articles were given (see :meth:`seed`)."""
        with self._engine.begin() as conn:
            conn.execute(update(sources).where(sources.c.name == name).values(tags=list(tags)))

    def record(self, name: str, health: Health) -> None:
        """Record how a poll went, outside any claim (one statement)."""
        with self._engine.begin() as conn:
            conn.execute(
                update(sources).where(sources.c.name == name).values(_health_values(health))
            )

    # -- the schedule: seeded from config, edited at run time, claimed by replicas -------------

    @once_more_on_conflict  # replicas starting together seed the same rows
    def seed(self, configured: Sequence[SourceSpec], *, now: datetime) -> None:
        """Make the config's sources scheduled rows (new ones due now); retire removed ones.

        A source dropped from the config keeps its row (and health) but is no longer polled.
        Its ``tags`` are not written here: they are the tags its stored articles were given,
        written (:meth:`tagged`) when its articles are re-tagged after a change, the next
        time it is read or polled (digests.ingest.sources).
        """
        names = {c.name for c in configured}
        with self._engine.begin() as conn:
            rows = {r["name"]: r for r in conn.execute(select(sources)).mappings()}
            for c in configured:
                values = {
                    "kind": c.kind,
                    "location": self._stored(c.location),
                    "poll_seconds": int(c.poll_minutes) * 60,
                    "origin": "config",
                }
                row = rows.get(c.name)
                if row is None or row["location"] != values["location"]:
                    self._written(conn, str(values["location"]))
                if row is None:
                    conn.execute(
                        insert(sources).values(
                            name=c.name, consecutive_failures=0, next_poll_at=now, **values
                        )
                    )
                    continue
                if not self._holds(row["location"], c.location) or row["kind"] != c.kind:
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
            "location": self._stored(location),
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
                    self._at(location), sources.c.next_poll_at.is_not(None)
                )
            ).first()
            if taken is not None:
                raise InputError(f"{redact(location)} is already polled as {taken[0]!r}")
            self._written(conn, str(values["location"]))
            if row is None:
                conn.execute(insert(sources).values(name=name, consecutive_failures=0, **values))
            else:  # a URL seen before (ingested by hand): keep its entries and validators
                if not self._holds(row["location"], location) or row["kind"] != kind:
                    values.update(etag=None, last_modified=None)
                conn.execute(update(sources).where(sources.c.id == row["id"]).values(values))
            row = conn.execute(select(sources).where(sources.c.name == name)).mappings().one()
        return self._state(row)

    def reschedule(self, name: str, *, poll_seconds: int, now: datetime) -> SourceState:
        """Give a source added at run time a new poll interval: due no later than one new
        interval from ``now`` (a poll under way keeps its lease and then follows the new one)."""
        c = sources.c
        with self._engine.begin() as conn:
            row = conn.execute(select(sources).where(c.name == name)).mappings().first()
            if row is None or row["next_poll_at"] is None:
                raise InputError(f"no source named {name!r} (see `digestbot sources list`)")
            if row["origin"] == "config":
                raise InputError(f"{name!r} comes from sources.toml: change its interval there")
            conn.execute(update(sources).where(c.id == row["id"]).values(poll_seconds=poll_seconds))
            sooner = now + timedelta(seconds=poll_seconds)
            conn.execute(
                update(sources)
                .where(c.id == row["id"], c.claimed_by.is_(None), c.next_poll_at > sooner)
                .values(next_poll_at=sooner)
            )
            row = conn.execute(select(sources).where(c.id == row["id"])).mappings().one()
        return self._state(row)

    def remove(self, name: str) -> None:
        """Forget a source added at run time, with the entries it has seen."""
        with self._engine.begin() as conn:
            row = conn.execute(select(sources).where(sources.c.name == name)).mappings().first()
            if row is None:
                raise InputError(f"no source named {name!r} (see `digestbot sources list`)")
            if row["origin"] == "config":
                raise InputError(f"{name!r} comes from sources.toml: remove it there")
            conn.execute(delete(sources).where(sources.c.id == row["id"]))

    def forget(self, name: str) -> None:
        """Drop a source ingested once by hand whose fetch failed: a row that never worked
        and saw no entries goes; one that worked before keeps its last good health."""
        with self._engine.begin() as conn:
            row = conn.execute(select(sources).where(sources.c.name == name)).mappings().first()
            if row is None or row["origin"] is not None or row["next_poll_at"] is not None:
                return
            if (
                row["last_ok_at"] is None
                and not conn.execute(
                    select(feed_items.c.source_id)
                    .where(feed_items.c.source_id == row["id"])
                    .limit(1)
                ).first()
            ):
                conn.execute(delete(sources).where(sources.c.id == row["id"]))

    def claim(
        self, owner: str, *, now: datetime, limit: int, lease: timedelta
    ) -> list[SourceState]:
        """Take up to ``limit`` due sources (oldest due first) for ``lease``; see module doc."""
        return self.settle(owner, (), now=now, claim=limit, lease=lease)[1]

    def finish(
        self,
        source_id: int,
        owner: str,
        *,
        next_poll_at: datetime,
        health: Health | None = None,
    ) -> bool:
        """Release a claim and set the next poll; False if the claim was lost (lease ran out)."""
        done = Finished(source_id, next_poll_at, health)
        lost, _ = self.settle(owner, [done], now=next_poll_at, claim=0, lease=timedelta(0))
        return not lost

    def settle(
        self,
        owner: str,
        finished: Sequence[Finished],
        *,
        now: datetime,
        claim: int,
        lease: timedelta,
        renew: Sequence[int] = (),
    ) -> tuple[list[int], list[SourceState]]:
        """Finish polls and claim up to ``claim`` due sources, in one transaction.

        ``renew``: sources ``owner`` is still polling; their claims are moved a lease ahead of
        ``now`` (a poll longer than the lease is not taken for a dead replica's).

        Returns the ids whose claim was lost (the lease ran out and another replica took the
        source: its health and next time are then left to that replica; or the source was
        removed meanwhile, see :meth:`existing`) and the new claims.
        """
        lost: list[int] = []
        claimed: list[SourceState] = []
        if not finished and claim < 1 and not renew:
            return lost, claimed
        with self._engine.begin() as conn:
            _async_commit(conn)
            if renew:
                conn.execute(
                    update(sources)
                    .where(sources.c.id.in_(list(renew)), sources.c.claimed_by == owner)
                    .values(next_poll_at=now + lease)
                )
            for done in finished:
                row = conn.execute(
                    update(sources)
                    .where(sources.c.id == done.source_id, sources.c.claimed_by == owner)
                    .values(
                        next_poll_at=done.next_poll_at,
                        claimed_by=None,
                        **_health_values(done.health),
                    )
                    .returning(sources.c.id)
                ).first()
                if row is None:
                    lost.append(done.source_id)
            if claim > 0:
                claimed = self._claim(conn, owner, now=now, limit=claim, lease=lease)
        return lost, claimed

    def _claim(
        self, conn: Connection, owner: str, *, now: datetime, limit: int, lease: timedelta
    ) -> list[SourceState]:
        rows = conn.execute(claim_statement(owner, now=now, limit=limit, lease=lease)).mappings()
        return sorted((self._state(r) for r in rows), key=lambda s: s.id)

    def release(self, owner: str, *, now: datetime) -> int:
        """Hand back every claim of ``owner`` (a clean shutdown): due again at ``now``."""
        with self._engine.begin() as conn:
            done = conn.execute(
                update(sources)
                .where(sources.c.claimed_by == owner, sources.c.next_poll_at.is_not(None))
                .values(next_poll_at=now, claimed_by=None)
            )
            return int(done.rowcount)

    def existing(self, ids: Sequence[int]) -> set[int]:
        """Those of ``ids`` that are still sources (not removed)."""
        if not ids:
            return set()
        with self._engine.connect() as conn:
            return {int(i) for i in conn.scalars(select(sources.c.id).where(sources.c.id.in_(ids)))}

    def with_ids(self, ids: Sequence[int]) -> list[SourceState]:
        """The sources of these ids (those still known)."""
        if not ids:
            return []
        with self._engine.connect() as conn:
            rows = conn.execute(select(sources).where(sources.c.id.in_(list(ids)))).mappings()
            return [self._state(r) for r in rows]

    def get(self, name: str) -> SourceState | None:
        """One source by name."""
        with self._engine.connect() as conn:
            row = conn.execute(select(sources).where(sources.c.name == name)).mappings().first()
        return self._state(row) if row is not None else None

    def polling(self, location: str) -> SourceState | None:
        """The scheduled source that polls ``location``, if one does."""
        query = select(sources).where(self._at(location), sources.c.next_poll_at.is_not(None))
        with self._engine.connect() as conn:
            row = conn.execute(query.limit(1)).mappings().first()
        return self._state(row) if row is not None else None

    def shut_to(self, location: str) -> list[str]:
        """The scheduled sources that may poll ``location`` already, unknown to this process:
        each one's URL is sealed with a key not given (a key lost), so it cannot be compared.
        Only a URL holding a secret is ever sealed: for any other, none (by name). Nor for a
        process given no key at all: it writes secrets plain for the next process with the
        key to seal (store/sealed.py), and every sealed row is shut to it."""
        if not holds_secret(location) or not self._sealer.enabled:
            return []
        query = (
            select(sources.c.name, sources.c.location)
            .where(sources.c.next_poll_at.is_not(None), sources.c.location.like("siv:%"))
            .order_by(sources.c.name)
        )
        with self._engine.connect() as conn:
            return [r.name for r in conn.execute(query) if self._opened(r.location) is None]

    def declared_tags(self) -> list[tuple[str, tuple[str, ...]]]:
        """Each source added by `digestbot sources add` that declares tags: (name, tags), by
        name (no location read: nothing to unseal)."""
        query = (
            select(sources.c.name, sources.c.tags)
            .where(sources.c.origin == "cli")
            .order_by(sources.c.name)
        )
        with self._engine.connect() as conn:
            return [(r.name, tuple(r.tags)) for r in conn.execute(query) if r.tags]

    def all(self) -> list[SourceState]:
        """Every known source, by name."""
        with self._engine.connect() as conn:
            return [
                self._state(r)
                for r in conn.execute(select(sources).order_by(sources.c.name)).mappings()
            ]


def claim_statement(owner: str, *, now: datetime, limit: int, lease: timedelta) -> Update:
    """The claim, one statement: the due rows are locked (and skipped when another replica
    holds them) in the subquery, moved a lease ahead and returned by the same UPDATE."""
    # Ordered by next_poll_at alone, which ix_sources_next_poll_at serves with a LIMIT:
    # with an id tie-break, 10,000 sources due at once were sorted for every claim.
    due = (
        select(sources.c.id)
        .where(sources.c.next_poll_at <= now)
        .order_by(sources.c.next_poll_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return (
        update(sources)
        .where(sources.c.id.in_(due))
        .values(next_poll_at=now + lease, claimed_by=owner)
        .returning(*sources.c)
    )


def _to_state(row, location: str) -> SourceState:  # type: ignore[no-untyped-def]
    return SourceState(
        id=int(row["id"]),
        name=row["name"],
        kind=row["kind"],
        location=location,
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


def _same_kind(stored: str, kind: str) -> bool:
    """``kind`` is what the row says: a `sources add` row's "auto" is polled as a URL whose
    kind is found by fetching ("url"), and stays "auto" (its validators kept)."""
    return stored == kind or (stored, kind) == ("auto", "url")
