"""Peak resident memory of `digestbot serve` holding a large store, idle and answering /brief.

    .venv/bin/python -m benchmarks.serve_rss --db /tmp/digestbot-bench/corpus-100k.db \
        [--requests 200] [--concurrency 4]

Starts ``digestbot serve`` on loopback against the store with a local Slack stand-in
(``-m benchmarks._serve``), samples the resident set size of the server process (and any
children) every 20 ms from ``/proc``, and reports it after start-up (healthy, idle), and
the peak while answering ``--requests`` signed ``/brief`` commands at ``--concurrency``
(the briefs run in worker threads, so concurrency is what multiplies working memory).
``VmHWM`` (the kernel's own high-water mark) is reported too. Linux only. Target: peak
<= 250 MB with 100k articles stored.
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

from benchmarks._serve import SlackStandIn, drive, start_serve
from benchmarks.corpus import db_url
from benchmarks.http_brief import TOPICS
from digests.store import Store


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                children = (task / "children").read_text().split()
                todo.extend(int(c) for c in children)
        except OSError:
            continue
    return pids


class Sampler:
    """RSS of a process tree, sampled in a thread; ``peak_kb`` since the last reset."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def now_kb(self) -> int:
        return sum(_status_kb(p, "VmRSS") for p in _tree(self.pid))

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_kb = max(self.peak_kb, self.now_kb())

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--exe", type=Path, help="digestbot executable (default: this venv's)")
    ap.add_argument("--db", required=True)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=4)
    args = ap.parse_args()
    url = db_url(args.db)
    count = Store.open(url).articles.count()
    with SlackStandIn() as slack, start_serve(url, slack, exe=args.exe) as served:
        sampler = Sampler(served.process.pid)
        time.sleep(1.0)
        idle = sampler.now_kb()
        load = drive(
            served.events,
            slack,
            TOPICS,
            requests=args.requests,
            concurrency=args.concurrency,
            max_seconds=120,
            drain=180,
        )
        time.sleep(0.5)
        sampler.stop()
        hwm = _status_kb(served.process.pid, "VmHWM")
        print("| articles | idle RSS MB | peak RSS MB (sampled) | VmHWM MB | briefs answered |")
        print("|---|---|---|---|---|")
        print(
            f"| {count} | {idle / 1024:.0f} | {max(sampler.peak_kb, idle) / 1024:.0f} "
            f"| {hwm / 1024:.0f} | {len(load.answers_ms)}/{load.sent} at concurrency "
            f"{args.concurrency} |"
        )


if __name__ == "__main__":
    main()
