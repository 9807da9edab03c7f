"""`/readyz` is not ready while the first ingest of the folders runs (issue 25): a first
ingest longer than start-up waits goes on in the background, and readiness says so."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

import bot.schedule
from bot.platforms.slack.render import digest_parts
from bot.schedule import DigestScheduler
from bot.server import create_server_app
from digests.config import load_settings
from digests.store import Store
from tests.conftest import SEEDS


def test_readyz_waits_for_the_first_ingest(
    config_dir: Path, tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "seeds"
    texts = [p.read_text() for p in sorted(SEEDS.iterdir())]
    for i in range(120):
        (inbox / f"copy_{i:03d}.txt").write_text(f"{texts[i % len(texts)]}\n\nEdition {i}.\n")
    monkeypatch.setattr(bot.schedule, "FIRST_INGEST_WAIT", 0.0)  # start-up does not wait
    settings = load_settings({}, config_dir)
    later = datetime.now(UTC) + timedelta(days=1)  # poll jobs' first run stays in the future
    scheduler = DigestScheduler(
        store, settings, owner="t", senders={}, clock=lambda: later,
        renderers={"slack": lambda d, k: digest_parts(d, key=k)},
    )  # fmt: skip
    app = create_server_app(store, scheduler=scheduler)

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://bot") as client,
        ):
            ready = await client.get("/readyz")
            assert ready.status_code == 503 and "starting" in ready.json(), ready.json()
            assert (await client.get("/healthz")).status_code == 200  # alive all the same
            assert await asyncio.to_thread(scheduler.wait_ingested, 120)
            ready = await client.get("/readyz")
            assert ready.status_code == 200 and "starting" not in ready.json()
            assert ready.json()["articles"] > 5

    asyncio.run(scenario())
