"""Requests seen once, shared by replicas: a replayed copy (same id) is not run again.

A Discord interaction is signed with a timestamp good for five minutes and its token lives
fifteen: within that time the same signed body could be sent to any replica. Each id is
inserted once (primary key); a second insert of it, on any replica, fails and says "seen".
Rows older than their lifetime are deleted as new ones arrive (indexed by time, a batch at
a time), so the table holds about fifteen minutes of ids.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from digests.store.schema import seen_requests

_PRUNE_BATCH = 1000


class Replays:
    """``first_time(key, now)``: True once per key within ``lifetime``."""

    def __init__(self, engine: Engine, lifetime: timedelta = timedelta(minutes=15)) -> None:
        self._engine, self._lifetime = engine, lifetime

    def first_time(self, key: str, *, now: datetime) -> bool:
        """Record ``key`` as seen at ``now``; False when it was already seen (and not expired)."""
        cutoff = now - self._lifetime
        with self._engine.begin() as conn:
            old = (
                select(seen_requests.c.key)
                .where(seen_requests.c.seen_at < cutoff)
                .limit(_PRUNE_BATCH)
                .scalar_subquery()
            )
            conn.execute(delete(seen_requests).where(seen_requests.c.key.in_(old)))
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(seen_requests).values(key=key[:200], seen_at=now))
        except IntegrityError:
            return False
        return True
