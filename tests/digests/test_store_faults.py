"""A passing database fault (a lock held by another process) is retried, never remembered.

Issue 25: storing failed under a lock, the file was recorded "failed" with its content hash,
and every later run reported the old "database is locked" and never stored it. The lock here
is held by a real second process; it is let go as soon as the ingest has failed to write
twice (the chunk, then the one-by-one retry), which is when the old code went on to record
the failure; or, if there is no second failure, once the run is over.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event

from digests.config import Settings, SourceConfig
from digests.ingest.pipeline import IngestReport
from digests.ingest.sources import ingest_sources, make_fetcher, poll_source
from digests.models import SourceKind
from digests.store import Store
from tests.conftest import NOW
from tests.digests.http_fixtures import LocalWeb, web  # noqa: F401 - fixture
from tests.sqlite_lock import SqliteLock

BODY = (
    "Port authorities in Rotterdam reported record container volumes on Monday. "
    "Officials said the new terminal had cut waiting times for ships by half. "
    "Shipping lines expect the growth to continue through the winter season."
)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[Store, Path]]:
    path = tmp_path / "data" / "faults.db"
    store = Store.open(f"sqlite:///{path}", busy_timeout=0.5)
    yield store, path
    store.close()


def _locked_run(store: Store, path: Path, run) -> IngestReport:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    with SqliteLock(path) as lock:

        def on_error(context) -> None:  # type: ignore[no-untyped-def]
            errors.append(str(context.original_exception))
            if sum("locked" in e for e in errors) >= 2:
                lock.release()

        event.listen(store.engine, "handle_error", on_error)
        try:
            report = run()
        finally:
            event.remove(store.engine, "handle_error", on_error)
    assert any("locked" in e for e in errors), "the lock never got in the way"
    return report


def test_a_file_not_stored_under_a_lock_is_stored_by_the_next_run(
    db: tuple[Store, Path], settings: Settings, tmp_path: Path
) -> None:
    store, path = db
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "port.txt").write_text(f"Rotterdam port volumes\n\n{BODY}\n")

    def ingest() -> IngestReport:
        return ingest_sources(store, settings, now=NOW, paths=[inbox])

    first = _locked_run(store, path, ingest)
    assert first.added == [] and len(first.failed) == 1
    locator, reason = first.failed[0]
    assert locator.endswith("port.txt")
    assert "database is locked" in reason and "retried on the next run" in reason
    assert first.store_fault is not None
    assert store.articles.count() == 0

    second = ingest()
    assert second.failed == [] and len(second.added) == 1
    assert store.articles.count() == 1
    assert ingest().unchanged == 1  # and now it is remembered as stored


def test_a_feed_poll_under_a_lock_is_retried_by_the_next_poll(
    db: tuple[Store, Path],
    settings: Settings,
    web: LocalWeb,  # noqa: F811 - fixture
) -> None:
    store, path = db
    settings = settings.model_copy(update={"allow_private_networks": True})
    source = SourceConfig(name="rss", kind=SourceKind.FEED, location=web.url("/rss.xml"))
    with make_fetcher(settings) as fetcher:

        def poll() -> IngestReport:
            # As serve's Poller does: health is written with the claim's release.
            return poll_source(store, settings, source, now=NOW, fetcher=fetcher, record=False)

        store.sources.ensure(source.name, kind=source.kind, location=source.location)
        first = _locked_run(store, path, poll)
        assert first.added == [] and first.failed
        assert all("retried on the next run" in why for _, why in first.failed)
        second = poll()
    assert second.failed == [] and len(second.added) == 3
    assert store.articles.count() == 3


@pytest.mark.postgres
@pytest.mark.parametrize("at", ["INSERT INTO ARTICLES", "INSERT INTO STORIES"])
def test_a_connection_dropped_mid_chunk_is_stored_in_the_same_run(
    pg_store: Store, settings: Settings, tmp_path: Path, at: str
) -> None:
    """PostgreSQL ends the ingest's connection (a restart, an idle timeout, an operator)
    just as it inserts the article, or its story (a statement run on the driver,
    digests/store/_prepared.py): the pool reconnects and the chunk, rolled back whole, is
    written again at once — neither remembered as failed nor left for the next run, and no
    story of the first attempt is left behind."""
    import psycopg

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "port.txt").write_text(f"Rotterdam port volumes\n\n{BODY}\n")
    url = pg_store.engine.url
    killed: list[int] = []

    def kill_once(conn, cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if killed or not statement.lstrip().upper().startswith(at):
            return
        pid = cursor.connection.info.backend_pid
        killed.append(pid)
        with psycopg.connect(
            host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True
        ) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    event.listen(pg_store.engine, "before_cursor_execute", kill_once)
    try:
        report = ingest_sources(pg_store, settings, now=NOW, paths=[inbox])
    finally:
        event.remove(pg_store.engine, "before_cursor_execute", kill_once)
    assert killed, "the connection was never dropped"
    assert report.failed == [] and len(report.added) == 1, report
    assert pg_store.articles.count() == 1
    with pg_store.engine.connect() as conn:
        stories = conn.exec_driver_sql("SELECT id FROM stories").scalars().all()
        story_of = conn.exec_driver_sql("SELECT story_id FROM articles").scalar_one()
    assert stories == [story_of], (stories, story_of)
