"""Two `digestbot serve` replicas started at once on one PostgreSQL, after subscriptions were
added to the config, both come up (issue 25: one used to die with UniqueViolation
uq_subscriptions_name and "Application startup failed"). Real processes, five tries."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from digests.store import Store
from testkit.feedsim import replica_config, start_replica, wait_healthy, workdir
from testkit.pgscratch import scratch_database
from tests.conftest import PG_URL

TRIES = 5
SUBSCRIPTIONS = 40  # many rows: a wide window for the two config syncs to collide


def _subscriptions() -> str:
    return "".join(
        f'[[subscription]]\nname = "sub-{i}"\nplatform = "slack"\nchannel = "C{i:08d}"\n'
        f'topics = []\ncron = "0 8 * * *"\n\n'
        for i in range(SUBSCRIPTIONS)
    )


@pytest.mark.postgres
@pytest.mark.usefixtures("pg_store")  # skips (or fails in CI) without a server
def test_two_replicas_started_together_after_subscriptions_were_added() -> None:
    for attempt in range(TRIES):
        with workdir() as folder, scratch_database(PG_URL, "digestbot_start") as url:
            Store.open(url).close()  # the database exists and is migrated already
            cdir = replica_config(folder, poll={"tick_seconds": 2})
            (cdir / "subscriptions.toml").write_text(_subscriptions())
            replicas = [
                start_replica(cdir, url, name=f"r{attempt}-{i}", wait=False) for i in range(2)
            ]
            try:
                for replica in replicas:
                    wait_healthy(replica, timeout=90)  # raises with the log if it died
                for replica in replicas:
                    assert replica.process.poll() is None, replica.log.read_text()[-2000:]
                    assert "UniqueViolation" not in replica.log.read_text()
            finally:
                for replica in replicas:
                    replica.stop()
            engine = create_engine(url)
            try:
                with engine.connect() as conn:
                    names = conn.execute(text("SELECT count(DISTINCT name) FROM subscriptions"))
                    assert names.scalar() == SUBSCRIPTIONS
            finally:
                engine.dispose()
