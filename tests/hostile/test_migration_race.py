"""Several first runs at once on an empty database all succeed (issue #12: "table articles
already exists", UniqueViolation on alembic_version).

Real processes race: each waits at a start line (a file appearing) and then opens the store,
which migrates. On SQLite they share an empty data folder; on PostgreSQL a fresh database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from digests.store import Store
from testkit.pgscratch import scratch_database
from testkit.processes import Outcome, run_digestbot, run_python
from tests.conftest import PG_URL, ROOT, _pg_available

RACERS = 4
CONFIG = ROOT / "config"  # the shipped config: its sources are seeded by every racer
TIMEOUT = 90.0  # per process; a deadlock fails instead of hanging

# Open (and so migrate) the store once the start file exists, seed the sources; print a count.
_OPEN = """
import os, sys, time
from pathlib import Path
start, url = Path(sys.argv[1]), sys.argv[2]
from digests.store import Store
deadline = time.monotonic() + 60
while not start.exists():
    if time.monotonic() > deadline:
        sys.exit("start line never appeared")
    time.sleep(0.001)
store = Store.open(url)
# What a first run or a replica does next: create the rows of the configured sources.
from datetime import UTC, datetime
from digests.config import load_settings
settings = load_settings({}, sys.argv[3])
store.sources.seed(settings.sources, now=datetime.now(UTC))
for source in settings.sources:
    store.sources.ensure(source.name, kind=source.kind, location=source.location)
print(store.articles.count())
store.close()
"""


def _race(url: str, tmp_path: Path) -> list[Outcome]:
    start = tmp_path / f"go-{uuid.uuid4().hex}"
    with ThreadPoolExecutor(RACERS) as pool:
        running = [
            pool.submit(run_python, _OPEN, str(start), url, str(CONFIG), timeout=TIMEOUT)
            for _ in range(RACERS)
        ]
        # Let every interpreter get to the start line (imports take ~1 s), then release them.
        ready = run_python("import digests.store, sqlalchemy, alembic", timeout=TIMEOUT)
        assert ready.returncode == 0, ready.describe()
        start.touch()
        return [r.result() for r in running]


def _assert_all_migrated(outcomes: list[Outcome], url: str) -> None:
    for outcome in outcomes:
        assert outcome.returncode == 0 and outcome.stdout.strip() == "0", outcome.describe()
    head = Store.open(url, migrate=False)
    try:
        with head.engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        assert len(versions) == 1  # one row: nobody stamped twice
        assert {"articles", "outbox", "alembic_version"} <= set(
            inspect(head.engine).get_table_names()
        )
    finally:
        head.close()
    # And the schema is the newest: opening again has nothing to do.
    again = Store.open(url)
    again.close()


def test_first_runs_racing_on_an_empty_sqlite_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'digestbot.db'}"
    _assert_all_migrated(_race(url, tmp_path), url)


def test_first_cli_commands_racing_on_an_empty_data_folder(tmp_path: Path, install) -> None:  # type: ignore[no-untyped-def]
    # The issue's own case: three `digestbot` commands at once on a fresh install.
    with ThreadPoolExecutor(3) as pool:
        runs = [
            pool.submit(run_digestbot, "ingest", env=install.env, timeout=TIMEOUT) for _ in range(3)
        ]
        outcomes = [r.result() for r in runs]
    for outcome in outcomes:
        assert outcome.returncode == 0, outcome.describe()
        assert "Traceback" not in outcome.stderr, outcome.describe()


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database (dropped afterwards)."""
    if not _pg_available():
        import os

        if os.environ.get("DIGESTBOT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required but not reachable at {PG_URL}")
        pytest.skip(f"no PostgreSQL at {PG_URL}")
    with scratch_database(PG_URL, "digestbot_race") as url:
        yield url


def test_replicas_racing_on_a_new_postgresql_database(fresh_pg_url: str, tmp_path: Path) -> None:
    _assert_all_migrated(_race(fresh_pg_url, tmp_path), fresh_pg_url)
