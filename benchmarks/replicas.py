"""Issue 14's acceptance run: two `digestbot serve` replicas share the polling of loopback feeds.

    .venv/bin/python -m benchmarks.replicas [--feeds 300] [--seconds 150] [--interval 60] \
        [--kill-at 75] [--replicas 2] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]

A fresh PostgreSQL database is made next to ``--pg`` (and dropped at the end). The feeds are
``testkit/feedsim.py``'s simulator on 127.0.0.1 (30 % of them get a new story every 1.5
intervals, the rest never change; conditional GET answers 304), added as sources polled every
``--interval`` seconds. The replicas run with ``[poll] tick_seconds = 2, lease_seconds = 30``;
the first is SIGKILLed at ``--kill-at`` seconds (``--kill-at -1``: never). Prints fetches per
feed per interval (max, mean), how many feeds were fetched after the kill, whether every story
served was stored exactly once, and each replica's peak RSS.
"""

from __future__ import annotations

import argparse

from testkit.feedsim import replica_experiment
from testkit.pgscratch import scratch_database


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=150)
    ap.add_argument("--interval", type=float, default=60)
    ap.add_argument("--kill-at", type=float, default=75)
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    with scratch_database(args.pg, "digestbot_replicas") as url:
        run = replica_experiment(
            url,
            feeds=args.feeds,
            seconds=args.seconds,
            interval=args.interval,
            kill_at=None if args.kill_at < 0 else args.kill_at,
            replicas=args.replicas,
            poll={"tick_seconds": 2, "lease_seconds": 30, "workers": args.workers},
        )
    for line in run.lines():
        print(line)
    ok = (
        run.max_per_interval <= 1.5
        and run.fetched_after_kill == run.feeds
        and run.duplicates == 0
        and run.stored_once == run.checked
    )
    print("acceptance:", "met" if ok else "MISSED")


if __name__ == "__main__":
    main()
