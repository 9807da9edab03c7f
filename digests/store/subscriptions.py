"""Subscriptions: a channel's digest (where, which topics, when) and its watermark."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, func, insert, select, update

from digests.sealing import Sealer
from digests.store._faults import once_more_on_conflict
from digests.store.schema import subscriptions
from digests.store.sealed import plain_secret_written


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


class Subscriptions:
    """Subscription rows: who gets which digest, where and when, and each one's watermark."""

    def __init__(self, engine: Engine, sealer: Sealer | None = None) -> None:
        self._engine = engine
        # A Discord channel is its webhook URL, a secret: stored sealed (deterministically, so
        # it stays a lookup key); the Discord sender opens it just before posting.
        self._sealer = sealer or Sealer()

    def _stored_channel(self, platform: str, channel: str) -> str:
        del platform  # the rule is the channel's, whatever platform posts to it
        return self._sealer.seal_fixed(channel) if self._sealer.secret_channel(channel) else channel

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
            if self._sealer.secret_channel(channel) and not self._sealer.enabled:
                plain_secret_written(conn)  # sealed by the next command with a key
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
        # Sealed with the current key, or with a previous one during a rotation (until
        # ``serve`` re-seals), or plain (stored before the key was set).
        forms = (
            self._sealer.fixed_forms(channel) if self._sealer.secret_channel(channel) else [channel]
        )
        query = select(subscriptions).where(
            subscriptions.c.platform == platform, subscriptions.c.channel.in_(forms)
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
