"""The outbox: rendered messages are written here before any attempt to send them.

A sender takes due rows, marks them ``sending``, delivers, and records the remote id. A crash
between "sent" and "recorded" leaves a ``sending`` row, which the sender reconciles against
the platform (by the digest key it put in the message) before it sends again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from digests.store._engine import as_utc
from digests.store.schema import outbox


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One message waiting for (or done with) delivery."""

    id: int
    digest_key: str
    part: int
    platform: str
    channel: str
    payload: dict
    status: str
    attempts: int
    remote_id: str | None
    last_error: str | None
    next_attempt_at: datetime
    team_id: str | None = None  # Slack workspace whose token sends it (OAuth installs)
    created_at: datetime | None = None


class Outbox:
    """Queue of rendered messages, one row per message part."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def enqueue(
        self,
        digest_key: str,
        parts: Sequence[dict],
        *,
        platform: str,
        channel: str,
        now: datetime,
        team_id: str | None = None,
    ) -> int:
        """Queue the parts of one digest; parts already queued under the key are kept (0 added)."""
        rows = [
            {
                "digest_key": digest_key,
                "part": i,
                "platform": platform,
                "channel": channel,
                "payload": p,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "team_id": team_id,
            }
            for i, p in enumerate(parts)
        ]
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(outbox), rows)
        except IntegrityError:
            return 0
        return len(rows)

    def due(
        self,
        now: datetime,
        *,
        platform: str | None = None,
        limit: int = 100,
        stale_after: timedelta = timedelta(minutes=5),
    ) -> list[OutboxMessage]:
        """Messages to send now: pending and due, or stuck in ``sending`` (a crashed sender)."""
        query = select(outbox).where(
            or_(
                (outbox.c.status == "pending") & (outbox.c.next_attempt_at <= now),
                (outbox.c.status == "sending") & (outbox.c.next_attempt_at <= now - stale_after),
            )
        )
        if platform:
            query = query.where(outbox.c.platform == platform)
        query = query.order_by(outbox.c.digest_key, outbox.c.part).limit(limit)
        with self._engine.connect() as conn:
            return [_to_message(r) for r in conn.execute(query).mappings()]

    def start(self, message_id: int, *, now: datetime) -> bool:
        """Mark a message as being sent; False if another sender took it first."""
        with self._engine.begin() as conn:
            result = conn.execute(
                update(outbox)
                .where(outbox.c.id == message_id, outbox.c.status.in_(["pending", "sending"]))
                .where(or_(outbox.c.status == "pending", outbox.c.next_attempt_at <= now))
                .values(status="sending", attempts=outbox.c.attempts + 1, next_attempt_at=now)
            )
            return bool(result.rowcount)

    def sent(self, message_id: int, *, remote_id: str | None, now: datetime) -> None:
        """Record a delivered message and the platform's id for it (Slack ``ts``)."""
        with self._engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id == message_id)
                .values(status="sent", remote_id=remote_id, sent_at=now, last_error=None)
            )

    def retry(self, message_id: int, *, error: str, at: datetime) -> None:
        """Put a message back for another attempt at ``at``."""
        with self._engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id == message_id)
                .values(status="pending", last_error=error, next_attempt_at=at)
            )

    def dead(self, message_id: int, *, error: str) -> None:
        """Give up on a message (the platform refused it for good); kept for inspection."""
        with self._engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id == message_id)
                .values(status="dead", last_error=error)
            )

    def counts(self) -> dict[str, int]:
        """How many rows are in each status (pending, sending, sent, dead)."""
        query = select(outbox.c.status, func.count()).group_by(outbox.c.status)
        with self._engine.connect() as conn:
            return {status: int(n) for status, n in conn.execute(query)}

    def messages(self, digest_key: str) -> list[OutboxMessage]:
        """Every part of one digest, in order."""
        query = select(outbox).where(outbox.c.digest_key == digest_key).order_by(outbox.c.part)
        with self._engine.connect() as conn:
            return [_to_message(r) for r in conn.execute(query).mappings()]


def _to_message(row) -> OutboxMessage:  # type: ignore[no-untyped-def]
    return OutboxMessage(
        id=int(row["id"]),
        digest_key=row["digest_key"],
        part=int(row["part"]),
        platform=row["platform"],
        channel=row["channel"],
        payload=row["payload"],
        status=row["status"],
        attempts=int(row["attempts"]),
        remote_id=row["remote_id"],
        last_error=row["last_error"],
        next_attempt_at=as_utc(row["next_attempt_at"]),
        team_id=row.get("team_id"),
        created_at=as_utc(row.get("created_at")),
    )
