"""Deliver stage: send what the outbox holds, once, in order, at a polite pace, per platform.

The loop is platform-neutral. Each platform brings a :class:`Sender` (Slack:
``bot.slack.sender.SlackSender``; Discord: ``bot.discord``), and the caller passes a
``{platform: sender}`` dict, so a platform that is not configured simply is not in it
and its rows wait.

Exactly once: a row is marked ``sending`` before the platform call and ``sent`` (with the
remote id) after it. A crash in between leaves ``sending``; when the outbox hands such a
stale row back, the loop first asks the sender whether the message already arrived
(``find_sent``, e.g. Slack message metadata carrying the digest key) and only sends it again
when it did not.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from digests.errors import DeliveryError
from digests.store import Store
from digests.store.outbox import OutboxMessage

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8  # then the row goes ``dead`` (kept for inspection), ~4 h of backoff in all
_BACKOFF_BASE, _BACKOFF_CAP = 15.0, 3600.0


class Sender(Protocol):
    """One chat platform's way to deliver an outbox row.

    ``send`` returns the platform's id for the message (Slack ``ts``, Discord message id)
    or None, and raises :class:`DeliveryError` with ``retryable`` (try again later) and,
    when the platform said so, ``retry_after`` seconds. ``find_sent`` returns the id of an
    already delivered copy of ``message`` (same digest key and part) or None.
    """

    platform: str

    async def send(self, message: OutboxMessage) -> str | None: ...

    async def find_sent(self, message: OutboxMessage) -> str | None: ...


class Pacer:
    """At most one message per ``interval`` seconds per channel (Slack: ~1 msg/s/channel)."""

    def __init__(
        self,
        interval: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.interval = interval
        self._clock, self._sleep = clock, sleep
        self._last: dict[tuple[str, str], float] = {}

    async def wait(self, platform: str, channel: str) -> None:
        """Wait until ``channel`` may take another message, then count one."""
        key = (platform, channel)
        if key in self._last:
            delay = self._last[key] + self.interval - self._clock()
            if delay > 0:
                await self._sleep(delay)
        self._last[key] = self._clock()


@dataclass
class DeliveryReport:
    """What one pass over the outbox did."""

    sent: int = 0
    reconciled: int = 0  # found already delivered after a crash: recorded, not re-sent
    retried: int = 0
    dead: int = 0


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next attempt: what the platform asked for, else exponential."""
    if retry_after is not None:
        return max(0.0, retry_after)
    return min(_BACKOFF_CAP, _BACKOFF_BASE * 2 ** max(0, attempts - 1))


async def deliver(
    store: Store,
    senders: Mapping[str, Sender],
    *,
    now: Callable[[], datetime],
    pacer: Pacer | None = None,
    limit: int = 100,
    max_attempts: int = MAX_ATTEMPTS,
) -> DeliveryReport:
    """One pass: send every due outbox row whose platform has a sender; parts stay in order."""
    report = DeliveryReport()
    pacer = pacer or Pacer()
    due = await asyncio.to_thread(store.outbox.due, now(), limit=limit)
    due_ids = {m.id for m in due}
    for key in dict.fromkeys(m.digest_key for m in due):
        parts = await asyncio.to_thread(store.outbox.messages, key)
        for message in parts:
            if message.status in {"sent", "dead"}:
                continue
            sender = senders.get(message.platform)
            # An earlier part still waiting (backoff, or no sender here) holds back the rest.
            if message.id not in due_ids or sender is None:
                break
            if not await _deliver_one(store, sender, message, now, pacer, max_attempts, report):
                break
    return report


async def _deliver_one(
    store: Store,
    sender: Sender,
    message: OutboxMessage,
    now: Callable[[], datetime],
    pacer: Pacer,
    max_attempts: int,
    report: DeliveryReport,
) -> bool:
    """Deliver one row; False when the rest of its digest must wait."""
    if not await asyncio.to_thread(store.outbox.start, message.id, now=now()):
        return False  # another sender (replica) took it
    attempts = message.attempts + 1
    try:
        if message.status == "sending":  # left mid-send by a crash: did it arrive?
            remote = await sender.find_sent(message)
            if remote is not None:
                await asyncio.to_thread(store.outbox.sent, message.id, remote_id=remote, now=now())
                report.reconciled += 1
                return True
        await pacer.wait(message.platform, message.channel)
        remote = await sender.send(message)
    except DeliveryError as exc:
        if exc.retryable and attempts < max_attempts:
            at = now() + timedelta(seconds=backoff(attempts, exc.retry_after))
            log.warning(
                "outbox %s part %d: %s; retry at %s", message.digest_key, message.part, exc, at
            )
            await asyncio.to_thread(store.outbox.retry, message.id, error=str(exc), at=at)
            report.retried += 1
            return False
        log.error("outbox %s part %d dead: %s", message.digest_key, message.part, exc)
        await asyncio.to_thread(store.outbox.dead, message.id, error=str(exc))
        report.dead += 1
        return True
    await asyncio.to_thread(store.outbox.sent, message.id, remote_id=remote, now=now())
    report.sent += 1
    return True
