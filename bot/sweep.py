"""Outbox sweeper: send what the outbox holds, once, in order, at a polite pace, per platform.

The loop is platform-neutral. Each platform brings a :class:`Sender` (Slack:
``bot.slack.sender.SlackSender``; Discord: ``bot.discord.webhook``), and the caller passes a
``{platform: sender}`` dict, so a platform that is not configured simply is not in it and
its rows wait.

Exactly once, in order (see ``digests/store/outbox.py``): rows are claimed with a lease, the
head of each channel's queue only; a claim whose previous outcome is unknown (a timeout, a 5xx,
a deliverer that died mid-send) is first looked up in the channel's history (``find_sent``,
e.g. Slack message metadata carrying the digest key) and only sent when it is not there.

One sweeper per process: :meth:`Sweeper.sweep` called while a sweep runs only asks the running
one to look again. Across processes and replicas the leases decide who sends what.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from digests.errors import DeliveryError
from digests.store import Store
from digests.store.outbox import Claim, OutboxMessage

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8  # known failures; then the row goes ``dead`` and its articles to the next digest
_ROUNDS = 10_000  # claims per sweep at most: a sweep always ends


class Sender(Protocol):
    """One chat platform's way to deliver an outbox row.

    ``send`` returns the platform's id for the message (Slack ``ts``, Discord message id)
    or None, and raises :class:`DeliveryError` with ``retryable`` (try again later),
    ``outcome_unknown`` (it may have arrived) and, when the platform said so, ``retry_after``
    seconds. ``find_sent`` returns the id of an already delivered copy of ``message`` (same
    digest key and part) or None; it raises DeliveryError when it cannot tell.
    """

    platform: str

    async def send(self, message: OutboxMessage) -> str | None: ...

    async def find_sent(self, message: OutboxMessage) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Timings:
    """Delivery timings; tests scale them down, production keeps the defaults.

    The lease must outlast one send (``send_timeout``) plus a history check, and it bounds how
    long a message of a deliverer that died mid-send waits to be reconciled (≤ a minute).
    """

    send_timeout: float = 20.0
    lease: float = 45.0
    sweep_every: float = 5.0
    backoff_base: float = 15.0
    backoff_cap: float = 3600.0


DEFAULT_TIMINGS = Timings()


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
    """What one sweep of the outbox did."""

    sent: int = 0
    reconciled: int = 0  # found already delivered (unknown outcome): recorded, not re-sent
    retried: int = 0
    dead: int = 0
    lost: int = 0  # claims that expired before the outcome was recorded


@dataclass
class DeliveryState:
    """This process's view of delivery, for /healthz and /readyz."""

    last_ok: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    failing: dict[str, str] = field(default_factory=dict)  # "platform channel" → last error


def backoff(
    attempts: int, retry_after: float | None = None, timings: Timings = DEFAULT_TIMINGS
) -> float:
    """Seconds before the next attempt: what the platform asked for, else exponential."""
    if retry_after is not None:
        return max(0.0, retry_after)
    return min(timings.backoff_cap, timings.backoff_base * 2 ** max(0, attempts - 1))


