"""`/readyz` is not ready while the first ingest of the folders runs (issue 25): a first
ingest longer than start-up waits goes on in the background, and readiness says so."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

import bot.schedule
from bot.platforms.slack.render import digest_parts
from bot.schedule import DigestScheduler
from bot.server import create_server_app
from digests.config import load_settings
from digests.store import Store
from digests.store.schema import documents
from tests.conftest import SEEDS
from tests.polls import wait_polled


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


def test_the_poller_never_reads_a_folder_while_the_first_ingest_does(
    config_dir: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first ingest longer than start-up waits goes on while the poller starts: the
    poller's claimed poll of the same folder waits for it, never reads it at the same time."""
    import threading

    import digests.ingest.sources

    real_run = digests.ingest.sources.run
    guard = threading.Lock()
    reading: list[str] = []  # threads reading a folder now
    overlapped: list[list[str]] = []
    second = threading.Event()  # a second read of the folder began

    def run(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - the pipeline's run, observed
        with guard:
            reading.append(threading.current_thread().name)
            if len(reading) > 1:
                overlapped.append(list(reading))
                second.set()
            first = len(reading) == 1 and threading.current_thread().name == "folder-watch"
        try:
            if first:  # the first ingest is slow: long enough for the poller to start
                second.wait(3.0)
            return real_run(*args, **kwargs)
        finally:
            with guard:
                reading.remove(threading.current_thread().name)

    monkeypatch.setattr(digests.ingest.sources, "run", run)
    monkeypatch.setattr(bot.schedule, "FIRST_INGEST_WAIT", 0.0)  # start-up does not wait
    settings = load_settings({}, config_dir)
    scheduler = DigestScheduler(
        store, settings, owner="t", senders={}, clock=lambda: datetime.now(UTC),
        renderers={"slack": lambda d, k: digest_parts(d, key=k)},
    )  # fmt: skip

    async def scenario() -> None:
        await scheduler.start()
        try:
            assert await asyncio.to_thread(scheduler.wait_ingested, 30)
            assert scheduler.poller is not None  # its claimed poll of the inbox (due at start)
            await asyncio.to_thread(wait_polled, scheduler.poller, 1)
        finally:
            scheduler.shutdown()
            await asyncio.to_thread(scheduler.wait_stopped, 30)

    asyncio.run(scenario())
    assert overlapped == []
    assert store.articles.count() == 5
    # Read twice at once, each file's second store found its text stored by the first and
    # recorded the file as a duplicate of itself.
    with store.engine.connect() as conn:
        statuses = conn.execute(select(documents.c.status)).scalars().all()
    assert statuses == ["added"] * 5
