"""Shared by the serve benchmarks: run `digestbot serve` on loopback and drive it.

* :class:`SlackStandIn` — a tiny Slack Web API on 127.0.0.1 (aiohttp, own thread): answers
  ``auth.test`` and any other method with ``ok``, and records when each ``response_url``
  answer arrives, so a benchmark sees both the ack and the answer of a ``/brief``.
* :func:`start_serve` — starts ``digestbot serve`` as a child process on a free loopback
  port against a given store, with a throwaway config folder (the repo's topics, no
  sources to poll, no subscriptions), and waits for ``/healthz``.
* :func:`bench_config` — a throwaway config folder (the repo's ``digestbot.toml`` and
  ``topics.toml``) and an empty inbox; :func:`slack_env` — the variables of a bot whose
  Slack is a stand-in.
* :func:`load_options` — the options of a benchmark of people asking at once (``--db``,
  ``--users``, ``--seconds``, ``--think``, ``--env``); :func:`await_answer` — one person
  waiting for the answer at their ``response_url``.
* :func:`drive` — sends Slack-signed ``/brief`` slash commands with bounded concurrency,
  count and time, and returns ack and answer latencies.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httpx
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from testkit.processes import free_port, start_server

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-signing-secret"


class SlackStandIn:
    """Fake Slack Web API + response_url receiver on 127.0.0.1 (port chosen by the OS)."""

    def __init__(self) -> None:
        self.answers: dict[str, float] = {}  # response id -> perf_counter() on arrival
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/response/{name}"

    def __enter__(self) -> SlackStandIn:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *_: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def api(request: web.Request) -> web.Response:
            method = request.match_info["method"]
            body: dict[str, bool | str] = {"ok": True}
            if method == "auth.test":
                body |= {"user_id": "UBOT", "team_id": "T1", "bot_id": "B1", "user": "digestbot"}
            return web.json_response(body)

        async def respond(request: web.Request) -> web.Response:
            self.answers[request.match_info["name"]] = time.perf_counter()
            await request.read()
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_post("/api/{method}", api)
        app.router.add_post("/response/{name}", respond)
        runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self._loop.run_forever()


@dataclass
class Served:
    """A running `digestbot serve` child."""

    process: subprocess.Popen
    url: str  # http://127.0.0.1:PORT

    @property
    def events(self) -> str:
        return self.url + "/slack/events"


def bench_config(folder: Path) -> Path:
    """``folder/config`` with the repository's ``digestbot.toml`` and ``topics.toml``, and an
    empty ``folder/inbox``; returns the config folder."""
    (folder / "config").mkdir()
    for name in ("digestbot.toml", "topics.toml"):
        shutil.copy(ROOT / "config" / name, folder / "config" / name)
    (folder / "inbox").mkdir()
    return folder / "config"


def slack_env(database_url: str, folder: Path, api_url: str, *, token: str) -> dict[str, str]:
    """A bot on ``database_url`` and ``folder/inbox`` whose Slack Web API is ``api_url`` and bot
    token ``token``, in HTTP mode (no ``SLACK_APP_TOKEN``: no Socket Mode)."""
    return {
        "DIGESTBOT_DATABASE_URL": database_url,
        "DIGESTBOT_INBOX": str(folder / "inbox"),
        "SLACK_BOT_TOKEN": token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": api_url,
    }


@contextlib.contextmanager
def start_serve(
    database_url: str, slack: SlackStandIn, *, exe: Path | None = None, timeout: float = 120
) -> Iterator[Served]:
    """Run `digestbot serve` (``exe``, default: next to this Python) until the block ends
    (testkit's :func:`~testkit.processes.start_server`: no platform variable of this shell
    reaches it, it is stopped with its process group)."""
    config = Path(tempfile.mkdtemp(prefix="digestbot-bench-"))
    try:
        port = free_port()
        env = {
            "DIGESTBOT_CONFIG_DIR": str(bench_config(config)),
            **slack_env(database_url, config, slack.api_url, token="xoxb-bench"),
            "HOST": "127.0.0.1",
            "PORT": str(port),
        }
        argv = [str(exe or Path(sys.executable).with_name("digestbot")), "serve"]
        with start_server(argv, port=port, env=env, cwd=config, timeout=timeout) as server:
            yield Served(server.proc, f"http://127.0.0.1:{port}")
    finally:
        shutil.rmtree(config, ignore_errors=True)


def signed(body: str, secret: str = SECRET) -> dict[str, str]:
    """Slack's v0 request-signing headers for ``body``."""
    ts = str(int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None  # None only without a timestamp
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


def command_body(text: str, response_url: str) -> str:
    """The form body Slack posts for ``/brief <text>``."""
    return urlencode(
        {
            "token": "legacy",
            "team_id": "T1",
            "team_domain": "bench",
            "channel_id": "C1",
            "channel_name": "news",
            "user_id": "U1",
            "user_name": "bench",
            "command": "/brief",
            "text": text,
            "api_app_id": "A1",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": "1.2.3",
        }
    )


@dataclass
class Load:
    """What :func:`drive` measured."""

    acks_ms: list[float] = field(default_factory=list)
    answers_ms: list[float] = field(default_factory=list)
    errors: int = 0
    sent: int = 0
    seconds: float = 0.0  # sending phase, first request to last ack
    drain_seconds: float = 0.0  # first request to last answer


def drive(
    events_url: str,
    slack: SlackStandIn,
    topics: Sequence[str],
    *,
    requests: int,
    concurrency: int,
    max_seconds: float,
    drain: float,
    secret: str = SECRET,
) -> Load:
    """Send up to ``requests`` signed /brief commands (``concurrency`` in flight, at most
    ``max_seconds``), then wait up to ``drain`` s for their response_url answers."""
    load = Load()
    started: dict[str, float] = {}

    async def worker(client: httpx.AsyncClient, queue: asyncio.Queue[int], stop: float) -> None:
        while not queue.empty() and time.perf_counter() < stop:
            n = queue.get_nowait()
            name = f"r{n}"
            body = command_body(topics[n % len(topics)], slack.response_url(name))
            headers = signed(body, secret)
            t0 = time.perf_counter()
            started[name] = t0
            try:
                r = await client.post(events_url, content=body, headers=headers)
                if r.status_code != 200:
                    load.errors += 1
            except httpx.HTTPError:
                load.errors += 1
                continue
            load.acks_ms.append((time.perf_counter() - t0) * 1000)
            load.sent += 1

    async def main() -> None:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(requests):
            queue.put_nowait(n)
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:
            t0 = time.perf_counter()
            stop = t0 + max_seconds
            await asyncio.gather(*(worker(client, queue, stop) for _ in range(concurrency)))
            load.seconds = time.perf_counter() - t0
            deadline = time.perf_counter() + drain
            while time.perf_counter() < deadline and not set(started) <= set(slack.answers):
                await asyncio.sleep(0.05)
            done = [slack.answers[k] for k in started if k in slack.answers]
            load.drain_seconds = (max(done) - t0) if done else 0.0

    asyncio.run(main())
    load.answers_ms = [
        (slack.answers[k] - t) * 1000 for k, t in started.items() if k in slack.answers
    ]
    return load


def load_options(description: str) -> argparse.Namespace:
    """``--db`` (the store served), ``--users``, ``--seconds``, ``--think`` (a user's pause
    between requests) and ``--env NAME=VALUE`` (set here, so the served bot inherits them)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--db", required=True, help="store to serve (SQLite path or URL)")
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--think", type=float, default=0.5, help="pause between a user's requests")
    ap.add_argument("--env", action="append", default=[], help="NAME=VALUE for the served bot")
    args = ap.parse_args()
    for pair in args.env:
        name, _, value = pair.partition("=")
        os.environ[name] = value  # start_serve passes os.environ on
    return args


async def await_answer(
    slack: SlackStandIn, name: str, t0: float, out: dict[str, list], *, timeout: float = 120
) -> None:
    """Wait for the answer to request ``name`` (sent at ``t0``): its latency in ms goes to
    ``out["answers"]``, or ``name`` to ``out["errors"]`` if none came within ``timeout``."""
    while name not in slack.answers and time.perf_counter() < t0 + timeout:
        await asyncio.sleep(0.02)
    if name in slack.answers:
        out["answers"].append((slack.answers[name] - t0) * 1000)
    else:
        out["errors"].append(name)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]
