"""Many subscriptions due at once, delivered by `digestbot serve` replicas (tests and benchmarks).

:func:`fanout_experiment` stores ``articles`` articles and ``subscriptions`` Slack
subscriptions spread round-robin over ``channels`` channels, all due at the same instant
(a cron in UTC), then runs ``replicas`` real `digestbot serve` processes on one database
against the Slack stand-in of ``testkit/slack_stub.py`` pacing ``chat.postMessage`` at one
message per second per channel (sooner: 429 + Retry-After, not applied). Each replica posts
with its own token, so the stand-in knows who sent what; ``kill_after`` posts by the first
replica (or ``kill_at`` seconds after the due instant), it is SIGKILLed (mid-fan-out). The run ends when every run is queued and every
queued message is in its channel, or at ``timeout``.

What it reports (:class:`FanoutRun`) is read from the channels, not from the bot's books:
each (digest key, part) counted at the stand-in, the order of arrival per channel against
the queue order (outbox ids), 429s, the time from the due instant to the last message, and
the pacing lower bound (messages of the busiest channel × the interval).
"""

from __future__ import annotations

import math
import os
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from digests.store import Store
from digests.store.schema import digest_runs, outbox
from testkit.articles import make_processed
from testkit.feedsim import Replica, replica_config, start_replica, wait_healthy, workdir
from testkit.slack_stub import SlackStub

TOPICS = ("taiwan", "trade", "energy", "climate", "markets")


def add_articles(store: Store, count: int) -> None:
    """``count`` articles of six sentences each, tagged round-robin with :data:`TOPICS`."""
    now = datetime.now(UTC)
    for n in range(count):
        body = " ".join(
            f"Sentence {k} of story {n} says officials{n} met partners{k} in city{n} about plan{k}."
            for k in range(6)
        )
        item = make_processed(
            f"Fanout story {n} about topic{n}",
            body,
            tags=((TOPICS[n % len(TOPICS)], 2),),
            url=f"https://news{n % 7}.example/{n}",
        )
        store.articles.add(item, now=now)


def cron_at(due: datetime) -> str:
    """A daily cron (UTC) firing at ``due``: five fields on a whole minute, else six."""
    if due.second == 0:
        return f"{due.minute} {due.hour} * * *"
    return f"{due.second} {due.minute} {due.hour} * * *"


@dataclass
class FanoutRun:
    """What :func:`fanout_experiment` saw."""

    subscriptions: int
    channels: int
    replicas: int
    interval: float
    runs: Counter[str]  # digest_runs by status
    rows: Counter[str]  # outbox rows by status
    expected: int  # outbox rows (messages queued)
    delivered: int  # of those, seen in their channel
    duplicates: int  # (digest key, part) seen more than once
    order_breaks: list[str]  # channel: a message arrived before an older one in the queue
    part_breaks: int  # a digest's part before an earlier part of the same digest
    limited: int  # 429s answered
    busiest: int  # messages in the busiest channel
    due_to_first: float  # seconds from the due instant to the first message
    due_to_last: float  # seconds from the due instant to the last message
    due_to_job: float  # seconds from the due instant to the start of the last digest job
    min_gap: float  # smallest gap between two posts in one channel (s)
    peak_rss_kb: list[int]
    killed: bool
    log_counts: dict[str, int] = field(default_factory=dict)
    at_kill: dict[str, int] = field(default_factory=dict)  # database state when killed
    spare: float = 0.0  # seconds between the replicas being healthy and the due instant
    due_to_queued: float | None = None  # seconds from the due instant to every run queued (±0.25)
    load: tuple[float, float] = (0.0, 0.0)  # 1-min load average at the due instant, at the end

    @property
    def lower_bound(self) -> float:
        """Pacing alone: the busiest channel's messages, one per interval."""
        return self.busiest * self.interval

    @property
    def exactly_once(self) -> bool:
        return self.delivered == self.expected and self.duplicates == 0

    def lines(self) -> list[str]:
        rss = ", ".join(f"{k / 1024:.0f} MiB" for k in self.peak_rss_kb)
        return [
            f"{self.subscriptions} subscriptions over {self.channels} channels, "
            f"{self.replicas} replica(s){' (first SIGKILLed mid-fan-out)' if self.killed else ''}",
            f"runs: {dict(self.runs)}; outbox rows: {dict(self.rows)}",
            f"messages queued {self.expected}, delivered {self.delivered}, "
            f"duplicates {self.duplicates}",
            f"order per channel: {len(self.order_breaks)} break(s), "
            f"{self.part_breaks} part-order break(s)",
            f"429s: {self.limited}; smallest gap in a channel: {self.min_gap:.3f} s",
            f"replicas healthy {self.spare:.0f} s before due; due → last digest job started: "
            f"{self.due_to_job:.1f} s; due → every run queued: "
            f"{'-' if self.due_to_queued is None else f'{self.due_to_queued:.1f}'} s; "
            f"due → first message: "
            f"{self.due_to_first:.1f} s; due → last message: "
            f"{self.due_to_last:.1f} s; pacing bound {self.lower_bound:.0f} s "
            f"({self.busiest} messages in the busiest channel)",
            f"peak RSS per replica: {rss}; load average (1 min) at due / end: "
            f"{self.load[0]:.2f} / {self.load[1]:.2f}",
            f"log: {self.log_counts}" + (f"; at the kill: {self.at_kill}" if self.killed else ""),
            *[f"  order break: {b}" for b in self.order_breaks[:10]],
        ]


