"""What a source's re-tag (and a refit) pays to learn which recent articles no digest showed,
as the outbox grows: ``Topics.recent_undelivered`` on an outbox of N digest parts.

    .venv/bin/python -m benchmarks.retag_outbox [--parts 200000] [--week 20000] [--db URL]

Fills a fresh store with 2,000 articles of the last week and an outbox of ``--parts`` parts
(each naming 10 articles, as a digest part does), ``--week`` of them queued in the last week
and the rest over the year before, then times ``recent_undelivered`` (best of 5) and says how many
articles it finds no digest showed (0: each of them is named by many of the newest parts).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from digests.models import OutboxStatus
from digests.refit import RETAG_LIMIT, RETAG_WINDOW
from digests.store import Store
from digests.store.schema import outbox
from testkit.articles import make_processed

NOW = datetime.now(UTC)


def _fill(store: Store, parts: int, week: int) -> None:
    ids = []
    for n in range(2000):
        body = f"Event{n} unique{n} words{n} happened in place{n}. Officials{n} said more{n}."
        ids.append(store.articles.add(make_processed(f"Story {n} about thing{n}", body), now=NOW))
    rows = []
    for n in range(parts):
        recent = n >= parts - week
        age = (parts - n) * (RETAG_WINDOW / max(1, week)) if recent else timedelta(days=8 + n % 300)
        rows.append(
            {
                "digest_key": f"run:{n}", "part": 0, "platform": "slack", "channel": f"C{n % 50}",
                "payload": {"text": "x"}, "status": OutboxStatus.SENT, "attempts": 1,
                "next_attempt_at": NOW - age, "created_at": NOW - age,
                "article_ids": [ids[(n * 10 + k) % len(ids)] for k in range(10)] if recent else [1],
            }
        )  # fmt: skip
        if len(rows) == 5000:
            with store.engine.begin() as conn:
                conn.execute(insert(outbox), rows)
            rows = []
    if rows:
        with store.engine.begin() as conn:
            conn.execute(insert(outbox), rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", type=int, default=200_000)
    ap.add_argument("--week", type=int, default=20_000)
    ap.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    args = ap.parse_args()
    url = args.db or f"sqlite:///{Path(tempfile.mkdtemp(prefix='digestbot-retag-')) / 'r.db'}"
    store = Store.open(url)
    _fill(store, args.parts, args.week)
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        unshown = store.topics.recent_undelivered(NOW - RETAG_WINDOW, limit=RETAG_LIMIT)
        best = min(best, time.perf_counter() - started)
    print(
        f"outbox {args.parts:,} parts ({args.week:,} in the last week): recent_undelivered "
        f"{best * 1000:.0f} ms (best of 5), {len(unshown):,} of 2,000 articles unshown"
    )
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
