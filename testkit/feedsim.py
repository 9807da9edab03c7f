"""A loopback feed simulator and a `digestbot serve` replica harness (tests and benchmarks).

:class:`FeedSim` serves ``n`` RSS feeds on 127.0.0.1 from one aiohttp server in a thread.
Feed ``i`` holds its newest ``entries`` stories, each with ~100 words of full text (so no
article page is fetched). A share of the feeds (``changing``) gets a new story every
``change_every`` seconds, at staggered moments; the rest never change. Every answer carries an
``ETag`` and ``Last-Modified``; a matching ``If-None-Match`` / ``If-Modified-Since`` gets a
bodiless 304, so unchanged feeds stay cheap. Every request is recorded (feed, time, status)
and so is every story served in a 200, to check "each entry stored once".

:func:`start_replica` runs ``digestbot serve`` as a child process on a free loopback port,
against a given database, with ``[poll]`` settings written into a throwaway config folder.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import formatdate
from pathlib import Path
from xml.sax.saxutils import escape

import httpx
from aiohttp import web
from sqlalchemy import insert, text

from digests.store import Store
from digests.store.schema import feed_items, sources

ROOT = Path(__file__).resolve().parents[1]

_SUBJECTS = (
    "The city council", "Port officials", "A regional court", "The health ministry",
    "Local farmers", "The transport agency", "Researchers at the university", "The central bank",
    "Residents of the valley", "The national weather service", "A group of engineers",
    "The school board", "Hospital managers", "The energy regulator", "Union leaders",
)  # fmt: skip
_VERBS = (
    "approved", "delayed", "announced", "rejected", "reviewed", "proposed", "expanded",
    "questioned", "funded", "postponed", "published", "defended",
)  # fmt: skip
_OBJECTS = (
    "a new budget for road repairs", "plans for a second bridge", "a study of river pollution",
    "changes to bus timetables", "a scheme to insulate older homes", "the harbour expansion",
    "a review of emergency services", "new rules for short-term rentals", "the solar farm",
    "a programme of free school meals", "a report on housing costs", "the water tariff",
)  # fmt: skip
_PLACES = (
    "the northern district", "the old town", "the coastal villages", "the industrial zone",
    "the university quarter", "the river delta", "the mountain towns", "the capital",
)  # fmt: skip


def story(feed: int, k: int) -> tuple[str, str]:
    """Title and ~100-word body of story ``k`` of feed ``feed`` (deterministic, distinct)."""
    rng = random.Random(f"{feed}:{k}")
    sentences = []
    for _ in range(7):
        sentences.append(
            f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} in "
            f"{rng.choice(_PLACES)} on Tuesday, affecting about {rng.randint(100, 99999)} people."
        )
    title = f"Feed {feed} story {k}: {rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} a plan"
    return title, " ".join(sentences)


@dataclass
class Fetch:
    feed: int
    at: float  # time.monotonic()
    status: int


@dataclass
class FeedSim:
    """``n`` loopback RSS feeds with conditional GET (see the module docstring)."""

    n: int
    entries: int = 3
    changing: float = 0.0  # share of feeds that get new stories
    change_every: float = 60.0
    fetches: list[Fetch] = field(default_factory=list)
    served: dict[tuple[int, int], float] = field(default_factory=dict)  # (feed, story): first 200
    hosts: int = 1  # serve on this many loopback addresses (127.0.0.1, 127.0.1.1, ...)
    base: str = ""
    port: int = 0
    t0: float = 0.0

    def host(self, i: int) -> str:
        k = i % self.hosts
        return "127.0.0.1" if k == 0 else f"127.0.{1 + k // 250}.{1 + k % 250}"

    def url(self, i: int) -> str:
        return f"http://{self.host(i)}:{self.port}/feed/{i}.xml"

    def version(self, i: int, now: float | None = None) -> int:
        """How many new stories feed ``i`` has had by ``now`` (staggered per feed)."""
        if self.changing <= 0 or (i * 7919) % 1000 >= self.changing * 1000:
            return 0
        phase = (i * 0.6180339887) % 1.0
        elapsed = (now if now is not None else time.monotonic()) - self.t0
        return int(elapsed / self.change_every + phase)

    def _rss(self, i: int, v: int) -> str:
        items = []
        for k in range(v + self.entries - 1, v - 1, -1):
            title, body = story(i, k)
            items.append(
                f"<item><title>{escape(title)}</title>"
                f"<link>http://{self.host(i)}:{self.port}/item/{i}/{k}</link>"
                f'<guid isPermaLink="false">feed-{i}-{k}</guid>'
                f"<description>{escape(body)}</description></item>"
            )
        return (
            '<?xml version="1.0"?><rss version="2.0"><channel>'
            f"<title>Feed {i}</title><link>{self.base}/</link>{''.join(items)}</channel></rss>"
        )

    async def _feed(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        i = int(request.match_info["i"])
        if not 0 <= i < self.n:
            return web.Response(status=404)
        v = self.version(i, now)
        etag = f'"{i}-{v}"'
        modified = formatdate(1_700_000_000 + v * self.change_every, usegmt=True)
        headers = {"ETag": etag, "Last-Modified": modified}
        if request.headers.get("If-None-Match") == etag or (
            "If-None-Match" not in request.headers
            and request.headers.get("If-Modified-Since") == modified
        ):
            self.fetches.append(Fetch(i, now, 304))
            return web.Response(status=304, headers=headers)
        self.fetches.append(Fetch(i, now, 200))
        for k in range(v, v + self.entries):
            self.served.setdefault((i, k), now)
        return web.Response(
            text=self._rss(i, v), content_type="application/rss+xml", headers=headers
        )

    @contextmanager
    def running(self) -> Iterator[FeedSim]:
        """Serve on a free loopback port until the block ends."""
        ready = threading.Event()
        loop = asyncio.new_event_loop()
        state: dict[str, object] = {}

        async def start() -> None:
            app = web.Application()
            app.router.add_get("/feed/{i}.xml", self._feed)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
            await site.start()
            state["runner"] = runner
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.base = f"http://127.0.0.1:{self.port}"
            for k in range(1, self.hosts):  # the whole of 127/8 is loopback on Linux
                await web.TCPSite(runner, self.host(k), self.port, backlog=1024).start()
            ready.set()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(start())
            loop.run_forever()

        self.t0 = time.monotonic()
        thread = threading.Thread(target=run, daemon=True, name="feedsim")
        thread.start()
        ready.wait(10)
        try:
            yield self
        finally:
            runner = state.get("runner")
            if isinstance(runner, web.AppRunner):
                asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()


# -- replicas ----------------------------------------------------------------------------------


def seed_known_feeds(store: Store, sim: FeedSim, feeds: int, now: datetime) -> None:
    """``feeds`` hourly sources on ``sim``, all due at ``now``, each one's first story already
    seen (as after an earlier run), so that a poll cycle measures polling, not the pipeline."""
    with store.engine.begin() as conn:
        conn.execute(
            insert(sources),
            [
                {
                    "name": f"feed-{i}",
                    "kind": "feed",
                    "location": sim.url(i),
                    "consecutive_failures": 0,
                    "origin": "cli",
                    "tags": [],
                    "poll_seconds": 3600,
                    "next_poll_at": now,
                }
                for i in range(feeds)
            ],
        )
        ids = conn.execute(text("SELECT id, name FROM sources")).all()
        conn.execute(
            insert(feed_items),
            [{"source_id": sid, "identity": f"feed-{n[5:]}-0", "seen_at": now} for sid, n in ids],
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def replica_config(folder: Path, *, poll: Mapping[str, float], timeout: float = 10) -> Path:
    """A config folder for replicas: the repo's topics, no sources or subscriptions in files."""
    cdir = folder / "config"
    cdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "config" / "topics.toml", cdir / "topics.toml")
    (cdir / "sources.toml").write_text("")
    (cdir / "subscriptions.toml").write_text("")
    lines = ["[fetch]", "allow_private_networks = true", f"timeout_seconds = {timeout}", "[poll]"]
    lines += [f"{k} = {v}" for k, v in poll.items()]
    (cdir / "digestbot.toml").write_text("\n".join(lines) + "\n")
    (folder / "inbox").mkdir(exist_ok=True)
    return cdir