_LOG_MARKERS = {
    "reconciled": "already delivered: recorded",
    "lease lost": "lease lost",
    "taken over": "taken over",
    "rate limited": "rate limited",
    "errors": "ERROR",
    "tracebacks": "Traceback",
}


def fanout_experiment(
    database_url: str,
    *,
    subscriptions: int,
    channels: int,
    articles: int,
    replicas: int,
    lead: float,
    timeout: float,
    kill_after: int | None = None,
    kill_at: float | None = None,
    interval: float = 1.0,
    env: dict[str, str] | None = None,
) -> FanoutRun:
    """Run ``replicas`` serve processes until ``subscriptions`` digests, due ``lead`` s after
    the set-up, are delivered (or ``timeout`` s after the due instant); see the module doc."""
    store = Store.open(database_url)
    add_articles(store, articles)
    due = datetime.now(UTC) + timedelta(seconds=lead)
    due = due.replace(microsecond=0) + timedelta(seconds=1)
    if lead >= 60:  # a benchmark: a real crontab minute
        due = due.replace(second=0) + timedelta(minutes=1)
    now = datetime.now(UTC)
    for i in range(subscriptions):
        store.subscriptions.upsert(
            f"sub-{i:04d}", platform="slack", channel=f"C{i % channels:04d}", topics=(),
            cron=cron_at(due), timezone="UTC", origin="chat", now=now, watermark=0,
        )  # fmt: skip
    stub = SlackStub().start()
    stub.pace_channels(interval)
    tokens = [f"xoxb-replica-{k}" for k in range(replicas)]
    for token in tokens:
        stub.tokens[token] = "T1"
    running: list[Replica] = []
    rss: dict[int, int] = {}
    killed = False
    queued_at: float | None = None  # seconds after due when every run was queued
    spare = 0.0
    at_kill: dict[str, int] = {}
    load_due = 0.0
    with workdir() as folder:
        cdir = replica_config(folder, poll={})
        try:
            for k, token in enumerate(tokens):
                running.append(
                    start_replica(
                        cdir,
                        database_url,
                        name=f"r{k}",
                        wait=False,
                        env={
                            "SLACK_BOT_TOKEN": token,
                            "SLACK_API_URL": stub.api_url,
                            **(env or {}),
                        },
                    )  # fmt: skip
                )
            for r in running:
                wait_healthy(r, timeout=120)
            spare = (due - datetime.now(UTC)).total_seconds()
            if datetime.now(UTC) >= due:
                raise RuntimeError(f"replicas started after the due instant: raise lead ({lead})")
            time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
            load_due = os.getloadavg()[0]
            deadline = time.monotonic() + timeout
            first = f"Bearer {tokens[0]}"
            while time.monotonic() < deadline:
                for k, r in enumerate(running):
                    if r.process.poll() is None:
                        rss[k] = max(rss.get(k, 0), r.peak_rss_kb())
                if (kill_after is not None or kill_at is not None) and not killed:
                    sent = sum(
                        1
                        for c in stub.of("chat.postMessage")
                        if c.headers.get("Authorization") == first
                    )
                    late = (datetime.now(UTC) - due).total_seconds()
                    if (kill_after is not None and sent >= kill_after) or (
                        kill_at is not None and late >= kill_at
                    ):
                        os.kill(running[0].process.pid, signal.SIGKILL)
                        running[0].process.wait(10)
                        killed = True
                        with store.engine.connect() as conn:  # what the dead replica left
                            at_kill = dict(Counter(
                                conn.execute(select(digest_runs.c.status)).scalars().all()
                            ))  # fmt: skip
                            at_kill["outbox sending"] = len(
                                conn.execute(
                                    select(outbox.c.id).where(outbox.c.status == "sending")
                                ).all()
                            )
                if queued_at is None and _all_queued(store, subscriptions):
                    queued_at = (datetime.now(UTC) - due).total_seconds()
                if _finished(store, stub, subscriptions):
                    break
                time.sleep(0.25)
        finally:
            logs = [r.log.read_text(errors="replace") if r.log.exists() else "" for r in running]
            for r in running:
                r.stop()
            stub.stop()
        run = _measure(store, stub, due, interval)
    store.close()
    counts = {k: sum(log.count(m) for log in logs) for k, m in _LOG_MARKERS.items()}
    return FanoutRun(
        subscriptions=subscriptions, channels=channels, replicas=replicas, interval=interval,
        peak_rss_kb=[rss[k] for k in sorted(rss)], killed=killed, log_counts=counts,
        at_kill=at_kill, spare=spare, due_to_queued=queued_at,
        load=(load_due, os.getloadavg()[0]), **run,
    )  # fmt: skip


