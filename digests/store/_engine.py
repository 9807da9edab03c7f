"""Opening the database: engine, SQLite pragmas, Alembic upgrade (under a lock)."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.pool import SingletonThreadPool

from digests.errors import StoreError
from digests.net.util import redact
from digests.sealing import Sealer
from digests.store._faults import damaged, first_line, store_error, unavailable

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from digests.store.locks import Lease

P = ParamSpec("P")
R = TypeVar("R")
_MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# pg_advisory_xact_lock key for "migrating digestbot's schema" (any constant; ours is "dgst").
_PG_MIGRATION_LOCK = 0x64677374
# How long a process waits for another one's migration before giving up, in seconds.
_MIGRATION_WAIT = 300


class Store:
    """All persistent state, behind one object; see the package docstring."""

    def __init__(self, engine: Engine, sealer: Sealer | None = None) -> None:
        from digests.store.articles import Articles
        from digests.store.feed_items import FeedItems
        from digests.store.outbox import Outbox
        from digests.store.pacing import ChannelPace
        from digests.store.replays import Replays
        from digests.store.runs import Runs
        from digests.store.sources import Sources
        from digests.store.subscriptions import Subscriptions
        from digests.store.topics import Topics

        self.engine = engine
        # Seals bot tokens and webhook URLs at rest (DIGESTBOT_ENCRYPTION_KEY; digests/sealing.py).
        self.sealer = sealer or Sealer()
        self.faults = WriteFaults(engine)  # the last passing fault of a write, until one works
        self.articles = Articles(engine)
        self.subscriptions = Subscriptions(engine, self.sealer)
        self.runs = Runs(engine)  # digest run claims, take-overs and commits
        self.outbox = Outbox(engine)
        self.sources = Sources(engine, self.sealer)
        self.feed_items = FeedItems(engine)
        self.pacing = ChannelPace(engine)  # per-channel send slots across replicas
        self.topics = Topics(engine)  # learned topics: models, corrections (0010)
        self.articles.trust = self.topics.trust_in  # whose corrections count, for a copy's tags
        self.replays = Replays(engine)  # requests run once across replicas (Discord)

    @classmethod
    def open(
        cls,
        url: str,
        *,
        migrate: bool = True,
        sealer: Sealer | None = None,
        busy_timeout: float = 30.0,
    ) -> Store:
        """Connect to ``url`` (creating a SQLite file's folder) and bring the schema up to date.

        ``sealer``: encrypts secrets at rest (see :mod:`digests.sealing`); none: plain text.
        ``busy_timeout``: seconds a SQLite write waits for another process's lock.
        """
        try:
            parsed = make_url(url)
            parsed.port  # noqa: B018  (a port that is not a number raises only when read)
        except (ArgumentError, ValueError):
            # Never the URL as given: its password would be in the error line.
            raise StoreError(f"invalid database URL {redact(url)!r}") from None
        kwargs: dict[str, object] = {}
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                _private_files(Path(parsed.database))
            # Threads (the bot's workers) share the file; SQLite's own locking arbitrates.
            kwargs = {"connect_args": {"check_same_thread": False, "timeout": busy_timeout}}
            if parsed.database in (None, "", ":memory:"):
                kwargs["poolclass"] = None
        else:
            kwargs = {"pool_pre_ping": True}
        try:
            engine = create_engine(url, **{k: v for k, v in kwargs.items() if v is not None})
        except (ArgumentError, ImportError, ValueError) as exc:
            shown = redact(parsed.render_as_string())
            raise StoreError(f"cannot use database {shown}: {redact(str(exc))}") from None
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        store = cls(engine, sealer)
        if migrate:
            store.migrate()
        return store

    def migrate(self) -> None:
        """Upgrade the schema to the newest migration (a no-op when it is current).

        Any number of processes may call this at once on the same database (first runs,
        replicas starting together): the upgrade runs under a lock — a PostgreSQL advisory
        lock, an exclusive transaction on SQLite — and re-checks the revision once it holds it.
        Alembic is imported only then: every command opens the store, and importing it was
        a fifth of a terminal command's start-up.
        """
        head = _head()
        try:
            with self._first_open_lock():
                with self.engine.connect() as conn:  # the common case: current, no lock taken
                    if _revision(conn) == head:
                        return
                with self._migration_lock() as conn:
                    revision = _revision(conn)
                    if revision == head:
                        return  # another process migrated while this one waited
                    _check_known(conn, revision)
                    from alembic import command
                    from alembic.config import Config

                    cfg = Config()
                    cfg.set_main_option("script_location", str(_MIGRATIONS))
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
        except OperationalError as exc:
            raise StoreError(f"cannot open the database: {exc.orig}") from exc
        except OSError as exc:  # its lock file: a folder not writable, say
            raise StoreError(
                f"cannot open the database: {exc.filename}: {exc.strerror or exc}"
            ) from exc
        except SQLAlchemyError as exc:
            if damaged(exc):
                raise StoreError(self._damaged_message(first_line(exc))) from exc
            raise StoreError(f"database migration failed: {exc}") from exc

    def exclusive(
        self, name: str, *, clock: Callable[[], datetime]
    ) -> contextlib.AbstractContextManager[Lease | None]:
        """Hold the lease ``name`` while the block runs (renewed meanwhile, by ``clock``'s
        time): the Lease, or None at once when another process has it
        (digests/store/locks.py)."""
        from digests.store.locks import exclusive

        return exclusive(self.engine, name, clock=clock)

    def estimated_rows(self, table: str) -> int | None:
        """PostgreSQL's own estimate of ``table``'s rows (``pg_class.reltuples``, which
        ANALYZE and autovacuum keep: one row read, however large the table; it may lag the
        table by what autovacuum has not seen yet). None on SQLite (no such statistic) and
        before the table's first ANALYZE."""
        if self.engine.dialect.name != "postgresql":
            return None
        query = text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:name)")
        with self.engine.connect() as conn:
            rows = conn.scalar(query, {"name": table})
        return int(rows) if rows is not None and rows >= 0 else None

    def file_size(self) -> int | None:
        """The SQLite file's size in bytes (not its WAL); None for PostgreSQL or in memory."""
        database = self.engine.url.database
        if self.engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
            return None
        try:
            return os.path.getsize(database)
        except OSError:
            return None

    def check_integrity(self, *, max_bytes: int | None = None) -> bool:
        """Raise StoreError (one line, with what to do) if the SQLite file is damaged; whether
        the file was read whole (False: over ``max_bytes``, nothing read).

        ``PRAGMA quick_check(1)`` reads every page once (16 s cold for a 955 MB file) and
        stops at the first problem (its argument bounds the errors listed, not the pages
        read); pages that no query happens to touch are checked too, so a damaged file is
        found now, not by the first digest that reads it. PostgreSQL checks its own pages;
        nothing is done there (True).
        """
        if self.engine.dialect.name != "sqlite":
            return True
        size = self.file_size()
        if max_bytes is not None and size is not None and size > max_bytes:
            return False
        try:
            with self.engine.connect() as conn:
                verdict = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA quick_check(1)")]
        except SQLAlchemyError as exc:
            if damaged(exc):
                raise StoreError(self._damaged_message(first_line(exc))) from exc
            raise store_error(f"cannot check the database: {first_line(exc)}", exc) from exc
        if verdict != ["ok"]:
            raise StoreError(self._damaged_message(verdict[0] if verdict else "no verdict"))
        return True

    def _damaged_message(self, detail: str) -> str:
        path = self.engine.url.database or "the database"
        return (
            f"the database file {path} is damaged ({detail}); stop digestbot, run "
            f"`sqlite3 {path} 'PRAGMA integrity_check'` to see the damage, and restore the "
            "file from a backup (or move it away to start empty)"
        )

    @contextlib.contextmanager
    def _first_open_lock(self) -> Iterator[None]:
        """On a SQLite file: an OS lock on ``<db>.lock`` while this process opens it.

        A brand-new file is turned into a WAL database by whichever connection comes first;
        processes starting together queue here instead of meeting inside SQLite's locking.
        Held only for the revision check (and migration): milliseconds when current.
        """
        database = self.engine.url.database
        if self.engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
            yield
            return
        from digests.store.locks import file_lock

        with file_lock(f"{database}.lock"):
            yield

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[Connection]:
        """A connection in a transaction that holds the database's migration lock."""
        url = self.engine.url
        if self.engine.dialect.name == "postgresql":
            with self.engine.begin() as conn:
                # Held until this transaction ends, i.e. until the migration is committed.
                conn.execute(text(f"SET LOCAL lock_timeout = '{_MIGRATION_WAIT}s'"))
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
                )
                yield conn
        elif self.engine.dialect.name == "sqlite" and url.database not in (None, "", ":memory:"):
            # pysqlite doesn't begin a transaction before DDL; an engine of its own that
            # starts every transaction with BEGIN EXCLUSIVE makes the whole upgrade one
            # transaction that a second process waits for (busy timeout) instead of racing.
            engine = create_engine(url, connect_args={"timeout": _MIGRATION_WAIT})
            event.listen(engine, "connect", _sqlite_exclusive)
            event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN EXCLUSIVE"))
            try:
                with engine.begin() as conn:
                    yield conn
            finally:
                engine.dispose()
        else:  # an in-memory database: no other process can see it
            with self.engine.begin() as conn:
                yield conn

    def seal_secrets(self) -> int:
        """Seal tokens and webhook URLs written in plain (or with the previous key) with the
        current key; how many values changed. On SQLite the old pages are then overwritten
        (``secure_delete``) and the WAL truncated, so no plain copy stays in the files."""
        from digests.store.sealed import seal_secrets

        changed = seal_secrets(self.engine, self.sealer)
        if changed and self.engine.dialect.name == "sqlite":
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return changed

    def seal_pending(self) -> int:
        """:meth:`seal_secrets`, unless a pass already ran with these keys and no secret was
        written plain since (one row read: digests/store/sealed.py); what every command that
        opens the store with a key runs. How many values changed."""
        if not self.sealer.enabled:
            return 0
        from digests.store.sealed import sealed_already

        if sealed_already(self.engine, self.sealer):
            return 0
        try:
            return self.seal_secrets()
        except SQLAlchemyError as exc:
            # Another process sealing (or writing) at this moment, a store this user may only
            # read: the command goes on, and the next one with the key seals.
            log.warning("stored secrets not sealed this time (%s): the next command tries again",
                        first_line(exc))  # fmt: skip
            return 0

    def plain_secret_written(self) -> None:
        """A secret is about to be written plain (no key in this process): the next command
        with a key seals it (see :meth:`seal_pending`)."""
        from digests.store.sealed import plain_secret_written

        with self.engine.begin() as conn:
            plain_secret_written(conn)

    def write_problem(self, *, wait: float = 2.0) -> str | None:
        """Why the database cannot be written right now, or None (for /healthz, /readyz).

        Reads can go on while writes cannot (SQLite in WAL mode, locked by another process or
        on a full disk), so this takes the write lock for a moment — ``BEGIN IMMEDIATE``,
        waiting at most ``wait`` s (longer than any of our own write transactions holds it),
        then ROLLBACK, nothing written — and adds the last write
        of this process that failed for the database's sake (disk full, I/O error), if no
        write has succeeded since. PostgreSQL: a round trip (down is down).
        """
        try:
            if self.engine.dialect.name == "sqlite":
                raw = self.engine.raw_connection()
                try:
                    cur = raw.cursor()
                    old = cur.execute("PRAGMA busy_timeout").fetchone()[0]
                    cur.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
                    try:
                        cur.execute("BEGIN IMMEDIATE")
                        cur.execute("ROLLBACK")
                    finally:
                        cur.execute(f"PRAGMA busy_timeout = {int(old)}")
                finally:
                    raw.close()
            else:
                with self.engine.connect() as conn:
                    conn.exec_driver_sql("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - any failure is the answer here
            cause = getattr(exc, "orig", None) or exc
            return f"cannot write the database: {str(cause).strip().splitlines()[0]}"
        return self.faults.problem()

    @property
    def shared(self) -> bool:
        """Whether other threads see this same database (not so for in-memory SQLite)."""
        return not isinstance(self.engine.pool, SingletonThreadPool)

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()


def _head() -> str:
    """The newest migration's revision. Migrations are ``versions/NNNN_what.py`` with revision
    ``"NNNN"`` (tests/digests/test_store.py checks this against Alembic's own reading), so the
    file names say it without importing Alembic and every migration."""
    names = (_MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")
    return max(p.name[:4] for p in names)


# Revisions main recorded before 0009-0011 were renumbered (011e3a0 .. 2d6f4e2, 2026-12-06):
# the same migrations, unchanged but for their ids, so a store of those days is at these.
_RENAMED = {"0009_sec": "0009", "0009_topics": "0010", "0009_longrun": "0011"}


def _check_known(conn: Connection, revision: str | None) -> None:
    """Record a renamed revision under its id of today; refuse one no migration here has
    (a newer digestbot's database), in words, before Alembic says it cannot locate it."""
    if revision in _RENAMED:
        conn.execute(
            text("UPDATE alembic_version SET version_num = :new"), {"new": _RENAMED[revision]}
        )
        return
    versions = _MIGRATIONS / "versions"
    if revision is None or (
        len(revision) == 4 and revision.isdigit() and any(versions.glob(f"{revision}_*.py"))
    ):
        return
    raise StoreError(
        f"the database's schema is at revision {revision[:40]!r}, which this digestbot does not "
        f"know (its newest is {_head()}): a newer version of digestbot has upgraded it; "
        "run that version, or restore a backup made before the upgrade"
    )


def _revision(conn: Connection) -> str | None:
    """The revision Alembic recorded in the database (None: none yet, a new database)."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    value = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return None if value is None else str(value)


def _private_files(database: Path) -> None:
    """The data folder 0700 (when made here) and the database files 0600, whatever the umask.

    The files hold every workspace's token and webhook URL. SQLite gives its ``-wal`` and
    ``-shm`` files the database file's own mode, so creating that one 0600 is enough for new
    files; existing ones (an older version made them 0644) are tightened here.
    """
    folder = database.parent
    if folder.exists() and not folder.is_dir():  # DIGESTBOT_DATA_DIR naming a file
        raise StoreError(f"the data folder {folder} is not a folder (a file has that name)")
    if not folder.exists():
        try:
            folder.mkdir(parents=True, mode=0o700, exist_ok=True)
        except OSError as exc:  # a file on the way, no permission, a read-only disk
            raise StoreError(
                f"cannot make the data folder {folder}: {exc.strerror or exc}"
            ) from exc
        folder.chmod(0o700)  # mkdir's mode is filtered by the umask
    for path in (
        database,
        Path(f"{database}-wal"),
        Path(f"{database}-shm"),
        Path(f"{database}.lock"),
    ):
        try:
            if path is database or path.name.endswith(".lock"):
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            if path.exists():
                path.chmod(0o600)
        except OSError:  # not ours to change (a shared file an admin set up): leave it
            continue


class WriteFaults:
    """The last write that failed for the database's sake (locked, disk full, I/O error,
    connection lost), kept until a write commits: SQLAlchemy engine events, so every write of
    the process counts, whoever made it."""

    _WRITES = ("insert", "update", "delete", "replace")

    def __init__(self, engine: Engine) -> None:
        self.last: str | None = None
        event.listen(engine, "handle_error", self._error)
        event.listen(engine, "after_cursor_execute", self._executed)
        event.listen(engine, "commit", self._commit)

    def problem(self) -> str | None:
        """The last write fault not followed by a successful write, in one line."""
        last = self.last
        return f"the last write failed: {last}" if last else None

    def _error(self, context) -> None:  # type: ignore[no-untyped-def]
        original = context.original_exception
        if unavailable(context.sqlalchemy_exception or original) or _fault_text(original):
            self.last = (
                str(original).strip().splitlines()[0]
                if str(original).strip()
                else (type(original).__name__)
            )

    def _executed(self, conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip()[:7].lower().startswith(self._WRITES):
            conn.info["digestbot_wrote"] = True

    def _commit(self, conn) -> None:  # type: ignore[no-untyped-def]
        if conn.info.pop("digestbot_wrote", False):
            self.last = None


def _fault_text(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(w in text for w in ("database is locked", "disk is full", "disk i/o error"))


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    # WAL lets the bot's readers run while a writer ingests; foreign keys are off by default.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    # Deleted rows (an uninstalled workspace's token) are overwritten, not left in free pages.
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()


def _sqlite_exclusive(dbapi_conn, record) -> None:  # type: ignore[no-untyped-def]
    _sqlite_pragmas(dbapi_conn, record)
    dbapi_conn.isolation_level = None  # transactions are begun explicitly (BEGIN EXCLUSIVE)


__all__ = ["Store"]
