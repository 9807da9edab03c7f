"""Per-channel send pacing shared by replicas: at most one message per ``spacing`` per channel.

:meth:`ChannelPace.reserve` hands out send slots: the row of the channel holds the earliest
moment of the next message; a reservation takes ``max(that, now)`` and moves it one
``spacing`` on, with the row locked (``FOR UPDATE`` on PostgreSQL), so two replicas never get
the same slot. The sender sleeps until its slot. SQLite has no row locks; with one process
the reservations of its threads are serialized by SQLite's write lock.

The platform counts a message when it *arrives*, and arrivals jitter with the network: two
sends one spacing apart can arrive 0.9 s apart (measured: half of all paced sends to one
channel drew a 429 from a stand-in that counts 1 s per channel at arrival). So
:meth:`ChannelPace.answered` moves the channel's next slot to one spacing after the *answer*
of the previous send, which came after its arrival: the next arrival is at least one spacing
later, whatever the latency. The cost is one round trip per message.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from digests.store.schema import as_utc, channel_pace


class ChannelPace:
    """Send slots per (platform, channel)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def reserve(
        self, platform: str, channel: str, *, now: datetime, spacing: timedelta
    ) -> datetime:
        """The moment this caller may send its next message to ``channel`` (≥ ``now``)."""
        key = and_(channel_pace.c.platform == platform, channel_pace.c.channel == channel)
        for _ in range(3):  # two replicas creating the row at once: the loser reads it again
            try:
                with self._engine.begin() as conn:
                    if conn.dialect.name == "sqlite":  # take the write lock before reading
                        conn.exec_driver_sql("UPDATE channel_pace SET next_at = next_at WHERE 0")
                    row = conn.execute(
                        select(channel_pace.c.next_at).where(key).with_for_update()
                    ).first()
                    if row is None:
                        conn.execute(
                            insert(channel_pace).values(
                                platform=platform, channel=channel, next_at=now + spacing
                            )
                        )
                        return now
                    slot = max(as_utc(row[0]) or now, now)
                    conn.execute(update(channel_pace).where(key).values(next_at=slot + spacing))
                    return slot
            except IntegrityError:
                continue
        return now + spacing  # never reached in practice: pace by the spacing alone

    def answered(self, platform: str, channel: str, *, now: datetime, spacing: timedelta) -> None:
        """The platform answered a send to ``channel`` at ``now``: no next slot before
        ``now + spacing`` (see the module doc)."""
        at = now + spacing
        with self._engine.begin() as conn:
            conn.execute(
                update(channel_pace)
                .where(
                    channel_pace.c.platform == platform,
                    channel_pace.c.channel == channel,
                    channel_pace.c.next_at < at,
                )
                .values(next_at=at)
            )
