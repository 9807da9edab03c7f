"""Opening the database: engine, SQLite pragmas, Alembic upgrade."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from digests.errors import StoreError

_MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class Store:
    """All persistent state, behind one object; see the package docstring."""

    def __init__(self, engine: Engine) -> None:
        from digests.store.articles import Articles
        from digests.store.feed_items import FeedItems
        from digests.store.outbox import Outbox
        from digests.store.schedules import Schedules
        from digests.store.sources import Sources

        self.engine = engine
        self.articles = Articles(engine)
        self.schedules = Schedules(engine)
        self.outbox = Outbox(engine)
        self.sources = Sources(engine)
        self.feed_items = FeedItems(engine)

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Store:
        """Connect to ``url`` (creating a SQLite file's folder) and bring the schema up to date."""
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise StoreError(f"invalid database URL {url!r}") from exc
        kwargs: dict[str, object] = {}
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            # Threads (the bot's workers) share the file; SQLite's own locking arbitrates.
            kwargs = {"connect_args": {"check_same_thread": False, "timeout": 30}}
            if parsed.database in (None, "", ":memory:"):
                kwargs["poolclass"] = None
        else:
            kwargs = {"pool_pre_ping": True}
        try:
            engine = create_engine(url, **{k: v for k, v in kwargs.items() if v is not None})
        except (ArgumentError, ImportError) as exc:
            raise StoreError(f"cannot use database {parsed.render_as_string()}: {exc}") from exc
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        store = cls(engine)
        if migrate:
            store.migrate()
        return store

    def migrate(self) -> None:
        """Upgrade the schema to the newest migration (a no-op when it is current)."""
        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        head = ScriptDirectory.from_config(cfg).get_current_head()
        try:
            with self.engine.begin() as conn:
                if MigrationContext.configure(conn).get_current_revision() == head:
                    return
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except OperationalError as exc:
            raise StoreError(f"cannot open the database: {exc.orig}") from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"database migration failed: {exc}") from exc

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    # WAL lets the bot's readers run while a writer ingests; foreign keys are off by default.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def as_utc(value: datetime | None) -> datetime | None:
    """Datetimes come back naive from SQLite: they were stored as UTC, so say so."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


__all__ = ["Store", "as_utc"]
