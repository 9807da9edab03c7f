"""Sealing the secrets already in the database: tokens, webhook URLs and source locations
holding a password or an api_key, with the current key.

``serve`` runs :func:`seal_secrets` at start when ``DIGESTBOT_ENCRYPTION_KEY`` is set: rows
written before the key was set (plain text), or sealed with the previous key while rotating,
are sealed again with the current one. Every terminal command that opens the store with a key
runs it too, unless the ``sealing`` row (0024) says a pass ran with these keys and no process
without a key has written a secret since (:func:`sealed_already`, :func:`plain_secret_written`):
then it costs one read of one row, however large the store. New rows are sealed as they are written (the Slack
installation store, :class:`~digests.store.subscriptions.Subscriptions`,
:class:`~digests.store.sources.Sources`). A row sealed with a key this process was not given
is left as it is and named in the log (only that source, subscription or workspace fails).
"""

from __future__ import annotations

import logging

from sqlalchemy import Column, Connection, Engine, Table, delete, insert, select, update

from digests.errors import KeyMissing
from digests.net.util import holds_secret
from digests.sealing import Sealer, missing_key
from digests.store.schema import (
    channel_pace,
    outbox,
    sealing,
    slack_bots,
    slack_installations,
    sources,
    subscriptions,
)

log = logging.getLogger(__name__)

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
    unopened: list[str] = []  # rows no key given opens: left as they are
    with engine.begin() as conn:
        for table in (slack_installations, slack_bots):
            names = TOKEN_COLUMNS[table.name]
            cols = [table.c[n] for n in names]
            for row in conn.execute(select(table.c.id, table.c.team_id, *cols)).mappings():
                try:
                    values = {n: sealer.reseal(row[n]) for n in names if sealer.stale(row[n])}
                except KeyMissing:
                    unopened.append(f"the tokens of Slack workspace {row['team_id']!r}")
                    continue
                if values:
                    conn.execute(update(table).where(table.c.id == row["id"]).values(values))
                    changed += len(values)
        changed += _seal_channels(conn, sealer, subscriptions, subscriptions.c.name, unopened)
        changed += _seal_channels(conn, sealer, outbox, outbox.c.subscription, unopened)
        # Send pacing is a few seconds of state per channel: a stale row is dropped, not moved.
        stale = [
            row.channel
            for row in conn.execute(select(channel_pace.c.channel))
            if sealer.secret_channel(row.channel) and _stale(sealer, row.channel) is not False
        ]
        for channel in stale:
            conn.execute(delete(channel_pace).where(channel_pace.c.channel == channel))
        changed += _seal_locations(conn, sealer, unopened)
        # Done for these keys (a row no key given opens stays so until its key is given:
        # the keys then differ, and the next pass seals it again).
        conn.execute(delete(sealing))
        conn.execute(insert(sealing).values(id=1, fingerprint=sealer.fingerprint))
    for what in dict.fromkeys(unopened):
        log.warning("not sealed again: %s", missing_key(what))
    return changed


def sealed_already(engine: Engine, sealer: Sealer) -> bool:
    """Whether a full pass ran with exactly these keys and no secret was written plain since."""
    with engine.connect() as conn:
        marked = conn.scalar(select(sealing.c.fingerprint).where(sealing.c.id == 1))
    return marked == sealer.fingerprint


def plain_secret_written(conn: Connection) -> None:
    """A process without a key is writing a secret plain: the next command with a key seals
    it (the marker of the last pass goes)."""
    conn.execute(delete(sealing))


def _stale(sealer: Sealer, value: str) -> bool | None:
    """Whether a deterministically sealed value should be sealed again; None: no key given
    opens it."""
    try:
        return sealer.stale(value, fixed=True)
    except KeyMissing:
        return None


def _seal_locations(conn, sealer: Sealer, unopened: list[str]) -> int:  # type: ignore[no-untyped-def]
    """Source locations holding a secret (userinfo, a query value), sealed deterministically."""
    changed = 0
    for row in conn.execute(select(sources.c.id, sources.c.name, sources.c.location)).all():
        try:
            plain = sealer.open(row.location) or ""
        except KeyMissing:
            unopened.append(f"the URL of source {row.name!r}")
            continue
        if holds_secret(plain) and sealer.stale(row.location, fixed=True):
            conn.execute(
                update(sources)
                .where(sources.c.id == row.id)
                .values(location=sealer.reseal(row.location, fixed=True))
            )
            changed += 1
    return changed


def _seal_channels(  # type: ignore[no-untyped-def]
    conn, sealer: Sealer, table: Table, name: Column, unopened: list[str]
) -> int:
    changed = 0
    # Webhook URLs (Discord's, Mattermost's) are sealed; channel ids are not secrets.
    for row in conn.execute(select(table.c.id, name, table.c.channel)).all():
        if not sealer.secret_channel(row.channel):
            continue
        stale = _stale(sealer, row.channel)
        if stale is None:
            whose = f"subscription {row[1]!r}" if row[1] else "a digest part posted by hand"
            unopened.append(f"the webhook URL of {whose}")
        elif stale:
            conn.execute(
                update(table)
                .where(table.c.id == row.id)
                .values(channel=sealer.reseal(row.channel, fixed=True))
            )
            changed += 1
    return changed
