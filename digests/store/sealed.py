"""Sealing the secrets already in the database: tokens, webhook URLs and source locations
holding a password or an api_key, with the current key.

``serve``'s start and every terminal command that open the store with
``DIGESTBOT_ENCRYPTION_KEY`` run :func:`seal_secrets`: rows written before the key was set
(plain text), or sealed with the previous key while rotating, are sealed again with the
current one; unless the ``sealing`` row (0024) says a pass ran with these keys and no process
without a key has written a secret since (:func:`sealed_already`, :func:`plain_secret_written`):
then it costs one read of one row, however large the store. New rows are sealed as they are written (the Slack
installation store, :class:`~digests.store.subscriptions.Subscriptions`,
:class:`~digests.store.sources.Sources`). A row sealed with a key this process was not given
is left as it is and named in the log (only that source, subscription or workspace fails).
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterable, Mapping

from sqlalchemy import Column, Connection, Engine, Table, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from digests.errors import KeyMissing
from digests.net.util import holds_secret, locator_of
from digests.sealing import Sealer, missing_key
from digests.store.schema import (
    articles,
    channel_pace,
    documents,
    feed_items,
    outbox,
    sealing,
    slack_bots,
    slack_installations,
    sources,
    subscriptions,
)

log = logging.getLogger(__name__)

# The ``sealing`` rows: the keys of the last full pass (dropped by a secret written plain), and
# "the locators stored before 5e7bfbc are scrubbed" (once per store); a row of id -N: source N's
# URL could not be opened then, its locators are scrubbed once its key is given (_scrub_once).
_SEALED, _SCRUBBED = 1, 2
_BATCH = 2000  # documents read at a time by the scrub
_USERINFO = re.compile(r"://[^/?#@\s]*@")  # a URL's user:password@ (anywhere in a locator)

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
        # Read before any secret: a process without a key that writes one after this changes
        # the marker (plain_secret_written), and the pass then leaves it (see _mark_sealed).
        marker = conn.scalar(select(sealing.c.fingerprint).where(sealing.c.id == _SEALED))
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
        secret, resealed = _seal_locations(conn, sealer, unopened)
        changed += resealed
        changed += _scrub_once(conn, sealer, secret)
        # Done for these keys (a row no key given opens stays so until its key is given:
        # the keys then differ, and the next pass seals it again).
        _mark_sealed(conn, marker, sealer.fingerprint)
    for what in dict.fromkeys(unopened):
        log.warning("not sealed again: %s", missing_key(what))
    return changed


def _scrub_once(conn: Connection, sealer: Sealer, secret: Mapping[int, str]) -> int:
    """:func:`scrub_locators`, once per store (the ``sealing`` row 2), and once more for each
    source whose URL no key given opened then: each is named by a row of its own
    (id: minus the source's id), scrubbed alone by the first pass its key is given to, and
    its row dropped then (or when the source is gone). So a pass reads the documents only
    when it has a source to scrub, not every time a source's key is missing."""
    done = conn.scalar(select(sealing.c.id).where(sealing.c.id == _SCRUBBED)) is not None
    shut = {  # the sources whose URL no key given opens (the pass named them in the log)
        int(row.id)
        for row in conn.execute(select(sources.c.id, sources.c.location)).all()
        if int(row.id) not in secret and not _opens(sealer, row.location)
    }
    left = {-int(i) for i in conn.scalars(select(sealing.c.id).where(sealing.c.id < 0))}
    todo = dict(secret) if not done else {i: u for i, u in secret.items() if i in left}
    changed = scrub_locators(conn, todo) if todo else 0
    if not done:  # nothing writes those forms any more
        conn.execute(insert(sealing).values(id=_SCRUBBED, fingerprint="locators"))
        left = set()
    if shut - left:
        conn.execute(
            insert(sealing), [{"id": -i, "fingerprint": "scrub left"} for i in sorted(shut - left)]
        )
    if left - shut:  # scrubbed now, gone, or holding no secret any more
        conn.execute(delete(sealing).where(sealing.c.id.in_([-i for i in left - shut])))
    return changed


def _opens(sealer: Sealer, value: str) -> bool:
    """Whether a key given opens ``value`` (plain: yes)."""
    try:
        sealer.open(value)
    except KeyMissing:
        return False
    return True


def sealed_already(engine: Engine, sealer: Sealer) -> bool:
    """Whether a full pass ran with exactly these keys and no secret was written plain since."""
    with engine.connect() as conn:
        marked = conn.scalar(select(sealing.c.fingerprint).where(sealing.c.id == _SEALED))
    return marked == sealer.fingerprint


def plain_secret_written(conn: Connection) -> None:
    """A process without a key is writing a secret plain: the next command with a key seals
    it. The marker is set to a value no pass ever read (not deleted): a pass under way then
    finds it changed and does not mark the store sealed (:func:`_mark_sealed`); one that
    marks it first holds the row, and this write waits and sets it after (an upsert)."""
    upsert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    plain = f"plain {secrets.token_hex(8)}"  # never a Sealer.fingerprint (hex only)
    conn.execute(
        upsert(sealing)
        .values(id=_SEALED, fingerprint=plain)
        .on_conflict_do_update(index_elements=[sealing.c.id], set_={"fingerprint": plain})
    )


def _mark_sealed(conn: Connection, marker: str | None, fingerprint: str) -> None:
    """Say a full pass ran with these keys, unless the marker changed since the pass read it
    (``marker``, before any secret): a secret written plain meanwhile may be one the pass did
    not see, and the next command with a key seals it. A compare-and-set, so on PostgreSQL
    (each statement its own snapshot) and SQLite (reads outside the write transaction) alike."""
    if marker is None:  # none then: only if none now (a plain write's row wins)
        upsert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        conn.execute(
            upsert(sealing)
            .values(id=_SEALED, fingerprint=fingerprint)
            .on_conflict_do_nothing(index_elements=[sealing.c.id])
        )
        return
    conn.execute(
        update(sealing)
        .where(sealing.c.id == _SEALED, sealing.c.fingerprint == marker)
        .values(fingerprint=fingerprint)
    )


def _stale(sealer: Sealer, value: str) -> bool | None:
    """Whether a deterministically sealed value should be sealed again; None: no key given
    opens it."""
    try:
        return sealer.stale(value, fixed=True)
    except KeyMissing:
        return None


def _seal_locations(  # type: ignore[no-untyped-def]
    conn, sealer: Sealer, unopened: list[str]
) -> tuple[dict[int, str], int]:
    """Source locations holding a secret (userinfo, a query value), sealed deterministically;
    returns every such source (id → its plain URL) and how many were sealed again."""
    secret: dict[int, str] = {}
    changed = 0
    for row in conn.execute(select(sources.c.id, sources.c.name, sources.c.location)).all():
        try:
            plain = sealer.open(row.location) or ""
        except KeyMissing:
            unopened.append(f"the URL of source {row.name!r}")
            continue
        if not holds_secret(plain):
            continue
        secret[int(row.id)] = plain
        if sealer.stale(row.location, fixed=True):
            conn.execute(
                update(sources)
                .where(sources.c.id == row.id)
                .values(location=sealer.reseal(row.location, fixed=True))
            )
            changed += 1
    return secret, changed


def scrub_locators(conn: Connection, secret: Mapping[int, str]) -> int:
    """Entry identities (feed_items) and locators (documents, articles) stored before 5e7bfbc
    with a source URL's secret — a page's URL whole, a linkless entry's feed URL + ``#guid``,
    a link or guid made absolute with the feed URL's user:password — rewritten to what ingest
    stores today (:func:`~digests.net.util.locator_of`, no userinfo), so a re-poll finds them
    seen. ``secret``: the sources holding one (id → plain URL). How many rows changed.

    A source's entries are read by its id (an index); the documents once, in id order, in
    batches (nothing indexes a locator's middle): this runs once per store (the ``sealing``
    row 2), not per command.
    """
    if not secret:
        return 0
    rule = _Legacy(secret.values())
    changed = 0
    for source_id in secret:
        rows = conn.execute(
            select(feed_items.c.id, feed_items.c.identity).where(
                feed_items.c.source_id == source_id
            )
        ).all()
        have = {r.identity for r in rows}
        for row in rows:
            new = rule.public(row.identity)
            if new is None:
                continue
            if new in have:  # read again since, under its public form: that row stays
                conn.execute(delete(feed_items).where(feed_items.c.id == row.id))
            else:
                conn.execute(
                    update(feed_items).where(feed_items.c.id == row.id).values(identity=new)
                )
                have.add(new)
            changed += 1
    last = 0
    while True:
        batch = conn.execute(
            select(documents.c.id, documents.c.locator, documents.c.article_id)
            .where(documents.c.id > last)
            .order_by(documents.c.id)
            .limit(_BATCH)
        ).all()
        if not batch:
            return changed
        last = batch[-1].id
        for doc in batch:
            new = rule.public(doc.locator)
            if new is None:
                continue
            taken = conn.scalar(select(documents.c.id).where(documents.c.locator == new))
            if taken is not None:  # read again since, under its public form: that row stays
                conn.execute(delete(documents).where(documents.c.id == doc.id))
            else:
                conn.execute(update(documents).where(documents.c.id == doc.id).values(locator=new))
            if doc.article_id is not None:
                conn.execute(
                    update(articles)
                    .where(articles.c.id == doc.article_id, articles.c.locator == doc.locator)
                    .values(locator=new)
                )
            changed += 1


class _Legacy:
    """The forms a source URL's secret was stored in before 5e7bfbc, and their public ones."""

    def __init__(self, urls: Iterable[str]) -> None:
        self._public = {u: locator_of(u) for u in urls}
        self._userinfo = {m.group(0) for u in urls if (m := _USERINFO.search(u))}

    def public(self, stored: str) -> str | None:
        """``stored`` as stored today, or None when it holds no source's secret."""
        base, hash_, rest = stored.partition("#")
        new = stored
        if base in self._public:  # a page's URL, or a linkless entry's base (+ #guid)
            new = self._public[base] + hash_ + rest
        new = _USERINFO.sub(lambda m: "://" if m.group(0) in self._userinfo else m.group(0), new)
        return None if new == stored else new


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