def _all_queued(store: Store, subscriptions: int) -> bool:
    with store.engine.connect() as conn:
        runs = conn.execute(select(digest_runs.c.status)).scalars().all()
    return len(runs) >= subscriptions and all(s != "claimed" for s in runs)


def _finished(store: Store, stub: SlackStub, subscriptions: int) -> bool:
    with store.engine.connect() as conn:
        runs = conn.execute(select(digest_runs.c.status)).scalars().all()
        if len(runs) < subscriptions or any(s == "claimed" for s in runs):
            return False
        rows = conn.execute(select(outbox.c.status)).scalars().all()
    return all(s in ("sent", "dead") for s in rows) and len(stub.posted_at) >= len(rows)


def _measure(store: Store, stub: SlackStub, due: datetime, interval: float) -> dict:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                outbox.c.id, outbox.c.digest_key, outbox.c.part, outbox.c.channel, outbox.c.status
            )  # fmt: skip
        ).all()
        runs = Counter(conn.execute(select(digest_runs.c.status)).scalars().all())
        # created_at is the clock of the digest job that queued the row, read when it started.
        queued_at = conn.execute(select(outbox.c.created_at)).scalars().all()
    ids = {(r.digest_key, int(r.part)): int(r.id) for r in rows}
    seen: Counter[tuple[str, int]] = Counter()
    order_breaks: list[str] = []
    part_breaks = 0
    first_at, last_at, min_gap = math.inf, 0.0, math.inf
    busiest = 0
    for channel in {r.channel for r in rows}:
        posted = stub.posted(channel)
        busiest = max(busiest, len(posted))
        newest = -1
        parts: dict[str, int] = {}
        previous: float | None = None
        for message in posted:
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            key = (str(payload.get("digest_key")), int(payload.get("part", -1)))
            seen[key] += 1
            at = stub.posted_at[message["ts"]]
            first_at, last_at = min(first_at, at), max(last_at, at)
            if previous is not None:
                min_gap = min(min_gap, at - previous)
            previous = at
            row = ids.get(key, -1)
            if row < newest:
                order_breaks.append(f"{channel}: {key} (row {row}) after row {newest}")
            newest = max(newest, row)
            if parts.get(key[0], -1) > key[1]:
                part_breaks += 1
            parts[key[0]] = max(parts.get(key[0], -1), key[1])
    expected = set(ids)
    due_ts = due.timestamp()
    last_queued = max((q.timestamp() for q in queued_at if q is not None), default=due_ts)
    return {
        "runs": runs,
        "rows": Counter(r.status for r in rows),
        "expected": len(expected),
        "delivered": len(expected & set(seen)),
        "duplicates": sum(1 for n in seen.values() if n > 1),
        "order_breaks": order_breaks,
        "part_breaks": part_breaks,
        "limited": sum(stub.limited.values()),
        "busiest": busiest,
        "due_to_first": max(0.0, first_at - due_ts) if first_at != math.inf else 0.0,
        "due_to_last": max(0.0, last_at - due_ts),
        "due_to_job": max(0.0, last_queued - due_ts),
        "min_gap": min_gap if min_gap != math.inf else 0.0,
    }
