"""Work one process at a time does on a database, whichever process (or replica) asks: a lease
held while the work runs, which another process finds taken and goes on without.

A lease is a row of ``leases``: its name, its holder (one id per taking) and when it runs out.
It is taken with one conditional write (the row's UPDATE where it has run out, else its INSERT
where there is none), so of any number of processes asking at once one gets it; a heartbeat
thread of the holder moves its expiry one :data:`LEASE` on every :data:`BEAT` seconds while the
work runs, and the holder deletes it when done. A holder that dies (``kill -9``, a host gone)
holds it until it runs out; then the next process to ask takes it.

Why a row, not PostgreSQL's session advisory lock (what this was): a session lock lives on
one server connection, which the holder does not touch while it works (a topic fit is a
minute of computing). pgbouncer in transaction mode hands that connection to other clients
between transactions, and ``idle_session_timeout``, ``idle_in_transaction_session_timeout``
or an operator's ``pg_terminate_backend`` end it: the lock went with it, silently, and a
second process fitted beside the first. An advisory lock in a transaction kept open on a
connection of its own survives a pooler but not a timeout or a termination, and nothing told
the holder it was gone. The row survives all of them (each renewal is a short transaction on
any connection); a holder that cannot renew in time (the database out of reach, the process
stalled) knows it has lost it, and every write made under the lease is fenced (:meth:`fence`:
in its own transaction, only while the row still names this holder), so what it computed
meanwhile is dropped, never written beside the next holder's. The same row serves SQLite: one
mechanism, tested the same way on both (the ``flock`` beside the file was released on a
crash at once; now the next fit waits for the lease to run out, as on PostgreSQL).

Time is the caller's (``clock``). Replicas compare expiries written by each other's clocks,
as the outbox's and the polls' leases do: :data:`LEASE` is far longer than clocks drift.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, delete, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from digests.errors import LeaseLost
from digests.store._faults import first_line, store_error
from digests.store.schema import leases

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)  # how long a lease lasts unrenewed: the wait after a holder dies
BEAT = 20.0  # seconds between a holder's renewals: six tries before it would run out


class Lease:
    """A lease this process holds (see the module doc): :func:`exclusive` takes it, renews it
    from a heartbeat thread and releases it."""

    def __init__(
        self, engine: Engine, name: str, holder: str, clock: Callable[[], datetime], until: datetime
    ) -> None:
        self._engine = engine
        self.name = name
        self.holder = holder
        self._clock = clock
        self._until = until  # the expiry last written
        self._lost = False

    @classmethod
    def take(cls, engine: Engine, name: str, *, clock: Callable[[], datetime]) -> Lease | None:
        """The lease ``name``, or None when another holder's has not run out."""
        now = clock()
        holder = f"{socket.gethostname()[:120]}:{os.getpid()}:{secrets.token_hex(8)}"
        until = now + LEASE
        upsert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        try:
            with engine.begin() as conn:
                # The UPDATE locks the row (PostgreSQL; SQLite's write lock, the file): a
                # second taker waits, then finds it no longer run out.
                taken = conn.execute(
                    update(leases)
                    .where(leases.c.name == name, leases.c.expires_at <= now)
                    .values(holder=holder, expires_at=until)
                ).rowcount
                if not taken:
                    taken = (
                        conn.execute(
                            upsert(leases)
                            .values(name=name, holder=holder, expires_at=until)
                            .on_conflict_do_nothing(index_elements=[leases.c.name])
                            .returning(leases.c.name)
                        ).first()
                        is not None
                    )
        except SQLAlchemyError as exc:
            raise store_error(f"cannot take the {name!r} lease: {first_line(exc)}", exc) from exc
        return cls(engine, name, holder, clock, until) if taken else None

    def renew(self) -> bool:
        """Move the expiry one :data:`LEASE` past now (what the heartbeat does); False, and
        lost for good, when the lease is no longer this holder's (it ran out and another
        process took it)."""
        if self._lost:
            return False
        until = self._clock() + LEASE
        with self._engine.begin() as conn:
            if self._move(conn, until):
                self._until = until
                return True
        self._lost = True
        return False

    def fence(self, conn: Connection) -> None:
        """In the transaction of a write made under the lease: raise :class:`LeaseLost`
        (rolling the write back) unless the lease is still this holder's. The row stays
        locked to the transaction's end, so no one takes the lease meanwhile."""
        if not self._lost and self._move(conn, self._clock() + LEASE):
            return
        self._lost = True
        raise LeaseLost(self._lost_message())

    def check(self) -> None:
        """Raise :class:`LeaseLost` when the heartbeat found the lease taken, or could not
        renew it before it ran out (another process may hold it now)."""
        if self._lost:
            raise LeaseLost(self._lost_message())

    def release(self) -> None:
        """Hand the lease back (a lost one is left to its new holder)."""
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    delete(leases).where(leases.c.name == self.name, leases.c.holder == self.holder)
                )
        except SQLAlchemyError as exc:  # it runs out by itself
            log.warning(
                "the %r lease was not handed back (%s): it is free at %s",
                self.name, first_line(exc), self._until.isoformat(timespec="seconds"),
            )  # fmt: skip

    def _beat(self, stop: threading.Event) -> None:
        """Renew every :data:`BEAT` seconds until ``stop`` (the heartbeat thread)."""
        while not stop.wait(BEAT):
            try:
                if self.renew():
                    continue
                log.warning("the %r lease was taken over: %s", self.name, self._lost_message())
                return
            except SQLAlchemyError as exc:
                if self._clock() < self._until:
                    log.warning(
                        "the %r lease was not renewed (%s); trying again, it runs out at %s",
                        self.name, first_line(exc), self._until.isoformat(timespec="seconds"),
                    )  # fmt: skip
                    continue
                self._lost = True
                log.warning("the %r lease ran out unrenewed (%s)", self.name, first_line(exc))
                return

    def _move(self, conn: Connection, until: datetime) -> bool:
        """Set the expiry to ``until`` if the lease is still this holder's."""
        return bool(
            conn.execute(
                update(leases)
                .where(leases.c.name == self.name, leases.c.holder == self.holder)
                .values(expires_at=until)
            ).rowcount
        )

    def _lost_message(self) -> str:
        return (
            f"the {self.name!r} lease ran out before the work was done (not renewed for "
            f"{LEASE.total_seconds():.0f} s) and may be another process's now: "
            "this process's result is dropped"
        )


