"""PostgreSQL stopped across a slot, then started again, under a running scheduler (issue 25).

A slot due while PostgreSQL was down was skipped without a trace until `serve` restarted; it
must run as soon as the database is back. A private server (tests/privatepg.py) is stopped
two seconds before an hourly slot and started three seconds after it.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

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
from tests.privatepg import private_postgres

pytestmark = pytest.mark.postgres

FAST = Timings(send_timeout=1.0, lease=1.5, sweep_every=0.3, backoff_base=0.3, backoff_cap=2.0)


def test_a_slot_due_while_postgresql_is_down_runs_once_it_is_back(settings: Settings) -> None:
    with private_postgres() as pg:
        store = Store.open(pg.url)
        slot = (datetime.now(UTC) + timedelta(seconds=5)).replace(microsecond=0)
        store.subscriptions.upsert(
            "hourly", platform="slack", channel="C1", topics=(), timezone="UTC", origin="cli",
            cron=f"{slot.second} {slot.minute} {slot.hour} * * *", now=datetime.now(UTC),
        )  # fmt: skip
        scheduler = DigestScheduler(
            store, settings, renderers=renderers(), senders={}, owner="t", poll_sources=False,
            timings=FAST,
        )  # fmt: skip
        app = create_server_app(store)

        async def health() -> int:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return (await client.get("/healthz")).status_code

        def claimed() -> list[datetime]:
            with store.engine.connect() as conn:
                return list(conn.scalars(select(digest_runs.c.scheduled_for)))

        async def scenario() -> float:
            await scheduler.start()
            try:
                while datetime.now(UTC) < slot - timedelta(seconds=2):
                    await asyncio.sleep(0.1)
                await asyncio.to_thread(pg.stop)
                while datetime.now(UTC) < slot + timedelta(seconds=3):
                    await asyncio.sleep(0.1)
                assert await health() == 503  # down is reported
                await asyncio.to_thread(pg.start)
                back = time.monotonic()
                while time.monotonic() - back < 15:
                    found = await asyncio.to_thread(claimed)
                    if found:
                        break
                    await asyncio.sleep(0.2)
                return time.monotonic() - back
            finally:
                scheduler.shutdown()

        try:
            waited = asyncio.run(scenario())
            scheduler.join()
            runs = claimed()
            assert [r.astimezone(UTC) for r in runs] == [slot], runs
            assert waited < 10
        finally:
            store.close()
