"""Delivery health: what /healthz, /readyz and `digestbot status` say about the outbox.

Read from the database (every replica reports the same outbox) plus this process's sweeper
(its last error, channels currently failing). Delivery is in trouble when a part was refused
for good and its articles not yet handed to a later digest, a digest run failed recently, a
due message has waited long past its time (e.g. Slack unreachable), a channel is stuck on an
outcome it cannot verify (its history cannot be read), or a channel's last send failed here.
Messages given up as unverifiable (assumed delivered, ``bot/sweep.py``) are listed for 24 h.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from bot.sweep import DeliveryState, Timings
from digests.models import RunStatus
from digests.net.util import redact
from digests.store import Store

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
    unverified: list[str] = field(default_factory=list)  # assumed delivered, last 24 h

    def as_dict(self) -> dict:
        """JSON-ready."""
        return asdict(self)


def delivery_health(
    store: Store,
    *,
    now: datetime,
    state: DeliveryState | None = None,
    timings: Timings | None = None,
) -> DeliveryHealth:
    """The delivery side of health, from the outbox, recent runs and this process's sweeper."""
    timings = timings or Timings()
    outbox = store.outbox.health(now)
    failed = [
        f"{name} @ {slot:%Y-%m-%d %H:%M}"
        for name, slot in store.runs.runs_with_status(
            RunStatus.FAILED, since=now - _FAILED_RUNS_WINDOW
        )
    ]
    problems: list[str] = []
    if outbox.dead:
        problems.append(f"{outbox.dead} message(s) refused for good; their articles go to the "
                        f"next digest (last error: {outbox.last_error})")  # fmt: skip
    if failed:
        problems.append(f"{len(failed)} digest run(s) failed in the last 24 h (watermark kept)")
    late = max(120.0, 4 * timings.lease)
    if outbox.overdue_seconds > late:
        problems.append(f"{outbox.waiting} message(s) waiting, the oldest "
                        f"{outbox.overdue_seconds:.0f} s overdue (last error: {outbox.last_error})")  # fmt: skip
    # Past the verify window (and two more looks) an unknown outcome should have a verdict:
    # still unknown means the channel cannot be checked, and its queue waits.
    stuck = [
        f"{m.platform} {m.channel}: outcome of {m.digest_key} part {m.part} unknown for "
        f"{_minutes(now - m.unknown_since)}, queue waiting ({m.last_error or 'no verdict'}); "
        f"assumed delivered after {_minutes(timedelta(seconds=timings.stuck))}"
        for m in store.outbox.stuck(
            now, longer_than=timedelta(seconds=timings.window + 2 * timings.every)
        )
        if m.unknown_since is not None
    ]
    problems += [f"stuck channel {line}" for line in stuck]
    unverified = [
        f"{m.platform} {m.channel}: {m.digest_key} part {m.part}: {m.last_error}"
        for m in store.outbox.unverified_since(now - _FAILED_RUNS_WINDOW)
    ]
    if state is not None:
        problems += [f"{where}: {error}" for where, error in sorted(state.failing.items())]
    last_error = state.last_error if state and state.last_error else outbox.last_error
    # Errors quote URLs (a Discord webhook's holds its token): one redaction rule for all.
    return DeliveryHealth(
        ok=not problems,
        waiting=outbox.waiting,
        overdue_seconds=round(outbox.overdue_seconds, 1),
        unknown=outbox.unknown,
        dead=outbox.dead,
        failed_runs=[redact(f) for f in failed],
        problems=[redact(p) for p in problems],
        last_error=redact(last_error) if last_error else None,
        stuck=[redact(s) for s in stuck],
        unverified=[redact(u) for u in unverified],
    )


def _minutes(span: timedelta) -> str:
    seconds = max(0, int(span.total_seconds()))
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"
