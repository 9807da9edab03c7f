"""What the topic fit's lease costs: its heartbeat's statements, and a fit's wall time with it.

    nice .venv/bin/python -m benchmarks.lease_cost /work/shared/eval/summ-dev-bbc.jsonl \\
        [--db postgresql+psycopg://postgres@127.0.0.1:5432/test] [--hold 65] [--rounds 3]

The fit is held by a lease row (``leases``, migration 0026; ``digests/store/locks.py``): one
conditional write takes it, a heartbeat thread renews it every ``BEAT`` (20 s), each write
made under it is fenced (its transaction moves the expiry only while the row is still this
holder's) and it is deleted when the fit is done. Two measures, on a new store (SQLite in a
temporary folder, or a scratch database on ``--db``'s PostgreSQL server):

* heartbeat: the lease taken and held idle for ``--hold`` seconds, on the real ``BEAT``: the
  statements and transactions the heartbeat thread ran, per minute;
* fit: ``refresh(force=True)`` (the fit and the re-tag of the week's articles, as ``serve``
  runs it) on the file's articles (``title``, ``article``: the BBC dev set, topics its five
  categories), with the lease as shipped and with none (``Store.exclusive`` replaced by a
  lease that takes, renews and fences nothing), alternated ``--rounds`` times after one
  warm-up fit (which encodes the articles; later fits find their vectors kept): the wall
  time of each, and the statements the lease added.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

from sqlalchemy import Connection, event

from digests.config import Topic
from digests.refit import FIT_LOCK, refresh
from digests.store import Store
from digests.store.locks import BEAT
from testkit.articles import make_processed
from testkit.pgscratch import scratch_database
from testkit.sqlcount import statements

TOPICS = tuple(Topic(name=n) for n in ("business", "entertainment", "politics", "sport", "tech"))


class _NoLease:
    """A lease that holds nothing: the fit as it would run unleased."""

    def fence(self, conn: Connection) -> None:
        pass

    def check(self) -> None:
        pass


@contextlib.contextmanager
def _unleased(_name: str, *, clock: Callable[[], datetime]) -> Iterator[_NoLease]:
    yield _NoLease()


def _clock(start: datetime) -> Callable[[], datetime]:
    """``start`` moved on by the time since (the lease's clock, as refresh gives it)."""
    began = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - began)


def _fill(store: Store, path: Path, now: datetime) -> int:
    n = 0
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            item = json.loads(line)
            store.articles.add(make_processed(item["title"], item["article"]), now=now)
            n += 1
    return n


def _heartbeat(store: Store, hold: float, now: datetime) -> tuple[int, int, int]:
    """(statements, transactions, renewals) of the heartbeat thread over ``hold`` seconds."""
    commits: list[str] = []

    def commit(_conn: object) -> None:
        commits.append(threading.current_thread().name)

    beat = f"lease {FIT_LOCK}"
    event.listen(store.engine, "commit", commit)
    try:
        with statements(store.engine) as ran, store.exclusive(FIT_LOCK, clock=_clock(now)) as lease:
            assert lease is not None, "the lease is held by another process"
            time.sleep(hold)
    finally:
        event.remove(store.engine, "commit", commit)
    renewals = sum(
        1 for r in ran if r.thread == beat and r.sql.lstrip().upper().startswith("UPDATE")
    )
    return sum(1 for r in ran if r.thread == beat), commits.count(beat), renewals


def _fit(store: Store, now: datetime, *, leased: bool) -> tuple[float, int, int]:
    """(seconds, statements, of them on the leases table) of one forced refit."""
    with ExitStack() as stack:
        if not leased:
            stack.enter_context(mock.patch.object(store, "exclusive", _unleased))
        ran = stack.enter_context(statements(store.engine))
        started = time.perf_counter()
        report = refresh(store, TOPICS, now=now, force=True)
        took = time.perf_counter() - started
    assert report.fitted, report
    return took, len(ran), sum(1 for r in ran if "leases" in r.sql)


def _measure(url: str, articles: Path, hold: float, rounds: int) -> None:
    store = Store.open(url)
    now = datetime.now(UTC)
    n = _fill(store, articles, now)
    name = store.engine.dialect.name
    stmts, commits, renewals = _heartbeat(store, hold, now)
    each = stmts / max(renewals, 1)
    print(f"{name}: the lease held idle {hold:.0f} s: the heartbeat ran {renewals} renewals, "
          f"{stmts} statements in {commits} transactions; at one renewal every {BEAT:.0f} s: "
          f"{each * 60 / BEAT:.1f} statements a minute")  # fmt: skip
    warm = _fit(store, now, leased=True)
    print(f"{name}: {n} articles; warm-up fit (encodes them) {warm[0]:.2f} s")
    times: dict[bool, list[float]] = {True: [], False: []}
    counts: dict[bool, tuple[int, int]] = {}
    for _ in range(rounds):
        for leased in (False, True):
            took, total, on_leases = _fit(store, now, leased=leased)
            times[leased].append(took)
            counts[leased] = (total, on_leases)
    print(f"{'fit':<10} {'best s':>8} {'median s':>9} {'statements':>11} {'on leases':>10}")
    for leased in (False, True):
        label = "leased" if leased else "unleased"
        total, on_leases = counts[leased]
        print(f"{label:<10} {min(times[leased]):>8.2f} {statistics.median(times[leased]):>9.2f} "
              f"{total:>11} {on_leases:>10}")  # fmt: skip
    store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("articles", type=Path, help="JSON lines with title and article")
    ap.add_argument("--db", default="", help="a PostgreSQL server URL (a scratch database)")
    ap.add_argument("--hold", type=float, default=65.0, help="seconds the lease is held idle")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    with ExitStack() as stack:
        if a.db:
            url = stack.enter_context(scratch_database(a.db, "digestbot_lease_cost"))
        else:
            url = f"sqlite:///{Path(stack.enter_context(tempfile.TemporaryDirectory())) / 'l.db'}"
        _measure(url, a.articles, a.hold, a.rounds)


if __name__ == "__main__":
    main()
