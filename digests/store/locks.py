"""Work one process at a time does on a database, whichever process (or replica) asks: a lock
held while the work runs, which another process finds taken and goes on without.

PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) on a connection of its own,
held for the work; SQLite: an OS lock (``flock``) on a file beside the database (a SQLite
file has one host). Either goes with its holder's connection or process, a crash included,
so there is no lease to outlive a dead holder. An in-memory database has one process.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator

from sqlalchemy import Engine, text


@contextlib.contextmanager
def exclusive(engine: Engine, name: str) -> Iterator[bool]:
    """Hold the lock ``name`` on this database while the block runs: True, or False at once
    when another process (or another holder in this one) has it."""
    if engine.dialect.name == "postgresql":
        with _advisory(engine, name) as held:
            yield held
        return
    database = engine.url.database
    if database in (None, "", ":memory:"):
        yield True
        return
    with file_lock(f"{database}.{name}.lock", wait=False) as held:
        yield held


@contextlib.contextmanager
def file_lock(path: str, *, wait: bool) -> Iterator[bool]:
    """An OS lock (``flock``) on the file ``path``, made 0600 as the database's files are
    (store/_engine.py: _private_files): True once held, or False at once when another
    holder has it and ``wait`` is off. Not on POSIX: True (no lock to share)."""
    try:
        import fcntl
    except ImportError:  # digestbot runs on POSIX
        yield True
        return
    with os.fdopen(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600), "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _advisory(engine: Engine, name: str) -> Iterator[bool]:
    # A key from the name (signed 64 bits, as PostgreSQL's bigint); the migration lock and the
    # id-order lock are small constants, which a hash is as good as never equal to.
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    with engine.connect() as conn:
        held = bool(conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}))
        conn.commit()  # a session lock: no transaction left open while the work runs
        try:
            yield held
        finally:
            if held:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                conn.commit()
