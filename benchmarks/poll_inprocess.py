"""Per-poll cost of the shared poller, in one process: SQLite vs PostgreSQL (issue 14).

    nice .venv/bin/python -m benchmarks.poll_inprocess [--feeds 1000] [--workers 8] \
        [--backends sqlite pg] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]

``--feeds`` scheduled sources on ``testkit/feedsim.py``'s loopback simulator (stories already
known, as in ``feeds10k.py``), polled by one :class:`digests.ingest.polling.Poller` per cycle, ticked as ``serve``'s poll job
ticks it until every due feed is polled (no HTTP server, no scheduler), so the figures are the
poller's own:

* **first cycle**: every feed answers 200 and is parsed (nothing new);
* **warm cycle**: every source due again, 2 % with a new story, the rest answer 304.

For the warm cycle it also counts what each poll costs the database: SQL statements,
transactions (commits) and connection checkouts per poll — figures that do not depend on how
busy the machine is, unlike the wall-clock ones. CPU seconds include the simulator's thread.
PostgreSQL databases are created as ``feeds_poll_<random>`` and dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event, text

from digests.config import PollConfig, load_settings
from digests.ingest.pipeline import IngestReport
from digests.ingest.polling import Poller
from digests.store import Store
from testkit.feedsim import FeedSim, replica_config, seed_known_feeds
from testkit.pgscratch import scratch_database


class _Counts:
    def __init__(self, store: Store) -> None:
        self.statements = self.commits = self.checkouts = 0
        event.listen(store.engine, "before_cursor_execute", self._statement)
        event.listen(store.engine, "commit", self._commit)
        event.listen(store.engine.pool, "checkout", self._checkout)

    def _statement(self, *_args: object) -> None:
        self.statements += 1

    def _commit(self, *_args: object) -> None:
        self.commits += 1

    def _checkout(self, *_args: object) -> None:
        self.checkouts += 1

    def reset(self) -> None:
        self.statements = self.commits = self.checkouts = 0


def _cycle(
    make: Callable[[Callable[[str, IngestReport], None]], Poller], due: int
) -> tuple[float, float, int]:
    """Tick a fresh poller until ``due`` sources are polled, then stop it (records them)."""
    added: list[int] = []
    poller = make(lambda _name, report: added.extend(report.added))
    wall, cpu = time.monotonic(), time.process_time()
    try:
        while poller.polled < due:
            poller.tick()  # finishing workers also claim the backlog themselves
            time.sleep(0.01)
    finally:
        poller.close()
    return time.monotonic() - wall, time.process_time() - cpu, len(added)


def run(url: str, label: str, feeds: int, workers: int, hosts: int, folder: Path) -> list[str]:
    sim = FeedSim(feeds, entries=1, changing=0.02, change_every=10_000, hosts=hosts)
    with sim.running():
        store = Store.open(url)
        counts = _Counts(store)
        seed_known_feeds(store, sim, feeds, datetime.now(UTC))
        settings = load_settings({}, replica_config(folder / label, poll={}))
        settings = settings.model_copy(update={"allow_private_networks": True})
        options = PollConfig(workers=workers, batch=100, lease_seconds=600)

        def make(on_poll: Callable[[str, IngestReport], None]) -> Poller:
            return Poller(
                store, settings, owner=label, options=options, clock=lambda: datetime.now(UTC),
                on_poll=on_poll,
            )  # fmt: skip

        load = [os.getloadavg()[0]]
        try:
            cold, cold_cpu, _ = _cycle(make, feeds)
            sim.t0 -= 10_000  # 2 % of the feeds now have a new story
            with store.engine.begin() as conn:
                conn.execute(text("UPDATE sources SET next_poll_at = :t"), {"t": datetime.now(UTC)})
            before = len(sim.fetches)
            counts.reset()
            warm, warm_cpu, added = _cycle(make, feeds)
            load.append(os.getloadavg()[0])
        finally:
            store.close()
        n304 = sum(1 for f in sim.fetches[before:] if f.status == 304)
    per = counts.statements / feeds, counts.commits / feeds, counts.checkouts / feeds
    return [
        f"{label}: {feeds} feeds, {workers} workers, load {load[0]:.1f}→{load[1]:.1f}",
        f"  first cycle: {cold:.1f} s ({feeds / cold:.0f} feeds/s), {cold_cpu:.1f} s CPU",
        f"  warm cycle:  {warm:.1f} s ({feeds / warm:.0f} feeds/s), {warm_cpu:.1f} s CPU, "
        f"{n304} × 304, {added} new articles",
        f"  warm, per poll: {per[0]:.2f} statements, {per[1]:.2f} commits, "
        f"{per[2]:.2f} connection checkouts",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--backends", nargs="+", default=["sqlite", "pg"])
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="digestbot-poll-") as tmp:
        folder = Path(tmp)
        for backend in args.backends:
            if backend == "sqlite":
                url = f"sqlite:///{folder / 'poll.db'}"
                lines = run(url, "sqlite", args.feeds, args.workers, args.hosts, folder)
            else:
                with scratch_database(args.pg, "feeds_poll") as url:
                    lines = run(url, "postgresql", args.feeds, args.workers, args.hosts, folder)
            for line in lines:
                print(line, flush=True)


if __name__ == "__main__":
    main()
