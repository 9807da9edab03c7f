"""Per-channel send pacing in the database: slots one spacing apart, across replicas."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta

from bot.pacing import SharedPacer
from digests.store import Store
from tests.conftest import NOW

SECOND = timedelta(seconds=1)


def test_slots_are_spaced_per_channel(any_store: Store) -> None:
    reserve = any_store.pacing.reserve
    assert reserve("slack", "C1", now=NOW, spacing=SECOND) == NOW
    assert reserve("slack", "C1", now=NOW, spacing=SECOND) == NOW + SECOND
    assert reserve("slack", "C2", now=NOW, spacing=SECOND) == NOW  # another channel
    assert reserve("discord", "C1", now=NOW, spacing=SECOND) == NOW  # another platform
    later = NOW + timedelta(seconds=30)  # the channel was idle: send at once
    assert reserve("slack", "C1", now=later, spacing=SECOND) == later


def test_concurrent_replicas_never_share_a_slot(pg_store: Store) -> None:
    barrier = threading.Barrier(6)
    slots: list[datetime] = []
    lock = threading.Lock()

    def replica() -> None:
        barrier.wait()
        for _ in range(5):
            slot = pg_store.pacing.reserve("slack", "CX", now=NOW, spacing=SECOND)
            with lock:
                slots.append(slot)

    threads = [threading.Thread(target=replica) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(slots) == [NOW + i * SECOND for i in range(30)]


def test_shared_pacer_waits_for_its_slot(store: Store) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    first = SharedPacer(store, clock=lambda: NOW, sleep=sleep)
    second = SharedPacer(store, clock=lambda: NOW, sleep=sleep)  # another replica

    async def scenario() -> None:
        await first.wait("slack", "C1")
        await second.wait("slack", "C1")
        await first.wait("slack", "C1")

    asyncio.run(scenario())
    assert slept == [1.0, 2.0]


def test_an_answer_pushes_the_next_slot_one_spacing_after_it(any_store: Store) -> None:
    pace = any_store.pacing
    assert pace.reserve("slack", "C1", now=NOW, spacing=SECOND) == NOW
    pace.answered("slack", "C1", now=NOW + SECOND / 2, spacing=SECOND)  # a slow answer
    assert pace.reserve("slack", "C1", now=NOW, spacing=SECOND) == NOW + SECOND * 3 / 2
    pace.answered("slack", "C1", now=NOW, spacing=SECOND)  # never moves a slot back
    assert pace.reserve("slack", "C1", now=NOW, spacing=SECOND) == NOW + SECOND * 5 / 2
