"""Outbox sweeper: send what the outbox holds, once, in order, at a polite pace, per platform.

The loop is platform-neutral. Each platform brings a :class:`Sender` (Slack:
``bot.platforms.slack.sender.SlackSender``; Discord: ``bot.platforms.discord.webhook``), and the caller passes a
``{platform: sender}`` dict, so a platform that is not configured simply is not in it and
its rows wait.

Exactly once, in order (see ``digests/store/outbox.py``): rows are claimed with a lease, the
head of each channel's queue only; a claim whose previous outcome is unknown (a timeout, a 5xx,
a deliverer that died mid-send) is first looked up in the channel's history (``find_sent``,
e.g. Slack message metadata carrying the digest key) and only sent when it is not there.

Verifying (issue 25). A platform may apply a post well after it answered 5xx (Slack: 35 s
and more), so "not there" is a verdict only from a look at least ``Timings.verify_window``
after the outcome became unknown; until then the row is looked for again every
``verify_every`` (a 5xx: looks at 15, 30, 45 and 60 s at the defaults). A channel that can
never be looked at (``Unverifiable``: a webhook without a bot token) is sent again at once,
said in one line. A look that cannot give a verdict (history refused, platform
unreachable) never leads to a send and never to ``dead``: the row stays unknown and its
channel waits. That wait is bounded: after ``stuck_after`` the policy is to assume the
message arrived (``unverified``: not sent again, its articles not handed on) and let the
channel's queue move on; while it waits and after, /readyz and `digestbot status` name the
channel and why.

One sweeper per process: :meth:`Sweeper.sweep` called while a sweep runs only asks the running
one to look again. Across processes and replicas the leases decide who sends what.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from digests.backoff import backoff
from digests.errors import DeliveryError, Unverifiable
from digests.net.util import redact_url
from digests.store import Store
from digests.store.outbox import Claim, OutboxMessage

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8  # known failures; then the row goes ``dead`` and its articles to the next digest
_ROUNDS = 10_000  # claims per sweep at most: a sweep always ends
_LOOKS_BEFORE_POLICY = 3  # failed looks at least, before an unverifiable outcome is given up


class Sender(Protocol):
    """One chat platform's way to deliver an outbox row.

    ``send`` returns the platform's id for the message (Slack ``ts``, Discord message id)
    or None, and raises :class:`DeliveryError` with ``retryable`` (try again later),
    ``outcome_unknown`` (it may have arrived) and, when the platform said so, ``retry_after``
    seconds. ``find_sent`` returns the id of an already delivered copy of ``message`` (same
    digest key and part) or None; it raises DeliveryError when it cannot tell now, and
    :class:`~digests.errors.Unverifiable` when it never can (the message is sent again).
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
    # Verifying an unknown outcome (module doc); None: derived from the lease (60 s, 15 s,
    # 30 min at the defaults), so runs that scale the lease scale these with it.
    verify_window: float | None = None
    verify_every: float | None = None
    stuck_after: float | None = None

    @property
    def window(self) -> float:
        """Seconds after an unknown outcome before "not in the channel" is a verdict."""
        return self.verify_window if self.verify_window is not None else self.lease * 4 / 3

    @property
    def every(self) -> float:
        """Seconds between looks at the channel while verifying."""
        return self.verify_every if self.verify_every is not None else self.lease / 3

    @property
    def stuck(self) -> float:
        """Seconds a channel may wait on an outcome it cannot verify before the policy."""
        return self.stuck_after if self.stuck_after is not None else self.lease * 40


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
    checking: int = 0  # unknown outcomes looked for and not found yet (looked for again)
    unverified: int = 0  # unknown outcomes given up on: assumed delivered, not re-sent


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
        self._lock = asyncio.Lock()
        self._again = False

    async def sweep(self) -> DeliveryReport:
        """Deliver everything due; while a sweep runs, a second call only makes it look again.

        Channels are independent pipelines: a claim is the head of one channel's queue, and
        as soon as a channel's send is done (at most ``claim_every`` s later) its next head is
        claimed, while the other channels' sends go on. Claiming in rounds that wait for the
        slowest channel of the round left most channels idle most of the time (1,000 digests
        over 200 channels: 4× the pacing bound, docs/lab/history.md).
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
                try:
                    remote = await sender.find_sent(message)
                except Unverifiable as exc:  # no look can tell: the policy is to send again
                    log.warning("outbox %s: outcome unknown, and %s: sending it again (it may "
                                "appear twice)", where, exc)  # fmt: skip
                else:
                    if remote is not None:
                        await self._record(claim, remote, report, reconciled=True)
                        return
                    if not self._verdict(claim):  # not there yet; it may still arrive
                        await self._look_again(claim, where, report)
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

    def _since(self, claim: Claim) -> datetime:
        """When the claim's outcome became unknown: recorded, or (a deliverer that died
        mid-send) its lapsed claim's start, a lease before the lease ran out."""
        message = claim.message
        if message.unknown_since is not None:
            return message.unknown_since
        return message.next_attempt_at - timedelta(seconds=self.timings.lease)

    def _verdict(self, claim: Claim) -> bool:
        """This look found nothing: is that final? Only once the window is over (looks before
        it are repeated every ``verify_every``: a 5xx is looked for several times)."""
        waited = (self.now() - self._since(claim)).total_seconds()
        return waited >= self.timings.window

    async def _look_again(self, claim: Claim, where: str, report: DeliveryReport) -> None:
        message, now = claim.message, self.now()
        since = self._since(claim)
        window_ends = since + timedelta(seconds=self.timings.window)
        at = now + timedelta(seconds=min(self.timings.every, self.timings.window))
        if window_ends > now:
            at = min(at, window_ends)  # the look that can give the verdict, on time
        log.info("outbox %s: outcome unknown, not in the channel yet (look %d); looking again "
                 "at %s", where, message.checks + 1, at.isoformat(timespec="seconds"))  # fmt: skip
        ok = await asyncio.to_thread(
            self.store.outbox.retry, claim, error=message.last_error or "outcome unknown",
            at=at, unknown=True, unknown_since=since, checks=message.checks + 1,
        )  # fmt: skip
        report.checking += ok
        report.lost += not ok

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

    async def _failed(
        self, claim: Claim, exc: DeliveryError, checking: bool, where: str, report: DeliveryReport
    ) -> None:
        message = claim.message
        now = self.now()
        if checking:  # no verdict: never a send, never dead; the channel waits, bounded
            await self._no_verdict(claim, exc, where, report)
            return
        # Unknown stays unknown: a send that may have arrived.
        unknown = exc.outcome_unknown
        # A rate limit is the platform saying "later", not a failure of this message: it does
        # not use up attempts (1,000 digests at once drew several 429s for some rows).
        limited = exc.retry_after is not None
        if exc.retryable and (unknown or limited or message.attempts < self.max_attempts):
            delay = backoff(
                self.timings.backoff_base, message.attempts, cap=self.timings.backoff_cap,
                retry_after=exc.retry_after,
            )  # fmt: skip
            if unknown and exc.retry_after is None:
                # The row holds its channel's whole queue (order): check again at least once
                # a lease, not after the hour the exponential backoff reaches by the 9th try.
                delay = min(delay, self.timings.lease)
            at = now + timedelta(seconds=delay)
            kind = "will check the channel" if unknown else "will retry"
            if unknown and "outcome unknown" not in str(exc):  # said once, by whoever knows
                kind = f"outcome unknown, {kind}"
            log.warning(
                "outbox %s: %s; %s at %s", where, exc, kind, at.isoformat(timespec="seconds")
            )
            ok = await asyncio.to_thread(
                self.store.outbox.retry, claim, error=str(exc), at=at, unknown=unknown,
                unknown_since=now if unknown else None,
            )  # fmt: skip
            report.retried += ok
            report.lost += not ok
            return
        log.error("outbox %s undeliverable: %s; its articles go to the next digest", where, exc)
        ok = await asyncio.to_thread(self.store.outbox.dead, claim, error=str(exc), now=self.now())
        report.dead += ok
        report.lost += not ok

    async def _no_verdict(
        self, claim: Claim, exc: DeliveryError, where: str, report: DeliveryReport
    ) -> None:
        """The channel could not be looked at: look again later, or past the bound, give up
        verifying (assume delivered: never a second copy)."""
        message, now = claim.message, self.now()
        since = self._since(claim)
        looks = message.checks + 1
        # The bound counts from the unknown outcome, but takes a few failed looks too: a row
        # found unknown after a long downtime is not given up on at its first look.
        if (now - since).total_seconds() >= self.timings.stuck and looks >= _LOOKS_BEFORE_POLICY:
            why = (f"outcome unknown since {since.isoformat(timespec='seconds')} and the channel "
                   f"could not be checked ({exc}); assumed delivered, not re-sent")  # fmt: skip
            log.error("outbox %s: %s", where, why)
            ok = await asyncio.to_thread(self.store.outbox.unverified, claim, error=why)
            report.unverified += ok
            report.lost += not ok
            return
        delay = backoff(
            self.timings.backoff_base,
            message.attempts,
            cap=self.timings.backoff_cap,
            retry_after=exc.retry_after,
        )
        at = now + timedelta(seconds=min(delay, self.timings.lease))
        log.warning("outbox %s: could not check the channel (%s); the outcome stays unknown, "
                    "looking again at %s", where, exc, at.isoformat(timespec="seconds"))  # fmt: skip
        ok = await asyncio.to_thread(
            self.store.outbox.retry, claim, error=f"cannot verify: {exc}", at=at, unknown=True,
            unknown_since=since, checks=looks,
        )  # fmt: skip
        report.retried += ok
        report.lost += not ok
