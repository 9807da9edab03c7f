"""Digest runs: one claim per subscription and slot, committed with its watermark."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from digests.models import RunStatus
from digests.store._engine import as_utc
from digests.store.schema import digest_runs, subscriptions


@dataclass(frozen=True, slots=True)
class RecentRun:
    """A digest run that queued something: for "latest digests" views."""

    subscription: str
    channel: str
    scheduled_for: datetime
    articles: int


class Runs:
    """Digest run claims (one per subscription and slot), take-overs and commits."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

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