class Sweeper:
    """The one outbox deliverer of a process."""

    def __init__(
        self,
        store: Store,
        senders: Mapping[str, Sender],
        *,
        owner: str,
        now: Callable[[], datetime],
        pacer: Pacer | None = None,
        timings: Timings = DEFAULT_TIMINGS,
        max_attempts: int = MAX_ATTEMPTS,
        limit: int = 50,
    ) -> None:
        self.store, self.senders, self.owner, self.now = store, senders, owner, now
        self.pacer = pacer or Pacer()
        self.timings, self.max_attempts, self.limit = timings, max_attempts, limit
        self.state = DeliveryState()
        self._lock = asyncio.Lock()
        self._again = False

    async def sweep(self) -> DeliveryReport:
        """Deliver everything due; while a sweep runs, a second call only makes it look again."""
        if self._lock.locked():
            self._again = True
            return DeliveryReport()
        async with self._lock:
            report = DeliveryReport()
            for _ in range(_ROUNDS):
                self._again = False
                claims = await asyncio.to_thread(
                    self.store.outbox.claim,
                    owner=self.owner,
                    now=self.now(),
                    lease=timedelta(seconds=self.timings.lease),
                    platforms=list(self.senders),
                    limit=self.limit,
                )
                if not claims and not self._again:
                    break
                # One claim per channel (the head of its queue): channels go in parallel.
                await asyncio.gather(*(self._deliver(c, report) for c in claims))
            return report

    async def _deliver(self, claim: Claim, report: DeliveryReport) -> None:
        message = claim.message
        sender = self.senders[message.platform]
        where = f"{message.platform} {message.digest_key} part {message.part}"
        checking = claim.unknown
        try:
            if checking:  # it may already be there: look before sending again
                remote = await sender.find_sent(message)
                if remote is not None:
                    await self._record(claim, remote, report, reconciled=True)
                    return
                checking = False
            await self.pacer.wait(message.platform, message.channel)
            remote = await sender.send(message)
        except DeliveryError as exc:
            await self._failed(claim, exc, checking, where, report)
            return
        await self._record(claim, remote, report, reconciled=False)

    async def _record(
        self, claim: Claim, remote: str | None, report: DeliveryReport, *, reconciled: bool
    ) -> None:
        message = claim.message
        if not await asyncio.to_thread(
            self.store.outbox.sent, claim, remote_id=remote, now=self.now()
        ):
            # The lease ran out first; the next holder finds this copy in the channel.
            log.warning(
                "outbox %s part %d: lease lost before recording", message.digest_key, message.part
            )
            report.lost += 1
            return
        if reconciled:
            log.info("outbox %s part %d was already delivered: recorded, not re-sent",
                     message.digest_key, message.part)  # fmt: skip
            report.reconciled += 1
        else:
            report.sent += 1
        self.state.last_ok = self.now()
        self.state.failing.pop(f"{message.platform} {message.channel}", None)

    async def _failed(
        self, claim: Claim, exc: DeliveryError, checking: bool, where: str, report: DeliveryReport
    ) -> None:
        message = claim.message
        now = self.now()
        self.state.last_error, self.state.last_error_at = f"{where}: {exc}", now
        self.state.failing[f"{message.platform} {message.channel}"] = str(exc)
        # Unknown stays unknown: a failed history check, or a send that may have arrived.
        unknown = checking or exc.outcome_unknown
        if exc.retryable and (unknown or message.attempts < self.max_attempts):
            at = now + timedelta(seconds=backoff(message.attempts, exc.retry_after, self.timings))
            kind = "outcome unknown, will check the channel" if unknown else "will retry"
            log.warning(
                "outbox %s: %s; %s at %s", where, exc, kind, at.isoformat(timespec="seconds")
            )
            ok = await asyncio.to_thread(
                self.store.outbox.retry, claim, error=str(exc), at=at, unknown=unknown
            )
            report.retried += ok
            report.lost += not ok
            return
        log.error("outbox %s undeliverable: %s; its articles go to the next digest", where, exc)
        ok = await asyncio.to_thread(self.store.outbox.dead, claim, error=str(exc))
        report.dead += ok
        report.lost += not ok


async def deliver(
    store: Store,
    senders: Mapping[str, Sender],
    *,
    now: Callable[[], datetime],
    pacer: Pacer | None = None,
    owner: str = "deliver",
    timings: Timings = DEFAULT_TIMINGS,
    max_attempts: int = MAX_ATTEMPTS,
) -> DeliveryReport:
    """One sweep with a fresh sweeper (one-shot callers such as the CLI)."""
    sweeper = Sweeper(
        store,
        senders,
        owner=owner,
        now=now,
        pacer=pacer,
        timings=timings,
        max_attempts=max_attempts,
    )
    return await sweeper.sweep()