@contextlib.contextmanager
def exclusive(
    engine: Engine, name: str, *, clock: Callable[[], datetime]
) -> Iterator[Lease | None]:
    """Hold the lease ``name`` on this database while the block runs (renewed meanwhile): the
    :class:`Lease`, or None at once when another process (or another holder in this one)
    has it."""
    lease = Lease.take(engine, name, clock=clock)
    if lease is None:
        yield None
        return
    with _old_lock(engine, name) as held:
        if not held:  # a replica of the release before 0026 is at it
            lease.release()
            yield None
            return
        with _renewed(engine, name, lease):
            yield lease


@contextlib.contextmanager
def _old_lock(engine: Engine, name: str) -> Iterator[bool]:
    """The lock the release before the lease row (migration 0026) took for ``name``, also
    taken while the lease is held, so that during a rolling upgrade a replica still running
    that release does not work beside this one (it knows no lease row): PostgreSQL's session
    advisory lock of the same key, on a connection of its own, or the ``flock`` beside a
    SQLite file. True when held, or at once False when an old replica holds it. Its faults
    are the old lock's (a pooler or a timeout ends it); the lease is what new replicas go by,
    but a live holder whose lease ran out (stalled) keeps this lock, and so the next fit off,
    until it lets go (its next fenced write raises LeaseLost) or its connection ends.
    Removable one release after 0026, once no replica of the one before it can run."""
    if engine.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        try:
            conn = engine.connect()
        except SQLAlchemyError as exc:
            raise store_error(f"cannot take the {name!r} lock: {first_line(exc)}", exc) from exc
        with conn:
            held = bool(conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}))
            conn.commit()  # a session lock: no transaction left open while the work runs
            try:
                yield held
            finally:
                if held:
                    with contextlib.suppress(SQLAlchemyError):  # gone with its connection
                        conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                        conn.commit()
        return
    database = engine.url.database
    try:
        import fcntl
    except ImportError:  # digestbot runs on POSIX
        database = None
    if database in (None, "", ":memory:"):
        yield True
        return
    with os.fdopen(
        os.open(f"{database}.{name}.lock", os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600), "a"
    ) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _renewed(engine: Engine, name: str, lease: Lease) -> Iterator[None]:
    """Renew ``lease`` from a heartbeat thread while the block runs, then release it."""
    stop = threading.Event()
    beat = None
    # An in-memory database is one connection per thread: a heartbeat thread's would be
    # another, empty database (and one process is all that sees it).
    if engine.url.database not in (None, "", ":memory:") or engine.dialect.name != "sqlite":
        beat = threading.Thread(target=lease._beat, args=(stop,), name=f"lease {name}", daemon=True)
        beat.start()
    try:
        yield
    finally:
        stop.set()
        if beat is not None:
            beat.join(BEAT)  # a renewal stuck on the database: it can renew nothing released
        lease.release()


@contextlib.contextmanager
def file_lock(path: str) -> Iterator[None]:
    """An OS lock (``flock``) on the file ``path``, waited for, made 0600 as the database's
    files are (store/_engine.py: _private_files). Not on POSIX: no lock (none to share)."""
    try:
        import fcntl
    except ImportError:  # digestbot runs on POSIX
        yield
        return
    with os.fdopen(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
