"""A send pacer whose per-channel spacing holds across replicas (``store.pacing``).

Same interface as the in-process ``Pacer`` of the outbox sweep (``await pacer.wait(platform,
channel)`` before each send), so the sweep can take either: pass ``SharedPacer(store)`` where
several ``digestbot serve`` replicas send to the same channels.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from digests.store import Store


class SharedPacer:
    """At most one message per ``interval`` seconds per channel, over all replicas."""

    def __init__(
        self,
        store: Store,
        interval: float = 1.0,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.store, self.interval = store, interval
        self._clock, self._sleep = clock, sleep

    async def wait(self, platform: str, channel: str) -> None:
        """Reserve this channel's next send slot in the database, then wait for it."""
        slot = await asyncio.to_thread(
            self.store.pacing.reserve,
            platform,
            channel,
            now=self._clock(),
            spacing=timedelta(seconds=self.interval),
        )
        delay = (slot - self._clock()).total_seconds()
        if delay > 0:
            await self._sleep(delay)
