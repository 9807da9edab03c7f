"""A command opening the store with a key makes sure its secrets are sealed, at a cost that does
not grow with the store (query-plan audit).

Every terminal command now runs the sealing pass (digests/store/sealed.py) when
``DIGESTBOT_ENCRYPTION_KEY`` is set, so that a store used by the terminal alone is sealed too.
The full pass reads every token, channel and source location (and, once, the stored locators
of a source holding a secret); a command that finds the ``sealing`` row says it ran with these
keys reads that one row. Measured by the SQLite VM steps of the call: the same for a store of
200 and of 2,000 articles, documents, feed entries and sent outbox rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select

from digests.sealing import Sealer
from digests.store import Store
from digests.store.schema import articles, documents, feed_items, outbox
from testkit.sqlcount import sqlite_steps, statements

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
KEY = "c" * 16 + "correct-horse-battery"
FEED = "https://bob:pw-cost@feeds.example/private.xml?api_key=cost-key"


def _store(path: Path, n: int) -> Store:
    """A store with one source holding a secret, ``n`` articles, documents and feed entries
    (stored under their public forms, as today's ingest stores them) and ``n`` sent parts."""
    store = Store.open(f"sqlite:///{path}", sealer=Sealer(KEY))
    source = store.sources.add("private", kind="feed", location=FEED, poll_seconds=60, now=NOW)
    with store.engine.begin() as conn:
        conn.execute(insert(articles), [
            {"id": i + 1, "locator": f"https://news.example/{i}", "body_hash": f"{i:064x}",
             "title": f"t{i}", "body": "b", "summary": [], "keyphrases": [], "ingested_at": NOW}
            for i in range(n)
        ])  # fmt: skip
        conn.execute(insert(documents), [
            {"locator": f"https://news.example/{i}", "content_hash": f"{i:064x}",
             "status": "added", "article_id": i + 1, "seen_at": NOW} for i in range(n)
        ])  # fmt: skip
        conn.execute(insert(feed_items), [
            {"source_id": source.id, "identity": f"https://news.example/{i}",
             "article_id": i + 1, "seen_at": NOW} for i in range(n)
        ])  # fmt: skip
        conn.execute(insert(outbox), [
            {"digest_key": f"k{i}", "part": 0, "platform": "discord",
             "channel": store.sealer.seal_fixed(f"https://discord.example/api/webhooks/{i}/t"),
             "payload": {"text": "x"}, "status": "sent", "attempts": 1, "next_attempt_at": NOW,
             "created_at": NOW, "sent_at": NOW, "checks": 0} for i in range(n)
        ])  # fmt: skip
    return store


def test_a_command_finding_the_store_sealed_reads_one_row(tmp_path: Path) -> None:
    costs = {}
    for n in (200, 2000):
        store = _store(tmp_path / f"{n}.db", n)
        try:
            # The full pass (once for these keys), then every command after it.
            first = sqlite_steps(store.engine, store.seal_pending)
            again = sqlite_steps(store.engine, store.seal_pending)
        finally:
            store.close()
        costs[n] = (first, again)
    assert costs[200][1] == costs[2000][1], costs  # not a row more for a store 10x larger
    assert costs[2000][1] * 20 < costs[2000][0], costs  # and far below the full pass
    # Another key set (a rotation): the pass runs again, with both keys.
    rotated = Store.open(f"sqlite:///{tmp_path / '200.db'}", sealer=Sealer("r" * 40, [KEY]))
    try:
        assert rotated.seal_pending() >= 1  # the source and the webhooks, with the new key
        assert rotated.seal_pending() == 0
    finally:
        rotated.close()


def test_a_command_that_cannot_seal_now_goes_on_and_the_next_one_seals(tmp_path: Path) -> None:
    """Every command with a key runs the pass when the store is not marked sealed: one that
    meets another process's write (or a store it may only read) failed as a whole with
    "database is locked". It goes on now, and the next command seals."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    Store.open(url).sources.add("private", kind="feed", location=FEED, poll_seconds=60, now=NOW)
    store = Store.open(url, sealer=Sealer(KEY), busy_timeout=0.05)
    other = sqlite3.connect(tmp_path / "bot.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process is writing
        assert store.seal_pending() == 0  # not sealed, and no error
        other.execute("ROLLBACK")
        assert store.seal_pending() == 1  # the next command seals the plain location
        assert store.seal_pending() == 0
    finally:
        other.close()
        store.close()


def test_a_source_no_key_given_opens_leaves_its_scrub_for_later_not_every_pass(
    tmp_path: Path,
) -> None:
    """The once-per-store scrub of old locators met a source whose URL no key given opens
    (sealed with a key not set now): it never recorded itself done, so every later full pass
    (a rotation, a secret written without the key) read all documents again. It now records
    what it did and names the source left; the next pass reads no document (its other reads,
    every token and channel, are the full pass's own), and once that source's key is given
    its rows are scrubbed."""
    reads: dict[int, list[str]] = {}
    for n in (200, 2000):
        store = _store(tmp_path / f"{n}.db", n)
        with store.engine.begin() as conn:  # a locator stored before 5e7bfbc: the URL whole
            conn.execute(insert(documents).values(
                locator=FEED + "#guid-1", content_hash="f" * 64, status="added", seen_at=NOW))  # fmt: skip
        store.close()
        other = Store.open(f"sqlite:///{tmp_path / f'{n}.db'}", sealer=Sealer("o" * 40))
        try:
            other.sources.add(  # a source of its own holding a secret: the scrub has work
                "open", kind="feed", location="https://u:pw2@feeds.example/b.xml",
                poll_seconds=60, now=NOW,
            )  # fmt: skip
            other.seal_secrets()  # the first source's URL cannot be opened: left
            reads[n] = _documents_read(other, other.seal_secrets)  # a later full pass
        finally:
            other.close()
    assert reads == {200: [], 2000: []}, reads
    keyed = Store.open(f"sqlite:///{tmp_path / '200.db'}", sealer=Sealer("o" * 40, [KEY]))
    try:
        keyed.seal_secrets()  # the source's key given: its rows are scrubbed now
        with keyed.engine.connect() as conn:
            locators = set(conn.scalars(select(documents.c.locator)))
        assert "https://feeds.example/private.xml?api_key=cost-key#guid-1" not in locators
        assert not any("pw-cost" in loc for loc in locators), locators
    finally:
        keyed.close()


def _documents_read(store: Store, call: Callable[[], object]) -> list[str]:
    """The statements ``call`` runs that read the documents table."""
    with statements(store.engine) as ran:
        call()
    return [r.sql for r in ran if "FROM documents" in r.sql]
