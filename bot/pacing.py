"""A send pacer whose per-channel spacing holds across replicas (``store.pacing``).

A drop-in for the in-process ``bot.sweep.Pacer`` (``await pacer.wait(platform, channel)``
before each send); ``digestbot serve`` uses it, so replicas sending to one channel keep
Slack's ~1 message/s between them, not each on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from bot.sweep import Pacer
from digests.store import Store


class SharedPacer(Pacer):
    """At most one message per ``interval`` seconds per channel, over all replicas."""

    def __init__(
        self,
        store: Store,
        interval: float = 1.0,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(interval, sleep=sleep)
        self.store, self._now = store, clock

    async def wait(self, platform: str, channel: str) -> None:
        """Reserve this channel's next send slot in the database, then wait for it."""
        slot = await asyncio.to_thread(
            self.store.pacing.reserve,
            platform,
            channel,
            now=self._now(),
            spacing=timedelta(seconds=self.interval),
        )
        delay = (slot - self._now()).total_seconds()
        if delay > 0:
            await self._sleep(delay)

    async def answered(self, platform: str, channel: str) -> None:
        """The send was answered: the channel's next slot is one interval from now, at least."""
        await asyncio.to_thread(
            self.store.pacing.answered,
            platform,
            channel,
            now=self._now(),
            spacing=timedelta(seconds=self.interval),
        )
