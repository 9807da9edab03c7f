"""Shared fixtures: a config folder, an SQLite store, a PostgreSQL store, article builders."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from digests.config import Settings, load_settings
from digests.store import Store
from testkit.articles import NOW as NOW  # re-exported: tests import these from here
from testkit.articles import make_processed as make_processed

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
PG_URL = os.environ.get(
    "DIGESTBOT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(autouse=True)
def _logging_levels_restored() -> Iterator[None]:
    """A CLI run configures logging for the whole process (bot.logs); undo its levels after
    each test so that no test depends on which CLI test ran before it."""
    names = ("", "digests", "bot", "digestbot", "uvicorn")
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A copy of the shipped config/ with the inbox pointing at a copy of the seeds."""
    cdir = tmp_path / "config"
    shutil.copytree(ROOT / "config", cdir)
    shutil.copytree(SEEDS, tmp_path / "seeds")
    return cdir


@pytest.fixture
def settings(config_dir: Path) -> Settings:
    """Settings as the CLI would load them, isolated in tmp_path."""
    return load_settings({}, config_dir)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A migrated SQLite store in tmp_path."""
    s = Store.open(f"sqlite:///{tmp_path / 'data' / 'test.db'}")
    yield s
    s.close()


def write_damaged_sqlite(path: Path) -> None:
    """A SQLite store at ``path`` of ~1 MB of articles with 64 KiB of garbage written over the
    middle of the file (article pages): what a bad disk or a torn copy leaves."""
    store = Store.open(f"sqlite:///{path}")
    words = " ".join(f"word{i}" for i in range(400))
    for n in range(120):
        store.articles.add(
            make_processed(f"Story {n}", f"Story {n} says {words}. End {n}."), now=NOW
        )
    store.close()
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.seek(size // 2 - 32 * 1024)
        handle.write(os.urandom(64 * 1024))


def _pg_available() -> bool:
    try:
        import psycopg
        from sqlalchemy.engine import make_url

        url = make_url(PG_URL)
        with psycopg.connect(
            host=url.host,
            port=url.port or 5432,
            user=url.username,
            dbname=url.database,
            connect_timeout=2,
        ):
            return True
    except Exception:  # any failure means "no server here": the tests skip
        return False


@pytest.fixture
def pg_stores() -> Iterator[Callable[[], Store]]:
    """A maker of migrated stores, each in a fresh PostgreSQL database (dropped after the test);
    skipped when no server is reachable.

    CI sets DIGESTBOT_REQUIRE_POSTGRES=1 so a missing server fails instead of skipping.
    """
    if not _pg_available():
        if os.environ.get("DIGESTBOT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required but not reachable at {PG_URL}")
        pytest.skip(f"no PostgreSQL at {PG_URL}")
    from testkit.pgscratch import scratch_database

    with ExitStack() as stack:  # unwinds last-made first: each store closed, then dropped

        def make() -> Store:
            url = stack.enter_context(scratch_database(PG_URL, "digestbot_test"))
            store = Store.open(url)
            stack.callback(store.close)
            return store

        yield make


@pytest.fixture
def pg_store(pg_stores: Callable[[], Store]) -> Store:
    """A migrated store in a fresh PostgreSQL database; skipped when no server is reachable."""
    return pg_stores()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest) -> Store:
    """The same test on SQLite and on PostgreSQL."""
    fixture = "store" if request.param == "sqlite" else "pg_store"
    return request.getfixturevalue(fixture)
