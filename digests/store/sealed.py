"""Sealing the secrets already in the database: tokens, webhook URLs and source locations
holding a password or an api_key, with the current key.

``serve`` runs :func:`seal_secrets` at start when ``DIGESTBOT_ENCRYPTION_KEY`` is set: rows
written before the key was set (plain text), or sealed with the previous key while rotating,
are sealed again with the current one. New rows are sealed as they are written (the Slack
installation store, :class:`~digests.store.subscriptions.Subscriptions`,
:class:`~digests.store.sources.Sources`).
"""

from __future__ import annotations

from sqlalchemy import Column, Engine, Table, delete, select, update

from digests.net.util import holds_secret
from digests.sealing import Sealer
from digests.store.schema import (
    channel_pace,
    outbox,
    slack_bots,
    slack_installations,
    sources,
    subscriptions,
)

# Columns sealed with Fernet (read back only), per table.
TOKEN_COLUMNS: dict[str, tuple[str, ...]] = {
    "slack_installations": (
        "bot_token", "bot_refresh_token", "user_token", "user_refresh_token",
        "incoming_webhook_url",
    ),
    "slack_bots": ("bot_token", "bot_refresh_token"),
}  # fmt: skip


def seal_secrets(engine: Engine, sealer: Sealer) -> int:
    """Seal every stale secret with the current key; how many values were rewritten."""
    if not sealer.enabled:
        return 0
    changed = 0
    with engine.begin() as conn:
        for table in (slack_installations, slack_bots):
            names = TOKEN_COLUMNS[table.name]
            cols = [table.c[n] for n in names]
            for row in conn.execute(select(table.c.id, *cols)).mappings():
                values = {n: sealer.reseal(row[n]) for n in names if sealer.stale(row[n])}
                if values:
                    conn.execute(update(table).where(table.c.id == row["id"]).values(values))
                    changed += len(values)
        for table, key in ((subscriptions, subscriptions.c.id), (outbox, outbox.c.id)):
            changed += _seal_channels(conn, sealer, table, key)
        # Send pacing is a few seconds of state per channel: a stale row is dropped, not moved.
        stale = [
            row.channel
            for row in conn.execute(select(channel_pace.c.channel))
            if sealer.secret_channel(row.channel) and sealer.stale(row.channel, fixed=True)
        ]
        for channel in stale:
            conn.execute(delete(channel_pace).where(channel_pace.c.channel == channel))
        changed += _seal_locations(conn, sealer)
    return changed


def _seal_locations(conn, sealer: Sealer) -> int:  # type: ignore[no-untyped-def]
    """Source locations holding a secret (userinfo, a query value), sealed deterministically."""
    changed = 0
    for row in conn.execute(select(sources.c.id, sources.c.location)).all():
        plain = sealer.open(row.location) or ""
        if holds_secret(plain) and sealer.stale(row.location, fixed=True):
            conn.execute(
                update(sources)
                .where(sources.c.id == row.id)
                .values(location=sealer.reseal(row.location, fixed=True))
            )
            changed += 1
    return changed


def _seal_channels(conn, sealer: Sealer, table: Table, key: Column) -> int:  # type: ignore[no-untyped-def]
    changed = 0
    # Webhook URLs (Discord's, Mattermost's) are sealed; channel ids are not secrets.
    for row in conn.execute(select(key, table.c.channel)).all():
        if sealer.secret_channel(row.channel) and sealer.stale(row.channel, fixed=True):
            conn.execute(
                update(table)
                .where(key == row[0])
                .values(channel=sealer.reseal(row.channel, fixed=True))
            )
            changed += 1
    return changed
