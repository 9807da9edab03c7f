"""Slot arithmetic: when a subscription's digests are due. Pure functions of ``now``.

Slots and DST. A run's slot is the trigger's fire time, normalized to the *first* instant of
that wall-clock time in the subscription's timezone. APScheduler 3.11 behaves like this on
Europe/London DST days for ``30 1 * * *`` (checked in tests/bot/test_schedule.py):

* spring forward (01:30 does not exist): it fires once, at 01:30 UTC = 02:30 BST — no day
  is missed;
* fall back (01:30 happens twice): it fires at 00:30 UTC and again at 01:30 UTC; both map
  to the slot 00:30 UTC, so the second claim fails and nothing is posted twice.

Catch-up: a subscription whose latest slot lies within the grace window and is unclaimed gets
exactly one run (older missed slots are folded into it: the watermark makes that digest hold
every article since the last delivered one).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger


class Timed(Protocol):
    """What slot arithmetic needs of a subscription."""

    @property
    def cron(self) -> str: ...

    @property
    def timezone(self) -> str: ...


def trigger_for(sub: Timed) -> CronTrigger:
    """The cron trigger of a subscription, in its own timezone.

    Five fields are crontab; a sixth leading field is seconds (``*/5 * * * * *``), which only
    tests and benchmarks use to run many slots quickly.
    """
    zone = ZoneInfo(sub.timezone)
    fields = sub.cron.split()
    if len(fields) == 6:
        second, minute, hour, day, month, dow = fields
        return CronTrigger(
            second=second, minute=minute, hour=hour, day=day, month=month,
            day_of_week=dow, timezone=zone,
        )  # fmt: skip
    return CronTrigger.from_crontab(sub.cron, timezone=zone)


def normalize_slot(fire_time: datetime, timezone: str) -> datetime:
    """The slot (UTC) of a fire time: the first instant of that wall-clock time (see module doc)."""
    local = fire_time.astimezone(ZoneInfo(timezone)).replace(fold=0)
    return local.astimezone(UTC)


def latest_slot(sub: Timed, now: datetime, *, within: timedelta) -> datetime | None:
    """The newest slot at or before ``now`` and no older than ``within``, or None."""
    trigger = trigger_for(sub)
    start = (now - within).astimezone(UTC)
    latest: datetime | None = None
    t = trigger.get_next_fire_time(None, start)
    while t is not None and t <= now:
        latest = t
        # Step in UTC: wall-clock arithmetic on an aware datetime drops ``fold``.
        t = trigger.get_next_fire_time(t, t.astimezone(UTC) + timedelta(seconds=1))
    return normalize_slot(latest, sub.timezone) if latest else None
