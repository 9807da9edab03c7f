"""Issue 25's unknown-outcome chaos at production timings: posts Slack applies late after a 5xx.

    .venv/bin/python -m benchmarks.late_apply [--channels 15] [--minutes 4] [--db URL]

Runs the real `digestbot serve` (production timings: 20 s send timeout, 45 s lease, so a 60 s
verify window with a look every 15 s) with one every-minute subscription per channel
(threaded digests: a headline, its stories as replies). The Slack stand-in answers the first
chat.postMessage of every channel 500 and applies it 35–50 s later (spread over the channels);
half of the channels are posted to without being joined (``chat:write.public``: their history
answers ``not_in_channel`` until the bot joins). Reports, from what the channels show: copies
of each digest part (must be 1), replies outside their headline's thread (must be 0),
conversations.join/history calls, and the time from the first post to the last message.
Exit code 0 when every part is in its channel exactly once and every reply in its thread.
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
from testkit.delivery import add_articles
from testkit.processes import serve_digestbot
from testkit.slack_stub import SlackStub


def _key(message: dict) -> tuple[str, int] | None:
    meta = message.get("metadata") or {}
    payload = meta.get("event_payload") or {}
    if "digest_key" not in payload:
        return None
    return str(payload["digest_key"]), int(payload.get("part", -1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--channels", type=int, default=15)
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="digestbot-late-"))
    url = args.db or f"sqlite:///{work / 'late.db'}"
    config = bench_config(work)
    store = Store.open(url)
    channels = [f"CLATE{n:02d}" for n in range(args.channels)]
    for channel in channels:
        store.subscriptions.upsert(f"sub-{channel}", platform="slack", channel=channel, topics=(),
                               cron="* * * * *", timezone="UTC", origin="chat",
                               now=datetime.now(UTC), watermark=0)  # fmt: skip
    add_articles(store, range(1, 5))
    stub = SlackStub().start()
    stub.strict = True
    stub.members_only.update(channels[::2])
    for n in range(args.channels):  # the first post of each channel: 500, applied 35–50 s later
        stub.fail_then_apply("chat.postMessage", 35.0 + 15.0 * n / max(1, args.channels - 1))
    env = slack_env(url, work, stub.api_url, token="xoxb-test")  # a token the stand-in knows
    t0 = time.monotonic()
    try:
        with serve_digestbot(config, env=env, timeout=120):
            time.sleep(max(0.0, args.minutes * 60 - (time.monotonic() - t0)))
    finally:
        stub.stop()
    copies: Counter[tuple[str, tuple[str, int]]] = Counter()
    outside = 0
    heads: dict[tuple[str, str], str] = {}
    for channel in channels:
        for message in stub.history[channel]:
            key = _key(message)
            if key is None:
                continue
            copies[(channel, key)] += 1
            if not key[0].endswith(":thread") and "thread_ts" not in message:
                heads[(channel, key[0])] = message["ts"]
    for channel in channels:
        for message in stub.history[channel]:
            key = _key(message)
            if key is None or not key[0].endswith(":thread"):
                continue
            # A story of a threaded digest: a reply under its own digest's headline.
            if message.get("thread_ts") != heads.get((channel, key[0].removesuffix(":thread"))):
                outside += 1
    dupes = sum(1 for n in copies.values() if n > 1)
    digests = {(c, k[0]) for c, k in copies if not k[0].endswith(":thread")}
    queued = {m.digest_key for m in store.outbox.waiting(limit=1000)}
    print(f"channels: {len(channels)} ({len(channels[::2])} not joined at start); digests shown: "
          f"{len(digests)}; parts shown: {len(copies)}; parts shown more than once: {dupes}; "
          f"replies outside their thread: {outside}; still queued: {len(queued)}")  # fmt: skip
    print(f"chat.postMessage calls: {len(stub.of('chat.postMessage'))}; conversations.history: "
          f"{len(stub.of('conversations.history'))}; conversations.replies: "
          f"{len(stub.of('conversations.replies'))}; conversations.join: "
          f"{len(stub.of('conversations.join'))}; refused: {len(stub.refused)}")  # fmt: skip
    times = sorted(stub.posted_at.values())
    if times:
        print(f"first post applied → last message: {times[-1] - times[0]:.1f} s")
    ok = (
        dupes == 0
        and outside == 0
        and len(digests) == len(channels)
        and not stub.refused
        and not queued
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