@dataclass
class Replica:
    """A running `digestbot serve` child."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def peak_rss_kb(self) -> int:
        """VmHWM of the process (kB), while it runs."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def start_replica(
    cdir: Path,
    database_url: str,
    *,
    name: str,
    timeout: float = 60,
    wait: bool = True,
    env: dict[str, str] | None = None,
) -> Replica:
    """Start `digestbot serve` with ``cdir`` on ``database_url``; returns once /healthz answers
    (``wait=False``: at once; call :func:`wait_healthy`). ``env`` adds or overrides variables."""
    port = free_port()
    environ = {
        **os.environ,
        "DIGESTBOT_CONFIG_DIR": str(cdir),
        "DIGESTBOT_DATABASE_URL": database_url,
        "DIGESTBOT_INBOX": str(cdir.parent / "inbox"),
        "SLACK_BOT_TOKEN": "xoxb-replica",
        "SLACK_SIGNING_SECRET": "replica-secret",
        "SLACK_API_URL": f"http://127.0.0.1:{free_port()}/api/",  # nothing is ever sent
        "HOST": "127.0.0.1",
        "PORT": str(port),
        **(env or {}),
    }
    environ.pop("SLACK_APP_TOKEN", None)
    log = cdir.parent / f"{name}.log"
    exe = Path(sys.executable).with_name("digestbot")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(exe), "serve"], env=environ, cwd=cdir.parent, stdout=out, stderr=subprocess.STDOUT
        )
    replica = Replica(process, f"http://127.0.0.1:{port}", log)
    if wait:
        wait_healthy(replica, timeout)
    return replica


