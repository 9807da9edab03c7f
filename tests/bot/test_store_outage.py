"""A database that cannot be written at a slot's due instant (issue 25).

The slot used to be skipped without a trace (the cron job raised, nothing retried) until
`serve` restarted, and /healthz and /readyz said ok the whole time on SQLite, where reads go
on while writes cannot. Here another process holds the SQLite write lock across a slot of a
running scheduler: the slot is run within seconds of the lock's release, and health reports
the store that cannot be written while it lasts.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.schedule import DigestScheduler
from bot.serve import renderers
from bot.server import create_server_app
from bot.sweep import Timings
from digests.config import Settings
from digests.store import Store
from digests.store.schema import digest_runs
from tests.sqlite_lock import SqliteLock

FAST = Timings(send_timeout=1.0, lease=1.5, sweep_every=0.3, backoff_base=0.3, backoff_cap=2.0)


@pytest.fixture
def db(tmp_path: Path) -> tuple[Store, Path]:
    path = tmp_path / "data" / "outage.db"
    return Store.open(f"sqlite:///{path}", busy_timeout=0.3), path


def _claimed(store: Store) -> list[datetime]:
    with store.engine.connect() as conn:
        return [
            r.replace(tzinfo=UTC) if r.tzinfo is None else r
            for r in conn.scalars(select(digest_runs.c.scheduled_for))
        ]


def test_a_slot_missed_while_the_database_is_locked_runs_once_it_is_back(
    db: tuple[Store, Path], settings: Settings
) -> None:
    store, path = db
    slot = (datetime.now(UTC) + timedelta(seconds=4)).replace(microsecond=0)
    # Once an hour, at the slot's second: only the catch-up can run it within this test.
    cron = f"{slot.second} {slot.minute} {slot.hour} * * *"
    store.subscriptions.upsert(
        "hourly", platform="slack", channel="C1", topics=(), cron=cron, timezone="UTC",
        origin="cli", now=datetime.now(UTC),
    )  # fmt: skip
    scheduler = DigestScheduler(
        store, settings, renderers=renderers(), senders={}, owner="t", poll_sources=False,
        timings=FAST,
    )  # fmt: skip

    async def scenario() -> tuple[float, list[datetime]]:
        await scheduler.start()
        try:
            lock = await asyncio.to_thread(SqliteLock, path)
            try:
                while datetime.now(UTC) < slot + timedelta(seconds=2):
                    await asyncio.sleep(0.1)
                assert _claimed(store) == []  # the slot came while the lock was held
            finally:
                await asyncio.to_thread(lock.release)
                await asyncio.to_thread(lock.__exit__, None, None, None)
            released = time.monotonic()
            # Done when the slot is claimed and no longer remembered as missed (the scheduler
            # forgets it just after the claim commits: look for both, not only the claim).
            while time.monotonic() - released < 10 and not (
                _claimed(store) and not scheduler.missed
            ):
                await asyncio.sleep(0.1)
            return time.monotonic() - released, _claimed(store)
        finally:
            scheduler.shutdown()

    waited, claimed = asyncio.run(scenario())
    assert claimed == [slot], claimed
    assert waited < 5  # caught up within a few ticks of the database coming back
    assert scheduler.missed == {}


def test_health_reports_a_store_that_cannot_be_written(db: tuple[Store, Path]) -> None:
    store, path = db
    app = create_server_app(store)

    async def get(route: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get(route)

    assert asyncio.run(get("/healthz")).status_code == 200
    with SqliteLock(path):
        for route in ("/healthz", "/readyz"):
            answer = asyncio.run(get(route))
            assert answer.status_code == 503, answer.text
            body = answer.json()
            assert body["ok"] is False and body["db_writable"] is False
            assert "locked" in body["db_error"]
    answer = asyncio.run(get("/readyz"))
    assert answer.status_code == 200 and answer.json()["db_writable"] is True
