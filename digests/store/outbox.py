"""The outbox: rendered messages are written here before any attempt to send them.

Rows move ``pending → sending → sent`` (or ``dead``; a dead row whose articles were handed to a
later digest becomes ``carried``). Work is shared through the table (docs/ARCHITECTURE.md):

* **Claims with a lease.** :meth:`Outbox.claim` takes the head of each channel's queue with a
  guarded UPDATE (and ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), marks it ``sending`` with a
  token in ``claimed_by`` and sets ``next_attempt_at`` to the lease expiry. Only the token's
  holder can record the outcome (:meth:`sent`, :meth:`retry`, :meth:`dead`), so a row is never
  reset or re-marked by a pass that lost it.
* **Unknown outcome.** A ``sending`` row is one that may have reached the platform: a lapsed
  lease (the deliverer died) or a send that timed out (:meth:`retry` with ``unknown=True``).
  Claiming such a row says so (``Claim.unknown``): the deliverer checks the channel's history
  before it sends again. ``unknown_since`` and ``checks`` (0011) say when the outcome became
  unknown and how often the channel was looked at since: a row is sent again only after more
  than one look over a window, and one that cannot be verified for long enough is
  ``unverified`` (assumed delivered, never sent twice; see ``bot/sweep.py``).
* **Order.** Per (platform, channel) only the oldest unfinished row (lowest id) can be claimed:
  digests go out in the order they were queued (slot order), parts contiguous, and after an
  outage the oldest digest goes first. A row with a ``parent_id`` is handed out with its
  parent's ``remote_id`` (a reply needs its parent's ts); parents must be queued first.
  Ids are handed out at insert but seen at commit: on PostgreSQL two transactions queueing
  to one channel could commit in the opposite order of their ids, and the older rows then
  became a second head of the channel. Every enqueue therefore first takes the channel's
  transaction-scoped advisory lock (:meth:`Outbox.lock_channels`): one channel's queueing
  transactions run one after the other, so id order is commit order. (SQLite has one
  writer at a time: the same holds by construction.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, and_, exists, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ColumnElement

from digests.models import OutboxStatus
from digests.store.schema import as_utc, outbox, subscriptions

UNFINISHED = (OutboxStatus.PENDING, OutboxStatus.SENDING)
# First key of the two-key pg_advisory_xact_lock of a channel's queue ("obox"); the second is
# a hash of (platform, channel). A hash collision only serializes two channels' queueing.
_PG_QUEUE_LOCK = 0x6F626F78


def _channel_key(platform: str, channel: str) -> int:
    digest = hashlib.blake2b(f"{platform}\0{channel}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


# How far a chat platform's clock may be behind ours when a copy of a part is looked for after
# an unknown outcome. A self-hosted server (Mattermost) drifts more than Slack's; a copy stamped
# before the window would be missed and the part posted twice, while a wider window only costs
# looking through a few more posts of that one channel.
CLOCK_SKEW = timedelta(minutes=5)
# How long a refused part that no digest will carry (its subscription since removed; `digest
# --post-to` queues under the terminal's "cli" subscription, whose next digest carries it) is
# kept for inspection, counted from when it was queued. Every refusal prunes the older ones,
# so the refused rows health and status read stay bounded by this window.
DEAD_KEPT = timedelta(days=30)
# Rows done with (sent; carried: refused, their articles handed to a later digest;
# unverified: assumed delivered) are kept [digest] sent_kept_days (config, default 90) from
# when they were queued, then deleted PRUNE_BATCH at a time (:meth:`Outbox.prune_finished`).
FINISHED = (OutboxStatus.SENT, OutboxStatus.CARRIED, "unverified")
PRUNE_BATCH = 1_000


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
    subscription: str | None = None
    article_ids: tuple[int, ...] = ()
    parent_id: int | None = None
    claimed_by: str | None = None
    parent_remote_id: str | None = None  # the parent row's platform id, when it has one
    unknown_since: datetime | None = None  # the outcome has been unknown since then
    checks: int = 0  # looks at the channel since the outcome became unknown

    def earliest_copy(self) -> datetime:
        """The earliest time a platform could stamp a copy of this part: when it was queued
        (nothing of it predates that), less :data:`CLOCK_SKEW` for the platform's clock."""
        return (self.created_at or self.next_attempt_at) - CLOCK_SKEW


@dataclass(frozen=True, slots=True)
class Claim:
    """A row claimed for delivery: ``token`` records the outcome; ``unknown``: reconcile first."""

    message: OutboxMessage
    token: str
    unknown: bool
    parent_remote_id: str | None = None


