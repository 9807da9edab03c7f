"""Subscriptions, their watermarks, and run claims: the exactly-once guard for digests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from digests.models import RunStatus
from digests.sealing import Sealer
from digests.store._engine import as_utc, once_more_on_conflict
from digests.store.schema import digest_runs, subscriptions


@dataclass(frozen=True, slots=True)
class Subscription:
    """A stored subscription: where a digest goes, which topics, when, and how far it got."""

    id: int
    name: str
    platform: str
    channel: str
    topics: tuple[str, ...]
    cron: str
    timezone: str
    origin: str
    enabled: bool
    watermark: int
    disabled_reason: str | None = None
    team_id: str | None = None  # the Slack workspace of a chat subscription
    thread: bool = True  # Slack: a headline message with the stories as replies


@dataclass(frozen=True, slots=True)
class RecentRun:
    """A digest run that queued something: for "latest digests" views."""

    subscription: str
    channel: str
    scheduled_for: datetime
    articles: int


class Schedules:
    """Subscription rows and digest run claims."""

    def __init__(self, engine: Engine, sealer: Sealer | None = None) -> None:
        self._engine = engine
        # A Discord channel is its webhook URL, a secret: stored sealed (deterministically, so
        # it stays a lookup key); the Discord sender opens it just before posting.
        self._sealer = sealer or Sealer()

    def _stored_channel(self, platform: str, channel: str) -> str:
        return self._sealer.seal_fixed(channel) if platform == "discord" else channel

    @once_more_on_conflict  # replicas starting together write the same config rows
    def upsert(
        self,
        name: str,
        *,
        platform: str,
        channel: str,
        topics: Sequence[str],
        cron: str,
        timezone: str,
        origin: str,
        now: datetime,
        watermark: int | None = None,
        team_id: str | None = None,
        thread: bool | None = None,
        clear_team: bool = False,
    ) -> Subscription:
        """Create or update a subscription by name (its watermark is kept on update).

        ``team_id`` None keeps the row's workspace, unless ``clear_team`` (the config sync,
        where the file says which workspace, if any).

        A subscription disabled by delivery (e.g. its webhook is gone) stays disabled when the
        config sync re-applies it unchanged; a new channel, or a person subscribing again from
        chat, enables it again.
        """
        channel = self._stored_channel(platform, channel)
        values: dict[str, object] = {
            "platform": platform,
            "channel": channel,
            "topics": list(topics),
            "cron": cron,
            "timezone": timezone,
            "origin": origin,
        }
        if team_id is not None or clear_team:
            values["team_id"] = team_id
        if thread is not None:
            values["thread"] = thread
        enabled = {"enabled": True, "disabled_reason": None}
        with self._engine.begin() as conn:
            old = conn.execute(
                select(subscriptions.c.channel).where(subscriptions.c.name == name)
            ).first()
            if old is None:
                conn.execute(
                    insert(subscriptions).values(
                        name=name, created_at=now, watermark=watermark or 0, **values, **enabled
                    )
                )
            else:
                if old.channel != channel or origin == "chat":
                    values.update(enabled)
                conn.execute(
                    update(subscriptions).where(subscriptions.c.name == name).values(values)
                )
        found = self.get(name)
        assert found is not None
        return found

    def get(self, name: str) -> Subscription | None:
        """A subscription by name."""
        with self._engine.connect() as conn:
            row = (
                conn.execute(select(subscriptions).where(subscriptions.c.name == name))
                .mappings()
                .first()
            )
        return _to_subscription(row) if row else None

    def all(self, *, enabled_only: bool = False) -> list[Subscription]:
        """Every subscription, by name."""
        query = select(subscriptions).order_by(subscriptions.c.name)
        if enabled_only:
            query = query.where(subscriptions.c.enabled.is_(True))
        with self._engine.connect() as conn:
            return [_to_subscription(r) for r in conn.execute(query).mappings()]

    def for_channel(self, platform: str, channel: str) -> list[Subscription]:
        """Subscriptions that post to one channel."""
        channel = self._stored_channel(platform, channel)
        query = select(subscriptions).where(
            subscriptions.c.platform == platform, subscriptions.c.channel == channel
        )
        with self._engine.connect() as conn:
            return [
                _to_subscription(r)
                for r in conn.execute(query.order_by(subscriptions.c.name)).mappings()
            ]

    def for_team(self, team_id: str | None, *, platform: str = "slack") -> list[Subscription]:
        """A workspace's subscriptions (``None``: the rows that name no workspace)."""
        column = subscriptions.c.team_id
        query = select(subscriptions).where(
            subscriptions.c.platform == platform,
            column.is_(None) if team_id is None else column == team_id,
        )
        with self._engine.connect() as conn:
            return [
                _to_subscription(r)
                for r in conn.execute(query.order_by(subscriptions.c.name)).mappings()
            ]

    def count_for_team(self, team_id: str, *, origin: str = "chat") -> int:
        """How many subscriptions of ``origin`` a workspace (or Discord server) has."""
        query = select(func.count()).where(
            subscriptions.c.team_id == team_id, subscriptions.c.origin == origin
        )
        with self._engine.connect() as conn:
            return int(conn.scalar(query) or 0)

    def pause_team(self, team_id: str, reason: str) -> list[str]:
        """Disable every subscription of a workspace (e.g. the app was uninstalled); their names."""
        where = subscriptions.c.team_id == team_id
        with self._engine.begin() as conn:
            names = list(conn.scalars(select(subscriptions.c.name).where(where)))
            conn.execute(
                update(subscriptions).where(where).values(enabled=False, disabled_reason=reason)
            )
        return names

    def enable(self, name: str) -> None:
        """Schedule a paused subscription again."""
        with self._engine.begin() as conn:
            conn.execute(
                update(subscriptions)
                .where(subscriptions.c.name == name)
                .values(enabled=True, disabled_reason=None)
            )

    def recent_runs(self, names: Sequence[str], *, limit: int = 5) -> list[RecentRun]:
        """The newest runs that queued a digest, for the given subscriptions."""
        if not names:
            return []
        query = (
            select(
                subscriptions.c.name,
                subscriptions.c.channel,
                digest_runs.c.scheduled_for,
                digest_runs.c.first_article,
                digest_runs.c.last_article,
            )
            .join(subscriptions, subscriptions.c.id == digest_runs.c.subscription_id)
            .where(subscriptions.c.name.in_(list(names)), digest_runs.c.status == RunStatus.QUEUED)
            .order_by(digest_runs.c.scheduled_for.desc())
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [
                RecentRun(
                    subscription=r.name,
                    channel=r.channel,
                    scheduled_for=as_utc(r.scheduled_for),  # type: ignore[arg-type]
                    # ids span the digest; a rough count is enough for a "latest" list
                    articles=int((r.last_article or 0) - (r.first_article or 0) + 1)
                    if r.first_article is not None
                    else 0,
                )
                for r in conn.execute(query)
            ]

    def remove(self, name: str) -> bool:
        """Delete a subscription (and its run history); False if there was none."""
        with self._engine.begin() as conn:
            return bool(
                conn.execute(delete(subscriptions).where(subscriptions.c.name == name)).rowcount
            )

    def disable(self, name: str, reason: str) -> None:
        """Stop scheduling a subscription (e.g. its webhook is gone), keeping why."""
        with self._engine.begin() as conn:
            conn.execute(
                update(subscriptions)
                .where(subscriptions.c.name == name)
                .values(enabled=False, disabled_reason=reason)
            )

    def advance(self, name: str, watermark: int) -> None:
        """Move the watermark forward (never back) once a digest up to ``watermark`` is queued."""
        with self._engine.begin() as conn:
            conn.execute(
                update(subscriptions)
                .where(subscriptions.c.name == name, subscriptions.c.watermark < watermark)
                .values(watermark=watermark)
            )

    def commit_run(
        self,
        run_id: int | None,
        *,
        subscription: str,
        expected_watermark: int,
        watermark: int,
        status: str,
        first: int | None,
        last: int | None,
        work: Callable[[Connection], None],
        owner: str | None = None,
    ) -> bool:
        """In ONE transaction: ``work(conn)`` (queue the digest), move the watermark from
        ``expected_watermark`` to ``watermark``, finish the run. False, with nothing changed,
        when the watermark moved meanwhile (another run of the subscription got there first).

        With ``owner``, the run must still be ``claimed`` by ``owner``: when another replica
        took it over (:meth:`take_over`) nothing is changed and :class:`RunLost` is raised.
        """
        try:
            with self._engine.begin() as conn:
                work(conn)
                if watermark > expected_watermark:
                    moved = conn.execute(
                        update(subscriptions)
                        .where(
                            subscriptions.c.name == subscription,
                            subscriptions.c.watermark == expected_watermark,
                        )
                        .values(watermark=watermark)
                    ).rowcount
                    if not moved:
                        raise _WatermarkMoved
                if run_id is not None:
                    done = update(digest_runs).where(digest_runs.c.id == run_id)
                    if owner is not None:
                        done = done.where(
                            digest_runs.c.status == RunStatus.CLAIMED,
                            digest_runs.c.claimed_by == owner,
                        )
                    finished = conn.execute(
                        done.values(status=status, first_article=first, last_article=last)
                    ).rowcount
                    if owner is not None and not finished:
                        raise RunLost(f"run {run_id} was taken over from {owner}")
        except _WatermarkMoved:
            return False
        return True

    def take_over(
        self, *, owner: str, now: datetime, stale: datetime, since: datetime, limit: int = 100
    ) -> list[tuple[int, str]]:
        """Claim for ``owner`` the runs still ``claimed`` since before ``stale`` (their claimer
        died between claiming and queueing), claimed after ``since``; (run id, subscription).

        Each is taken with a guarded UPDATE (and ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so
        two replicas never take the same run; the old claimer, should it still be alive, can
        no longer commit it (:meth:`commit_run` with ``owner``).
        """
        query = (
            select(digest_runs.c.id, digest_runs.c.claimed_by, subscriptions.c.name)
            .join(subscriptions, subscriptions.c.id == digest_runs.c.subscription_id)
            .where(
                digest_runs.c.status == RunStatus.CLAIMED,
                digest_runs.c.claimed_at < stale,
                digest_runs.c.claimed_at >= since,
            )
            .order_by(digest_runs.c.id)
            .limit(limit)
        )
        if self._engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=digest_runs)
        taken: list[tuple[int, str]] = []
        with self._engine.begin() as conn:
            for row in conn.execute(query).all():
                moved = conn.execute(
                    update(digest_runs)
                    .where(
                        digest_runs.c.id == row.id,
                        digest_runs.c.status == RunStatus.CLAIMED,
                        digest_runs.c.claimed_by == row.claimed_by,
                    )
                    .values(claimed_by=owner, claimed_at=now)
                ).rowcount
                if moved:
                    taken.append((int(row.id), str(row.name)))
        return taken

    def runs_with_status(self, status: str, *, since: datetime) -> list[tuple[str, datetime]]:
        """(subscription name, slot) of runs with ``status`` claimed since ``since``."""
        query = (
            select(subscriptions.c.name, digest_runs.c.scheduled_for)
            .join(subscriptions, subscriptions.c.id == digest_runs.c.subscription_id)
            .where(digest_runs.c.status == status, digest_runs.c.claimed_at >= since)
            .order_by(digest_runs.c.scheduled_for)
        )
        with self._engine.connect() as conn:
            return [(r.name, as_utc(r.scheduled_for)) for r in conn.execute(query)]  # type: ignore[misc]

    def claim(
        self, subscription_id: int, scheduled_for: datetime, *, owner: str, now: datetime
    ) -> int | None:
        """Claim the run of one slot; the run id, or None if another process already did."""
        try:
            with self._engine.begin() as conn:
                key = conn.execute(
                    insert(digest_runs).values(
                        subscription_id=subscription_id,
                        scheduled_for=scheduled_for,
                        claimed_at=now,
                        claimed_by=owner,
                        status=RunStatus.CLAIMED,
                    )
                ).inserted_primary_key
                assert key is not None  # an INSERT of one row always has one
                return int(key[0])
        except IntegrityError:
            return None

    def finish_run(
        self,
        run_id: int,
        *,
        status: str,
        first: int | None = None,
        last: int | None = None,
        owner: str | None = None,
    ) -> None:
        """Record how a claimed run ended (queued, empty, failed) and what it covered; with
        ``owner``, only while ``owner`` still holds its claim."""
        done = update(digest_runs).where(digest_runs.c.id == run_id)
        if owner is not None:
            done = done.where(
                digest_runs.c.status == RunStatus.CLAIMED, digest_runs.c.claimed_by == owner
            )
        with self._engine.begin() as conn:
            conn.execute(done.values(status=status, first_article=first, last_article=last))


class RunLost(Exception):
    """A run's claim was taken over by another replica: its outcome is theirs to record."""


class _WatermarkMoved(Exception):
    """Internal: roll back a run's transaction when its watermark changed under it."""


def _to_subscription(row) -> Subscription:  # type: ignore[no-untyped-def]
    return Subscription(
        id=int(row["id"]),
        name=row["name"],
        platform=row["platform"],
        channel=row["channel"],
        topics=tuple(row["topics"]),
        cron=row["cron"],
        timezone=row["timezone"],
        origin=row["origin"],
        enabled=bool(row["enabled"]),
        watermark=int(row["watermark"]),
        disabled_reason=row["disabled_reason"],
        team_id=row.get("team_id"),
        thread=bool(row.get("thread", True)),
    )