def wait_healthy(replica: Replica, timeout: float = 60) -> None:
    """Wait until the replica's /healthz answers 200 (or fail with the tail of its log)."""
    process, log = replica.process, replica.log
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"digestbot serve exited with {process.returncode}:\n{tail}")
        answer = "no answer"
        try:
            response = httpx.get(replica.url + "/healthz", timeout=2)
            if response.status_code == 200:
                return
            answer = f"{response.status_code} {response.text[:300]}"
        except httpx.HTTPError as exc:
            answer = f"{type(exc).__name__}: {exc}"
        if time.monotonic() > deadline:
            replica.stop()
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(
                f"digestbot serve did not become healthy in {timeout:g} s"
                f" (last /healthz: {answer}):\n{tail}"
            )
        time.sleep(0.2)


@contextmanager
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="digestbot-scale-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@dataclass
class ReplicaRun:
    """What :func:`replica_experiment` saw."""

    feeds: int
    seconds: float  # from the first fetch to the end
    interval: float
    fetches: list[int]  # per feed
    fetched_after_kill: int  # feeds fetched (by the survivor) after the kill
    served: int  # distinct stories served in a 200
    stored_once: int  # of those (served ≥ settle seconds before the end): stored exactly once
    checked: int  # stories checked (served ≥ settle seconds before the end)
    duplicates: int  # stories stored more than once
    not_modified: int  # 304 answers
    peak_rss_kb: list[int]
    missing: list[str] = field(default_factory=list)  # stories checked but not stored once

    @property
    def max_per_interval(self) -> float:
        return max(self.fetches) / (self.seconds / self.interval)

    @property
    def mean_per_interval(self) -> float:
        return sum(self.fetches) / len(self.fetches) / (self.seconds / self.interval)

    def lines(self) -> list[str]:
        per = "minute" if self.interval == 60 else f"{self.interval:g} s interval"
        return [
            f"{self.feeds} feeds, {self.seconds:.0f} s, poll every {self.interval:g} s",
            f"fetches per feed: min {min(self.fetches)}, max {max(self.fetches)}; per {per}: "
            f"max {self.max_per_interval:.2f}, mean {self.mean_per_interval:.2f}",
            f"{sum(self.fetches)} requests, {self.not_modified} answered 304",
            f"fetched after the kill: {self.fetched_after_kill}/{self.feeds} feeds",
            f"stories: {self.served} served, {self.stored_once}/{self.checked} checked stored "
            f"exactly once, {self.duplicates} stored twice or more",
            f"peak RSS per replica: {', '.join(f'{k / 1024:.0f} MB' for k in self.peak_rss_kb)}",
            *self.missing[:5],
        ]


