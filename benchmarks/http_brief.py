"""Signed ``/brief`` slash commands against `digestbot serve` on loopback: ack p99, req/s.

    .venv/bin/python -m benchmarks.http_brief --db /tmp/digestbot-bench/corpus-100k.db \
        [--requests 300] [--concurrency 8] [--max-seconds 60] [--drain 120]

Starts ``digestbot serve`` on a free 127.0.0.1 port against the store (a SQLite path or a
database URL) with a local Slack Web API stand-in (``-m benchmarks._serve``), then sends
Slack-signed slash-command requests (v0 HMAC over timestamp + body, exactly what Slack
sends) cycling through the topics of ``-m benchmarks.brief``, ``--concurrency`` in
flight, at most ``--requests`` of them and at most ``--max-seconds``. Reports:

* ack latency p50/p95/p99/max (HTTP response of ``POST /slack/events``; Slack's limit is 3 s)
  and acks per second;
* answer latency p50/p95/p99 (until the brief arrives at ``response_url``) and answers per
  second — the briefs themselves run in worker threads after the ack.

Named ``http_brief.py``, not ``http.py``: a script's folder is first on ``sys.path``, so a
``-m benchmarks.http`` would shadow the standard library's ``http`` package for every
script in this folder (``urllib``, ``httpx`` and ``trafilatura`` import ``http.client``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks._serve import SlackStandIn, drive, percentile, start_serve
from benchmarks.brief import CONFIGURED, FREE_TEXT
from benchmarks.corpus import db_url

TOPICS = [t for pair in zip(CONFIGURED, FREE_TEXT, strict=False) for t in pair]


def report(load, label: str) -> None:  # type: ignore[no-untyped-def]
    """Print the two table rows of one run."""
    acks, answers = load.acks_ms, load.answers_ms
    print(
        f"| {label} | ack | {load.sent} | {percentile(acks, 50):.0f} | {percentile(acks, 95):.0f} "
        f"| {percentile(acks, 99):.0f} | {max(acks, default=0):.0f} "
        f"| {load.sent / load.seconds if load.seconds else 0:.1f} |"
    )
    print(
        f"| {label} | answer | {len(answers)} | {percentile(answers, 50):.0f} "
        f"| {percentile(answers, 95):.0f} | {percentile(answers, 99):.0f} "
        f"| {max(answers, default=0):.0f} "
        f"| {len(answers) / load.drain_seconds if load.drain_seconds else 0:.1f} |",
        flush=True,
    )
    if load.errors:
        print(f"  {load.errors} requests failed", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--exe", type=Path, help="digestbot executable (default: this venv's)")
    ap.add_argument("--db", required=True, help="store to serve (SQLite path or URL)")
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--max-seconds", type=float, default=60)
    ap.add_argument("--drain", type=float, default=120, help="wait for answers at most this")
    args = ap.parse_args()
    print("| concurrency | what | n | p50 ms | p95 ms | p99 ms | max ms | per s |")
    print("|---|---|---|---|---|---|---|---|")
    with SlackStandIn() as slack, start_serve(db_url(args.db), slack, exe=args.exe) as served:
        # One untimed round warms the page cache and Bolt's auth.test, as a live bot would be.
        drive(served.events, slack, TOPICS[:4], requests=4, concurrency=1, max_seconds=30, drain=30)
        slack.answers.clear()
        for concurrency in args.concurrency:
            load = drive(
                served.events,
                slack,
                TOPICS,
                requests=args.requests,
                concurrency=concurrency,
                max_seconds=args.max_seconds,
                drain=args.drain,
            )
            report(load, str(concurrency))
            slack.answers.clear()


if __name__ == "__main__":
    main()
