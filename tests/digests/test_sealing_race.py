"""The ``sealing`` marker (0024) against a process without the key writing a secret while a
keyed process runs the full pass: the pass must not mark the store sealed over a secret it
did not see. Real SQLite and PostgreSQL, two stores (processes) on one database."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from digests.sealing import Sealer
from digests.store import Store, sealed
from digests.store.schema import sources

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
KEY = "d" * 16 + "correct-horse-battery"
FEED = "https://bob:pw-race@feeds.example/private.xml?api_key=race-key"


def test_a_secret_written_plain_while_a_pass_runs_is_sealed_by_the_next_command(
    any_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A keyed command's pass has read the sources when a process without the key (`sources
    add` on another terminal) writes a feed URL with a password and drops the marker. The pass
    used to write its marker after that and the next keyed command found the store 'sealed'
    and left the password plain for good (until the keys changed)."""
    url = any_store.engine.url.render_as_string(hide_password=False)
    keyed = Store.open(url, migrate=False, sealer=Sealer(KEY))
    keyless = Store.open(url, migrate=False)
    read, go_on = threading.Event(), threading.Event()
    real = sealed._seal_locations

    def paused(conn, sealer, unopened):  # type: ignore[no-untyped-def]
        found = real(conn, sealer, unopened)
        read.set()  # the pass has read the sources: the other process writes now
        assert go_on.wait(60)
        return found

    monkeypatch.setattr(sealed, "_seal_locations", paused)
    outcome: list[object] = []
    passing = threading.Thread(target=lambda: outcome.append(keyed.seal_pending()))
    try:
        passing.start()
        assert read.wait(60)
        keyless.sources.add("private", kind="feed", location=FEED, poll_seconds=60, now=NOW)
        go_on.set()
        passing.join(60)
        assert outcome, "the pass did not end"
        monkeypatch.setattr(sealed, "_seal_locations", real)
        keyed.seal_pending()  # the next command with the key
        with any_store.engine.connect() as conn:
            [stored] = conn.scalars(select(sources.c.location).where(sources.c.name == "private"))
        assert "pw-race" not in stored and "race-key" not in stored, stored
        assert keyed.sources.all()[0].location == FEED  # sealed, and opened again
    finally:
        go_on.set()
        passing.join(60)
        keyed.close()
        keyless.close()
