"""Issue 14: 1,000 subscriptions due in the same minute, delivered by `digestbot serve` replicas.

    nice .venv/bin/python -m benchmarks.fanout [--subscriptions 1000] [--channels 200] \
        [--articles 24] [--replicas 2] [--kill-after N | --kill-at S] [--timeout 300] \
        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]

A fresh PostgreSQL database ``fanout_*`` is made next to ``--pg`` (dropped at the end). Every
subscription posts a threaded digest of the same ``--articles`` articles (24 make a headline
and two replies: 3 messages) to one of ``--channels`` channels, all due at the same whole
minute. The Slack stand-in (``testkit/slack_stub.py``) takes one chat.postMessage per
second per channel and answers 429 + Retry-After to anything sooner. ``--kill-after N``:
the first replica is SIGKILLed once it has posted N messages; ``--kill-at S``: S seconds after
the due instant (-1: never). Production
delivery timings (20 s send timeout, 45 s lease, 5 s sweep). See testkit/fanout.py for what
is measured; the scaled-down run is tests/bot/test_fanout.py.
"""

from __future__ import annotations

import argparse

from testkit.fanout import fanout_experiment
from testkit.pgscratch import scratch_database


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subscriptions", type=int, default=1000)
    ap.add_argument("--channels", type=int, default=200)
    ap.add_argument("--articles", type=int, default=24)
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--kill-after", type=int, default=-1, help="posts by the first replica")
    ap.add_argument("--kill-at", type=float, default=-1, help="seconds after the due instant")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--lead", type=float, default=60, help="seconds of set-up before due (≥ 60)")
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    with scratch_database(args.pg, "fanout") as url:
        run = fanout_experiment(
            url,
            subscriptions=args.subscriptions,
            channels=args.channels,
            articles=args.articles,
            replicas=args.replicas,
            lead=args.lead,
            timeout=args.timeout,
            kill_after=None if args.kill_after < 0 else args.kill_after,
            kill_at=None if args.kill_at < 0 else args.kill_at,
        )
    for line in run.lines():
        print(line)
    every_run = run.runs == {"queued": args.subscriptions}
    ok = every_run and run.exactly_once and not run.order_breaks and not run.part_breaks
    print("every digest queued and delivered, exactly once, in order:", "yes" if ok else "NO")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
