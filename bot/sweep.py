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
from digests.netutil import redact_url
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

    async def answered(self, platform: str, channel: str) -> None:
        """The platform answered the send: the next one waits an interval from now (the
        platform counts arrivals, which jitter; see ``digests/store/pacing.py``)."""
        key = (platform, channel)
        self._last[key] = max(self._last.get(key, self._clock()), self._clock())


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
        limit: int = 256,
        claim_every: float = 0.5,
    ) -> None:
        self.store, self.senders, self.owner, self.now = store, senders, owner, now
        self.pacer = pacer or Pacer()
        self.timings, self.max_attempts = timings, max_attempts
        self.limit = limit  # channels in flight at once in this process
        self.claim_every = claim_every  # longest wait before claiming freed channels' heads
        self.state = DeliveryState()
        self._lock = asyncio.Lock()
        self._again = False

    async def sweep(self) -> DeliveryReport:
        """Deliver everything due; while a sweep runs, a second call only makes it look again.

        Channels are independent pipelines: a claim is the head of one channel's queue, and
        as soon as a channel's send is done (at most ``claim_every`` s later) its next head is
        claimed, while the other channels' sends go on. Claiming in rounds that wait for the
        slowest channel of the round left most channels idle most of the time (1,000 digests
        over 200 channels: 4× the pacing bound, docs/BENCHMARKS.md).
        """
        if self._lock.locked():
            self._again = True
            return DeliveryReport()
        async with self._lock:
            report = DeliveryReport()
            running: set[asyncio.Task[None]] = set()
            try:
                for _ in range(_ROUNDS):
                    self._again = False
                    room = self.limit - len(running)
                    claims = await self._claim(room) if room > 0 else []
                    for claim in claims:
                        running.add(asyncio.create_task(self._deliver(claim, report)))
                    if not running:
                        if claims or self._again:
                            continue
                        break
                    started = time.monotonic()
                    done, running = await asyncio.wait(
                        running, timeout=self.claim_every, return_when=asyncio.FIRST_COMPLETED
                    )
                    for task in done:
                        task.result()  # an unexpected error ends the sweep, as it always did
                    # Completions close together are claimed for together (one query).
                    rest = self.claim_every / 4 - (time.monotonic() - started)
                    if rest > 0 and running:
                        await asyncio.sleep(rest)
            finally:
                if running:  # let what was claimed finish and record its outcome
                    await asyncio.gather(*running, return_exceptions=True)
            return report

    async def _claim(self, limit: int) -> list[Claim]:
        return await asyncio.to_thread(
            self.store.outbox.claim,
            owner=self.owner,
            now=self.now(),
            lease=timedelta(seconds=self.timings.lease),
            platforms=list(self.senders),
            limit=limit,
        )

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
            try:
                remote = await sender.send(message)
            finally:
                await self.pacer.answered(message.platform, message.channel)
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
            log.info("sent %s %s part %d (%s)", message.platform, redact_url(message.channel),
                     message.part, message.digest_key)  # fmt: skip
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
        # A rate limit is the platform saying "later", not a failure of this message: it does
        # not use up attempts (1,000 digests at once drew several 429s for some rows).
        limited = exc.retry_after is not None
        if exc.retryable and (unknown or limited or message.attempts < self.max_attempts):
            delay = backoff(message.attempts, exc.retry_after, self.timings)
            if unknown and exc.retry_after is None:
                # The row holds its channel's whole queue (order): check again at least once
                # a lease, not after the hour the exponential backoff reaches by the 9th try.
                delay = min(delay, self.timings.lease)
            at = now + timedelta(seconds=delay)
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
