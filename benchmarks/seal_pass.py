"""What the sealing pass costs a command that opens the store with a key (``Store.seal_pending``).

    .venv/bin/python -m benchmarks.seal_pass [--n 10000] [--secret-source] [--repeat 5]

A fresh SQLite store (in a temporary folder) of ``--n`` articles with their documents and sent
Discord parts (webhook URLs sealed), and no source unless ``--secret-source`` adds one feed
whose URL holds a password and an api_key (then the first pass scrubs the locators stored
before 5e7bfbc: a read of every document). Prints the first call (the full pass, once per key
set) and the calls after it (every command), each as wall time (best of ``--repeat`` for the
latter) and SQLite virtual-machine steps (work done, whatever the machine's load).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from digests.sealing import Sealer
from digests.store import Store
from digests.store.schema import articles, documents, outbox
from testkit.sqlcount import sqlite_steps

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
KEY = "b" * 16 + "benchmark-horse-battery"
FEED = "https://bob:pw@feeds.example/private.xml?api_key=k"


def _fill(store: Store, n: int) -> None:
    with store.engine.begin() as conn:
        for start in range(0, n, 5000):
            ids = range(start, min(n, start + 5000))
            conn.execute(insert(articles), [
                {"id": i + 1, "locator": f"https://news.example/{i}", "body_hash": f"{i:064x}",
                 "title": f"t{i}", "body": "b" * 2000, "summary": [], "keyphrases": [],
                 "ingested_at": NOW} for i in ids
            ])  # fmt: skip
            conn.execute(insert(documents), [
                {"locator": f"https://news.example/{i}", "content_hash": f"{i:064x}",
                 "status": "added", "article_id": i + 1, "seen_at": NOW} for i in ids
            ])  # fmt: skip
            conn.execute(insert(outbox), [
                {"digest_key": f"k{i}", "part": 0, "platform": "discord",
                 "channel": store.sealer.seal_fixed("https://discord.example/api/webhooks/1/t"),
                 "payload": {"text": "x"}, "status": "sent", "attempts": 1,
                 "next_attempt_at": NOW, "created_at": NOW, "sent_at": NOW, "checks": 0}
                for i in ids
            ])  # fmt: skip


def _timed(store: Store) -> tuple[float, int, int]:
    """Seconds, VM steps and values changed by one seal_pending on fresh connections."""
    ran: list[tuple[float, int]] = []

    def seal() -> None:
        started = time.perf_counter()
        changed = store.seal_pending()
        ran.append((time.perf_counter() - started, changed))

    steps = sqlite_steps(store.engine, seal)
    [(elapsed, changed)] = ran
    return elapsed, steps, changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--secret-source", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        plain = Store.open(f"sqlite:///{Path(tmp) / 'b.db'}", sealer=Sealer(KEY))
        if args.secret_source:
            plain.sources.add("private", kind="feed", location=FEED, poll_seconds=60, now=NOW)
        _fill(plain, args.n)
        plain.close()
        store = Store.open(f"sqlite:///{Path(tmp) / 'b.db'}", sealer=Sealer(KEY))
        first = _timed(store)
        after = min(_timed(store) for _ in range(args.repeat))
        store.close()
    print(f"n={args.n} secret source={args.secret_source}")
    for label, (seconds, steps, changed) in (("first (full pass)", first), ("after", after)):
        print(f"  {label:18} {seconds * 1000:8.2f} ms {steps:10,d} VM steps {changed} changed")


if __name__ == "__main__":
    main()
