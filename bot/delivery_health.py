"""Delivery health: what /healthz, /readyz and `digestbot status` say about the outbox.

One rule for every view, read from the database only (every replica and `digestbot status`
see the same outbox, so they agree). Delivery is in trouble when a part was refused for good
and its articles not yet handed to a later digest, a digest run failed recently, a due
message has waited long past its time (nobody is sending), a message is still not delivered
``late`` after it was queued and its sends keep failing (e.g. Slack unreachable for minutes),
or a channel is stuck on an outcome it cannot verify (its history cannot be read). A send
that failed and will be tried again is listed (``retrying``) but is not trouble by itself:
the sweeper retries it. Messages given up as unverifiable (assumed delivered,
``bot/sweep.py``) are listed for 24 h. A paused subscription's refused parts (its channel or
webhook is gone, and the sender paused it saying what to do) are listed (``paused``), not
trouble: nothing more is sent there until someone resumes it, and its articles wait for that.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from bot.sweep import Timings
from digests.models import OutboxStatus, RunStatus
from digests.net.util import redact
from digests.store import Store
from digests.store.outbox import OutboxMessage

_FAILED_RUNS_WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class DeliveryHealth:
    """A summary fit for JSON: ``ok`` and, when not, ``problems`` in words."""

    ok: bool
    waiting: int
    overdue_seconds: float
    unknown: int
    dead: int
    failed_runs: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    last_error: str | None = None
    stuck: list[str] = field(default_factory=list)  # channels waiting on an unknown outcome
    retrying: list[str] = field(default_factory=list)  # last send failed, to be tried again
    unverified: list[str] = field(default_factory=list)  # assumed delivered, last 24 h
    paused: list[str] = field(default_factory=list)  # paused subscriptions' refused parts

    def as_dict(self) -> dict:
        """JSON-ready."""
        return asdict(self)


def late_after(timings: Timings) -> float:
    """Seconds after a message was queued past which failing sends are trouble (3 min at the
    default 45 s lease): long enough for a failed send's retries and an unknown outcome's
    looks (``Timings.window``), short of "Slack unreachable for minutes"."""
    return max(120.0, 4 * timings.lease)


def delivery_health(
    store: Store, *, now: datetime, timings: Timings | None = None
) -> DeliveryHealth:
    """The delivery side of health, from the outbox and recent runs."""
    timings = timings or Timings()
    late = late_after(timings)
    outbox = store.outbox.health(now)
    failed = [
        f"{name} @ {slot:%Y-%m-%d %H:%M}"
        for name, slot in store.runs.runs_with_status(
            RunStatus.FAILED, since=now - _FAILED_RUNS_WINDOW
        )
    ]
    held_back = store.outbox.paused_dead()
    paused = [_paused(store, name, count) for name, count in held_back.items()]
    failing = store.outbox.failing()
    problems: list[str] = []
    if outbox.dead:  # the paused subscriptions' are not counted there
        refused = sorted({
            _where(m) for m in failing
            if m.status == OutboxStatus.DEAD and m.subscription not in held_back
        })  # fmt: skip
        named = f" ({', '.join(refused)})" if refused else ""
        problems.append(f"{outbox.dead} message(s) refused for good{named}; their articles go "
                        f"to the next digest (last error: {outbox.last_error})")  # fmt: skip
    if failed:
        problems.append(f"{len(failed)} digest run(s) failed in the last 24 h (watermark kept)")
    if outbox.overdue_seconds > late:
        # No error at all: nothing tried to send them (no `serve` with their platform set up).
        why = (
            f"last error: {outbox.last_error}"
            if outbox.last_error
            else "no send was tried: is a serve that can send them running?"
        )
        problems.append(f"{outbox.waiting} message(s) waiting, the oldest "
                        f"{outbox.overdue_seconds:.0f} s overdue ({why})")  # fmt: skip
    # Past the verify window (and two more looks) an unknown outcome should have a verdict:
    # still unknown means the channel cannot be checked, and its queue waits.
    held = store.outbox.stuck(
        now, longer_than=timedelta(seconds=timings.window + 2 * timings.every)
    )
    stuck = [
        f"{m.platform} {m.channel}: outcome of {m.digest_key} part {m.part} unknown for "
        f"{_minutes(now - m.unknown_since)}, queue waiting ({m.last_error or 'no verdict'}); "
        f"assumed delivered after {_minutes(timedelta(seconds=timings.stuck))}"
        for m in held
        if m.unknown_since is not None
    ]
    problems += [f"stuck channel {line}" for line in stuck]
    # A channel whose head message failed and will be tried again: listed; trouble only once
    # that message has waited ``late`` since it was queued (a stuck one is said above).
    retrying: dict[str, str] = {}
    stuck_ids = {m.id for m in held}
    for m in failing:
        where = _where(m)
        if m.status == OutboxStatus.DEAD or where in retrying:
            continue
        waited = now - m.created_at if m.created_at else timedelta(0)
        retrying[where] = f"{where}: {m.last_error} (queued {_minutes(waited)} ago)"
        if waited.total_seconds() > late and m.id not in stuck_ids:
            problems.append(f"{where}: not delivered {_minutes(waited)} after it was queued, "
                            f"still retrying; last error: {m.last_error}")  # fmt: skip
    unverified = [
        f"{m.platform} {m.channel}: {m.digest_key} part {m.part}: {m.last_error}"
        for m in store.outbox.unverified_since(now - _FAILED_RUNS_WINDOW)
    ]
    # Errors quote URLs (a Discord webhook's holds its token): one redaction rule for all.
    return DeliveryHealth(
        ok=not problems,
        waiting=outbox.waiting,
        overdue_seconds=round(outbox.overdue_seconds, 1),
        unknown=outbox.unknown,
        dead=outbox.dead,
        failed_runs=[redact(f) for f in failed],
        problems=[redact(p) for p in problems],
        last_error=redact(outbox.last_error) if outbox.last_error else None,
        stuck=[redact(s) for s in stuck],
        unverified=[redact(u) for u in unverified],
        retrying=[redact(r) for r in retrying.values()],
        paused=[redact(p) for p in paused],
    )


def _paused(store: Store, name: str, refused: int) -> str:
    sub = store.subscriptions.get(name)
    why = (sub.disabled_reason if sub else None) or "paused"
    return f"{name} ({why}): {refused} refused message(s) wait for it to be resumed"


def _minutes(span: timedelta) -> str:
    seconds = max(0, int(span.total_seconds()))
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


def _where(message: OutboxMessage) -> str:
    """How health reports name a message's destination: its subscription, else its
    "platform channel"; a channel that is a URL (a Discord or Mattermost webhook) is a
    secret, so only its host is shown, with a short hash to tell two apart (no URL-like
    text: the redaction would cut it)."""
    if message.subscription:
        return message.subscription
    channel = message.channel
    if channel.startswith(("http://", "https://")):
        digest = hashlib.sha256(channel.encode()).hexdigest()[:8]
        channel = f"webhook {urlsplit(channel).hostname or '?'} #{digest}"
    return f"{message.platform} {channel}"
