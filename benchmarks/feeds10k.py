"""Polling 10,000 feeds: cycle time and peak memory of one and of two `digestbot serve` replicas.

    nice .venv/bin/python -m benchmarks.feeds10k [--feeds 10000] [--replicas 1 2] [--hosts 50] \
        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]

For each replica count: a fresh PostgreSQL database, ``--feeds`` sources (polled hourly, so
each is polled once per phase) on ``testkit/feedsim.py``'s loopback simulator spread over
``--hosts`` loopback addresses (the fetcher allows two requests at a time per host), then:

* **first cycle**: no validators yet, so every feed answers 200 with its body, which is
  parsed; its story is already known (``feed_items`` is seeded as after an earlier run, so
  the cycle measures polling, not 10,000 articles through the pipeline): the time from the
  first fetch until every source has been polled;
* **warm cycle**: every source is made due again at once; 2 % of the feeds have a new story
  (fetched, parsed and stored through the pipeline), the rest answer the conditional GET
  with 304: the time until all are polled again.

Prints both cycle times, requests answered 304, and each replica's peak RSS (VmHWM) at the end.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime

from sqlalchemy import text

from digests.store import Store
from testkit.feedsim import FeedSim, replica_config, seed_known_feeds, start_replica, workdir
from testkit.pgscratch import scratch_database


def _polled_since(store: Store, since: datetime) -> int:
    with store.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM sources WHERE last_polled_at >= :t"), {"t": since}
            ).scalar()
            or 0
        )


def _wait_all(store: Store, since: datetime, n: int, sim: FeedSim, timeout: float) -> float:
    """Seconds from the first fetch after ``since`` until ``n`` sources were polled."""
    began = time.monotonic()
    first = len(sim.fetches)
    while _polled_since(store, since) < n:
        if time.monotonic() - began > timeout:
            raise SystemExit(f"only {_polled_since(store, since)}/{n} polled in {timeout:.0f} s")
        time.sleep(0.5)
    done = time.monotonic()
    start = sim.fetches[first].at if len(sim.fetches) > first else began
    return done - start


def run(pg: str, feeds: int, replicas: int, hosts: int, workers: int) -> list[str]:
    sim = FeedSim(feeds, entries=1, changing=0.02, change_every=10_000, hosts=hosts)
    lines = []
    with scratch_database(pg, "feeds_10k") as url, workdir() as folder, sim.running():
        store = Store.open(url)
        now = datetime.now(UTC)
        seed_known_feeds(store, sim, feeds, now)
        poll = {"tick_seconds": 1, "lease_seconds": 120, "workers": workers, "batch": 100}
        cdir = replica_config(folder, poll=poll, timeout=30)
        running = [start_replica(cdir, url, name=f"r{k}") for k in range(replicas)]
        load = [os.getloadavg()[0]]
        try:
            cold = _wait_all(store, now, feeds, sim, timeout=3600)
            load.append(os.getloadavg()[0])
            # 2 % of the feeds (``changing``) now carry a new story: one version on.
            sim.t0 -= 10_000
            warm_start = datetime.now(UTC)
            before = len(sim.fetches)
            with store.engine.begin() as conn:
                conn.execute(text("UPDATE sources SET next_poll_at = :t"), {"t": warm_start})
            warm = _wait_all(store, warm_start, feeds, sim, timeout=3600)
            load.append(os.getloadavg()[0])
            warm_fetches = sim.fetches[before:]
            rss = [r.peak_rss_kb() for r in running]
        finally:
            for r in running:
                r.stop()
        with store.engine.connect() as conn:
            articles = int(conn.execute(text("SELECT count(*) FROM articles")).scalar() or 0)
        store.close()
        n304 = sum(1 for f in warm_fetches if f.status == 304)
        lines = [
            f"{replicas} replica(s), {feeds} feeds on {hosts} loopback hosts, "
            f"{workers} poll workers each; load average at start / after first / after warm: "
            + " / ".join(f"{x:.1f}" for x in load),
            f"first cycle (every feed 200, parsed, nothing new): {cold:.1f} s "
            f"({feeds / cold:.0f} feeds/s)",
            f"warm cycle: {warm:.1f} s ({feeds / warm:.0f} feeds/s), "
            f"{n304}/{len(warm_fetches)} answered 304, {articles} new articles stored",
            f"peak RSS: {', '.join(f'{k / 1024:.0f} MB' for k in rss)}",
        ]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=10_000)
    ap.add_argument("--replicas", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    for replicas in args.replicas:
        for line in run(args.pg, args.feeds, replicas, args.hosts, args.workers):
            print(line, flush=True)
        print(f"load average after: {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
