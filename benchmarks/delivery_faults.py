"""Issue #16 acceptance at full scale: `digestbot serve` against a faulty, strict Slack.

    .venv/bin/python -m benchmarks.delivery_faults [--db sqlite:///tmp/x.db] [--minutes 4]

Runs the real `digestbot serve` (production timings: 20 s send timeout, 45 s lease) with a
subscription that posts a digest every minute (``* * * * *``) to a strict Slack stand-in
(``testkit/slack_stub.py``: refuses what Slack would refuse) whose first two
``chat.postMessage`` calls are applied at once but answered only after 40 s. 8 articles
(3 of them match no topic): 4 before start, 4 once the first digest shows in the channel.
Reports, per article, how often it appears in the channel (read from the posted blocks),
the posts Slack refused, and the chat.postMessage / conversations.history call counts.
Exit code 0 when every article appears exactly once and nothing was refused.
The same scenario scaled down to seconds is tests/bot/test_delivery_faults.py.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from benchmarks._serve import bench_config, slack_env
from digests.store import Store
from testkit.delivery import add_articles, shown
from testkit.processes import serve_digestbot
from testkit.slack_stub import SlackStub


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    ap.add_argument("--minutes", type=float, default=4.0, help="how long serve runs")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="digestbot-faults-"))
    url = args.db or f"sqlite:///{work / 'faults.db'}"
    config = bench_config(work)
    store = Store.open(url)
    store.subscriptions.upsert("every-minute", platform="slack", channel="CNEWS", topics=(),
                           cron="* * * * *", timezone="UTC", origin="chat",
                           now=datetime.now(UTC))  # fmt: skip
    add_articles(store, range(1, 5))
    stub = SlackStub().start()
    stub.strict = True
    stub.apply_then_delay("chat.postMessage", 40.0, times=2)
    env = slack_env(url, work, stub.api_url, token="xoxb-test")  # a token the stand-in knows
    t0 = time.monotonic()
    try:
        with serve_digestbot(config, env=env, timeout=120):
            stub.wait_until(lambda: bool(shown(stub, "CNEWS")), 180)
            print(f"first digest in the channel after {time.monotonic() - t0:.0f} s", flush=True)
            add_articles(store, range(5, 9))
            time.sleep(max(0.0, args.minutes * 60 - (time.monotonic() - t0)))
    finally:
        stub.stop()
    counts = shown(stub, "CNEWS")
    print("| article | times in the channel |\n|---|---|")
    for n in range(1, 9):
        print(f"| {n}{' (no topic)' if n % 3 == 0 else ''} | {counts.get(n, 0)} |")
    posts, history = len(stub.of("chat.postMessage")), len(stub.of("conversations.history"))
    print(f"\nposts in the channel: {len(stub.posted('CNEWS'))}; chat.postMessage calls: {posts};"
          f" conversations.history calls: {history}; refused by Slack: {len(stub.refused)}")  # fmt: skip
    ok = counts == Counter(range(1, 9)) and not stub.refused
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