@dataclass(frozen=True, slots=True)
class OutboxHealth:
    """What the outbox says about delivery: backlog, unknown outcomes, undeliverable parts."""

    waiting: int  # pending or sending
    overdue_seconds: float  # how long the oldest due row has been waiting past its time
    unknown: int  # sends whose outcome is being reconciled
    dead: int  # refused for good and not yet handed to a later digest
    last_error: str | None


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
        subscription: str | None = None,
        article_ids: Sequence[Sequence[int]] | None = None,
        parent_id: int | None = None,
        conn: Connection | None = None,
        locked: bool = False,
    ) -> int:
        """Queue the parts of one digest; parts already queued under the key are kept (0 added).

        With ``conn`` the rows join the caller's transaction (a digest run queues its parts,
        moves the watermark and finishes the run in one), and a duplicate key raises.
        ``locked``: ``conn``'s transaction already holds the channel (:meth:`lock_channels`).
        """
        rows = [
            {
                "digest_key": digest_key,
                "part": i,
                "platform": platform,
                "channel": channel,
                "payload": p,
                "status": OutboxStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "team_id": team_id,
                "subscription": subscription,
                "article_ids": list(article_ids[i]) if article_ids is not None else None,
                "parent_id": parent_id,
            }
            for i, p in enumerate(parts)
        ]
        if not rows:
            return 0
        if conn is not None:
            if not locked:
                self.lock_channels(conn, [(platform, channel)])
            conn.execute(insert(outbox), rows)
            return len(rows)
        try:
            with self._engine.begin() as own:
                self.lock_channels(own, [(platform, channel)])
                own.execute(insert(outbox), rows)
        except IntegrityError:
            return 0
        return len(rows)

    @staticmethod
    def lock_channels(conn: Connection, channels: Iterable[tuple[str, str]]) -> None:
        """Hold these (platform, channel) queues until ``conn``'s transaction ends, so rows
        queued to a channel become visible in id order (see the module doc). Taken in one
        sorted order, so two transactions queueing to several channels never deadlock; take
        them all before the first insert. A no-op on SQLite (one writer at a time)."""
        if conn.dialect.name != "postgresql":
            return
        for key in sorted({_channel_key(p, c) for p, c in channels}):
            conn.execute(
                text("SELECT pg_advisory_xact_lock(:space, :key)"),
                {"space": _PG_QUEUE_LOCK, "key": key},
            )

    def remote_ids(self, row_ids: Sequence[int]) -> dict[int, str]:
        """The platform ids of those rows that were sent."""
        if not row_ids:
            return {}
        query = select(outbox.c.id, outbox.c.remote_id).where(
            outbox.c.id.in_(list(row_ids)), outbox.c.status == "sent"
        )
        with self._engine.connect() as conn:
            return {int(i): str(r) for i, r in conn.execute(query) if r is not None}

    def was_sent(self, row_id: int, *, conn: Connection) -> bool:
        """Whether the row went out (it has a platform id a reply can hang under), and is kept
        until ``conn``'s transaction ends: on PostgreSQL the row is locked (KEY SHARE), which
        :meth:`prune_finished` skips, and a prune deleting it now is waited for (then it is
        gone: False). On SQLite the caller's write transaction keeps the prune out (one
        writer). So a reply queued under it never finds its parent pruned: False means queue
        no reply (the update is in the digest all the same)."""
        query = select(outbox.c.remote_id).where(outbox.c.id == row_id, outbox.c.status == "sent")
        return conn.scalar(query.with_for_update(key_share=True, read=True)) is not None

    def row_id(self, digest_key: str, part: int, *, conn: Connection | None = None) -> int | None:
        """The id of one queued part (e.g. a thread's headline, the parent of its replies)."""
        query = select(outbox.c.id).where(outbox.c.digest_key == digest_key, outbox.c.part == part)
        if conn is not None:
            found = conn.scalar(query)
        else:
            with self._engine.connect() as own:
                found = own.scalar(query)
        return int(found) if found is not None else None

    def claim(
        self,
        *,
        owner: str,
        now: datetime,
        lease: timedelta,
        platforms: Collection[str] | None = None,
        limit: int = 50,
    ) -> list[Claim]:
        """Claim the due head row of up to ``limit`` channel queues for ``lease``."""
        earlier = outbox.alias("earlier")
        head = ~exists(
            select(earlier.c.id).where(
                earlier.c.platform == outbox.c.platform,
                earlier.c.channel == outbox.c.channel,
                earlier.c.status.in_(UNFINISHED),
                earlier.c.id < outbox.c.id,
            )
        )
        query = select(outbox).where(
            outbox.c.status.in_(UNFINISHED), outbox.c.next_attempt_at <= now, head
        )
        if platforms is not None:
            query = query.where(outbox.c.platform.in_(list(platforms)))
        query = query.order_by(outbox.c.id).limit(limit)
        if self._engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=outbox)
        claims: list[Claim] = []
        with self._engine.begin() as conn:
            for row in conn.execute(query).mappings().all():
                attempts = int(row["attempts"]) + 1
                token = f"{owner}#{row['id']}.{attempts}"
                # Guarded by what was read: a row another deliverer claimed meanwhile is left.
                taken = conn.execute(
                    update(outbox)
                    .where(
                        outbox.c.id == row["id"],
                        outbox.c.status == row["status"],
                        outbox.c.attempts == row["attempts"],
                        outbox.c.next_attempt_at <= now,
                    )
                    .values(
                        status=OutboxStatus.SENDING,
                        claimed_by=token,
                        attempts=attempts,
                        next_attempt_at=now + lease,
                    )
                ).rowcount
                if not taken:
                    continue
                parent_ts = None
                if row["parent_id"] is not None:
                    parent_ts = conn.scalar(
                        select(outbox.c.remote_id).where(outbox.c.id == row["parent_id"])
                    )
                message = replace(
                    _to_message({**row, "attempts": attempts, "claimed_by": token}),
                    parent_remote_id=parent_ts,
                )
                claims.append(
                    Claim(message, token, row["status"] == OutboxStatus.SENDING, parent_ts)
                )
        return claims

    def sent(self, claim: Claim, *, remote_id: str | None, now: datetime) -> bool:
        """Record a delivered message and its platform id; False if the claim was lost."""
        return self._finish(
            claim, status=OutboxStatus.SENT, remote_id=remote_id, sent_at=now, last_error=None
        )

    def retry(
        self,
        claim: Claim,
        *,
        error: str,
        at: datetime,
        unknown: bool = False,
        unknown_since: datetime | None = None,
        checks: int = 0,
    ) -> bool:
        """Hand a claimed row back for another attempt at ``at``.

        ``unknown``: the send may have arrived (timeout, reset, 5xx): the row stays ``sending``
        so whoever takes it next reconciles with the channel before sending again;
        ``unknown_since`` (default: ``at``'s claim time, i.e. now) and ``checks`` say since
        when and how often it was looked for.
        """
        return self._finish(
            claim,
            status=OutboxStatus.SENDING if unknown else OutboxStatus.PENDING,
            last_error=error,
            next_attempt_at=at,
            unknown_since=unknown_since if unknown else None,
            checks=checks if unknown else 0,
        )

    def unverified(self, claim: Claim, *, error: str) -> bool:
        """Give up verifying a send whose outcome stayed unknown: assumed delivered, never
        sent again (its channel's queue moves on); kept, with why, for inspection."""
        return self._finish(claim, status="unverified", last_error=error)

    def stuck(self, now: datetime, *, longer_than: timedelta) -> list[OutboxMessage]:
        """Channel heads whose outcome has been unknown for longer than ``longer_than``."""
        query = (
            select(outbox)
            .where(
                outbox.c.status == "sending",
                outbox.c.unknown_since.is_not(None),
                outbox.c.unknown_since <= now - longer_than,
            )
            .order_by(outbox.c.id)
            .limit(100)
        )
        with self._engine.connect() as conn:
            return [_to_message(r) for r in conn.execute(query).mappings()]

    def failing(self, *, limit: int = 100) -> list[OutboxMessage]:
        """Rows whose last attempt failed: unfinished (to be tried or looked for again) or
        refused for good and not yet carried, oldest first (at most ``limit``)."""
        query = (
            select(outbox)
            .where(
                outbox.c.status.in_((*UNFINISHED, OutboxStatus.DEAD)),
                outbox.c.last_error.is_not(None),
            )
            .order_by(outbox.c.id)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [_to_message(r) for r in conn.execute(query).mappings()]

    def unverified_since(self, since: datetime) -> list[OutboxMessage]:
        """Rows given up as unverifiable, queued since ``since`` (newest 100)."""
        query = (
            select(outbox)
            .where(outbox.c.status == "unverified", outbox.c.created_at >= since)
            .order_by(outbox.c.id.desc())
            .limit(100)
        )
        with self._engine.connect() as conn:
            return [_to_message(r) for r in conn.execute(query).mappings()]

    def dead(self, claim: Claim, *, error: str, now: datetime) -> bool:
        """Give up on a message (the platform refused it for good); kept for inspection.

        Refused parts no digest will carry (queued ad hoc, or of a subscription since
        removed) queued more than :data:`DEAD_KEPT` before ``now`` are deleted: a paused or
        live subscription's are kept until a digest carries their articles. The table's
        newest row stays, as :meth:`prune_finished` keeps it (SQLite would hand out again the
        ids of the rows deleted below it)."""
        done = self._finish(claim, status=OutboxStatus.DEAD, last_error=error)
        uncarried = or_(outbox.c.subscription.is_(None), _of_removed())
        newest = select(func.max(outbox.c.id)).scalar_subquery()
        with self._engine.begin() as conn:
            conn.execute(
                outbox.delete().where(
                    outbox.c.status == OutboxStatus.DEAD,
                    outbox.c.created_at < now - DEAD_KEPT,
                    uncarried,
                    outbox.c.id < newest,
                )
            )
        return done

    def prune_finished(self, now: datetime, *, kept: timedelta, limit: int = PRUNE_BATCH) -> int:
        """Delete up to ``limit`` finished rows (:data:`FINISHED`) queued more than ``kept``
        before ``now``; how many (``limit``: call again, there may be more).

        What delivery still reads is never deleted: unfinished and refused (dead) rows (the
        sweeper's, :meth:`dead_parts`'s; dead ones have :data:`DEAD_KEPT`), the parent of an
        unfinished row (a reply is handed out with its parent's platform id), and the newest
        row of the table: SQLite hands out max(id) + 1 (the table has no AUTOINCREMENT), so
        deleting the newest rows would give their ids again, and ``story_posts`` would then
        name a new, unrelated message as where a story was shown. What a digest holds is
        decided by the subscription's watermark (article ids), not by these rows; ``kept``
        must be longer than every look-back over them (the config checks it: see
        ``digests/config.py``, ``sent_kept_days``). By ``ix_outbox_status_created`` (0025):
        a batch reads the rows it deletes, however large the outbox.

        One statement, so a reply queued meanwhile keeps its parent: the rows it deletes are
        chosen as it runs, not read first (a reply committed between a read and the delete
        lost its parent, and was then posted top-level). On SQLite it waits for a queueing
        transaction (one writer) and then sees its reply; on PostgreSQL a parent a queueing
        transaction has checked (:meth:`was_sent` locks it) is skipped (SKIP LOCKED), the
        next prune finds its reply.
        """
        newer = outbox.alias("newer")
        waiting_parents = select(outbox.c.parent_id).where(
            outbox.c.status.in_(UNFINISHED), outbox.c.parent_id.is_not(None)
        )
        old = (
            select(outbox.c.id)
            .where(
                outbox.c.status.in_(FINISHED),
                outbox.c.created_at < now - kept,
                outbox.c.id < select(func.max(newer.c.id)).scalar_subquery(),
                outbox.c.id.not_in(waiting_parents),
            )
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self._engine.begin() as conn:
            done = conn.execute(outbox.delete().where(outbox.c.id.in_(old.scalar_subquery())))
        return int(done.rowcount or 0)

    def _finish(self, claim: Claim, **values: object) -> bool:
        with self._engine.begin() as conn:
            result = conn.execute(
                update(outbox)
                .where(
                    outbox.c.id == claim.message.id,
                    outbox.c.status == OutboxStatus.SENDING,
                    outbox.c.claimed_by == claim.token,
                )
                .values(claimed_by=None, **values)
            )
            return bool(result.rowcount)

    def dead_parts(self, subscription: str) -> dict[int, tuple[int, ...]]:
        """``subscription``'s parts refused for good, not yet carried: row id → article ids."""
        query = select(outbox.c.id, outbox.c.article_ids).where(
            outbox.c.subscription == subscription, outbox.c.status == OutboxStatus.DEAD
        )
        with self._engine.connect() as conn:
            return {
                int(r.id): tuple(int(a) for a in r.article_ids or ()) for r in conn.execute(query)
            }

    def paused_dead(self) -> dict[str, int]:
        """Paused subscriptions holding refused parts (not yet carried): name → how many.
        Their articles go into the subscription's first digest once it is resumed."""
        query = (
            select(outbox.c.subscription, func.count())
            .where(outbox.c.status == OutboxStatus.DEAD, _of_paused())
            .group_by(outbox.c.subscription)
            .order_by(outbox.c.subscription)
        )
        with self._engine.connect() as conn:
            return {str(name): int(n) for name, n in conn.execute(query)}

    def mark_carried(self, row_ids: Collection[int], conn: Connection) -> int:
        """Mark dead rows ``carried`` (their articles went into a later digest), in ``conn``."""
        if not row_ids:
            return 0
        return int(
            conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(list(row_ids)), outbox.c.status == OutboxStatus.DEAD)
                .values(status=OutboxStatus.CARRIED)
            ).rowcount
        )

    def counts(self, statuses: Collection[str]) -> dict[str, int]:
        """How many rows are in each of these statuses, exactly, by an index that starts with
        the status: a count reads the rows of its status, never the rest of the outbox."""
        with self._engine.connect() as conn:
            return {
                s: int(conn.scalar(select(func.count()).where(outbox.c.status == s)) or 0)
                for s in statuses
            }

    def messages(self, digest_key: str) -> list[OutboxMessage]:
        """Every part of one digest, in order."""
        query = select(outbox).where(outbox.c.digest_key == digest_key).order_by(outbox.c.part)
        with self._engine.connect() as conn:
            return [_to_message(r) for r in conn.execute(query).mappings()]

    def waiting(self, *, platform: str | None = None, limit: int = 100) -> list[OutboxMessage]:
        """Unfinished rows (pending or sending), oldest first."""
        query = select(outbox).where(outbox.c.status.in_(UNFINISHED))
        if platform:
            query = query.where(outbox.c.platform == platform)
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(outbox.c.id).limit(limit)).mappings()
            return [_to_message(r) for r in rows]

    def health(self, now: datetime) -> OutboxHealth:
        """Backlog, unknown outcomes and undeliverable parts, for /readyz and `digestbot status`.

        Refused parts of a paused subscription are left out of ``dead`` and ``last_error``:
        they wait for it to resume (:meth:`paused_dead`), the pause says why. So are those of
        a subscription since removed (``/brief unsubscribe``): no digest will carry them.
        """
        active_dead = and_(outbox.c.status == OutboxStatus.DEAD, ~_of_paused(), ~_of_removed())
        with self._engine.connect() as conn:
            waiting, oldest_due = conn.execute(
                select(func.count(), func.min(outbox.c.next_attempt_at)).where(
                    outbox.c.status.in_(UNFINISHED)
                )
            ).one()
            unknown = conn.scalar(
                select(func.count()).where(
                    and_(outbox.c.status == OutboxStatus.SENDING, outbox.c.claimed_by.is_(None))
                )
            )
            dead = conn.scalar(select(func.count()).where(active_dead))
            last_error = conn.scalar(
                select(outbox.c.last_error)
                .where(
                    or_(outbox.c.status.in_(UNFINISHED), active_dead),
                    outbox.c.last_error.is_not(None),
                )
                .order_by(outbox.c.id.desc())
                .limit(1)
            )
        due = as_utc(oldest_due)
        overdue = max(0.0, (now - due).total_seconds()) if due and waiting else 0.0
        return OutboxHealth(int(waiting), overdue, int(unknown or 0), int(dead or 0), last_error)


def _of_paused() -> ColumnElement[bool]:
    """Rows of a subscription that is paused (disabled, e.g. its channel or webhook gone)."""
    paused = select(subscriptions.c.name).where(subscriptions.c.enabled.is_(False))
    return and_(outbox.c.subscription.is_not(None), outbox.c.subscription.in_(paused))


def _of_removed() -> ColumnElement[bool]:
    """Rows of a subscription that no longer exists (removed after its part was refused)."""
    names = select(subscriptions.c.name)
    return and_(outbox.c.subscription.is_not(None), outbox.c.subscription.not_in(names))


def _to_message(row) -> OutboxMessage:  # type: ignore[no-untyped-def]
    next_at = as_utc(row["next_attempt_at"])
    assert next_at is not None
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
        next_attempt_at=next_at,
        team_id=row.get("team_id"),
        created_at=as_utc(row["created_at"]),
        subscription=row["subscription"],
        article_ids=tuple(int(a) for a in row["article_ids"] or ()),
        parent_id=row["parent_id"],
        claimed_by=row["claimed_by"],
        unknown_since=as_utc(row.get("unknown_since")),
        checks=int(row.get("checks") or 0),
    )