def replica_experiment(
    database_url: str,
    *,
    feeds: int,
    seconds: float,
    interval: float,
    kill_at: float | None,
    poll: dict[str, float],
    replicas: int = 2,
    changing: float = 0.3,
    change_every: float | None = None,
    settle: float = 10.0,
    timeout: float = 10.0,
) -> ReplicaRun:
    """``replicas`` `digestbot serve` processes poll ``feeds`` loopback feeds on one database.

    The first replica is SIGKILLed ``kill_at`` seconds after it started (None: never).
    """
    from datetime import UTC, datetime

    from sqlalchemy import text

    from digests.store import Store

    sim = FeedSim(feeds, changing=changing, change_every=change_every or interval * 1.5)
    with workdir() as folder, sim.running():
        cdir = replica_config(folder, poll=poll, timeout=timeout)
        store = Store.open(database_url)
        now = datetime.now(UTC)
        for i in range(feeds):
            store.sources.add(
                f"feed-{i}", kind="feed", location=sim.url(i), poll_seconds=int(interval), now=now
            )
        running = [
            start_replica(cdir, database_url, name=f"r{k}", wait=False) for k in range(replicas)
        ]
        killed_at = None
        rss: list[int] = []
        try:
            for r in running:
                wait_healthy(r, timeout=120)
            # The clock starts at the first fetch: start-up (imports) is not polling time.
            while not sim.fetches:
                time.sleep(0.05)
            start = sim.fetches[0].at
            while (elapsed := time.monotonic() - start) < seconds:
                if kill_at is not None and killed_at is None and elapsed >= kill_at:
                    rss.append(running[0].peak_rss_kb())
                    running[0].kill()
                    killed_at = time.monotonic()
                time.sleep(0.2)
            end = time.monotonic()
            rss += [r.peak_rss_kb() for r in running if r.process.poll() is None]
        finally:
            for r in running:
                r.stop()
        counts = [0] * feeds
        after: set[int] = set()
        for f in sim.fetches:
            if start <= f.at <= end:
                counts[f.feed] += 1
            if killed_at is not None and f.at > killed_at:
                after.add(f.feed)
        with store.engine.connect() as conn:
            rows = conn.execute(text("SELECT url, count(*) FROM articles GROUP BY url")).all()
        stored = {str(url): int(n) for url, n in rows}
        store.close()
        checked = [key for key, at in sim.served.items() if at <= end - settle]
        missing = []
        for i, k in checked:
            n = stored.get(f"http://{sim.host(i)}:{sim.port}/item/{i}/{k}", 0)
            if n != 1:
                times = ", ".join(
                    f"{f.at - start:.1f}s:{f.status}" for f in sim.fetches if f.feed == i
                )
                kill = f"{killed_at - start:.1f}s" if killed_at else "-"
                missing.append(f"feed {i} story {k} stored {n}x; kill {kill}; fetches {times}")
        once = len(checked) - len(missing)
        return ReplicaRun(
            feeds=feeds,
            seconds=end - start,
            interval=interval,
            fetches=counts,
            fetched_after_kill=len(after) if killed_at is not None else feeds,
            served=len(sim.served),
            stored_once=once,
            checked=len(checked),
            duplicates=sum(1 for n in stored.values() if n > 1),
            not_modified=sum(1 for f in sim.fetches if f.status == 304),
            peak_rss_kb=rss,
            missing=missing,
        )
