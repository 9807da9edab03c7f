"""Issue 24's install flood: one client fetches ``GET /slack/install`` as fast as it can.

    .venv/bin/python -m benchmarks.sec_install_flood [--seconds 15] [--clients 8] \
        [--seed-rows 1000000] [--exe PATH]

Starts ``digestbot serve`` in OAuth mode (``SLACK_CLIENT_ID``/``SECRET``; a fresh SQLite
store in a temporary folder) and, optionally, first fills ``slack_oauth_states`` with
``--seed-rows`` expired rows — what an earlier flood leaves behind when rows are never
deleted. Then ``--clients`` connections from 127.0.0.1 fetch the install page for
``--seconds``, while a probe measures, every 0.25 s, ``GET /healthz`` and a forged OAuth
callback (a state that was never issued, with a matching cookie so the state store is
asked). Reports install answers by status, state rows written per second, rows left in the
table, and probe latencies p50/p95/max.

``--exe`` runs another build (e.g. a wrapper that puts main's checkout first on
``PYTHONPATH``) for the before/after comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from benchmarks._serve import bench_config, percentile
from testkit.processes import free_port


@contextlib.contextmanager
def oauth_serve(exe: Path, folder: Path) -> Iterator[str]:
    """`digestbot serve` in OAuth mode on a free loopback port; yields its base URL."""
    config = bench_config(folder)
    port = free_port()
    env = {
        **os.environ,
        "DIGESTBOT_CONFIG_DIR": str(config),
        "DIGESTBOT_DATA_DIR": str(folder / "data"),
        "DIGESTBOT_INBOX": str(folder / "inbox"),
        "SLACK_CLIENT_ID": "1.2",
        "SLACK_CLIENT_SECRET": "bench-client-secret",
        "SLACK_SIGNING_SECRET": "bench-signing-secret",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "HOST": "127.0.0.1",
        "PORT": str(port),
    }
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"):
        env.pop(name, None)
    log = (folder / "serve.log").open("wb")
    process = subprocess.Popen(
        [str(exe), "serve"], env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            raise SystemExit((folder / "serve.log").read_text(errors="replace")[-2000:])
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                break
        if time.monotonic() > deadline:
            process.kill()
            raise SystemExit("serve did not become healthy")
        time.sleep(0.2)
    try:
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def seed(db: Path, rows: int) -> float:
    """Insert ``rows`` expired OAuth states (in batches); seconds taken."""
    started = time.perf_counter()
    old = (datetime.utcnow() - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
    conn = sqlite3.connect(db, timeout=60)
    batch = 50_000
    for start in range(0, rows, batch):
        conn.executemany(
            "INSERT INTO slack_oauth_states (state, expire_at) VALUES (?, ?)",
            (
                (f"seed-{i:09d}-0000-0000-000000000000", old)
                for i in range(start, min(rows, start + batch))
            ),
        )
        conn.commit()
    conn.close()
    return time.perf_counter() - started


def count(db: Path) -> int:
    conn = sqlite3.connect(db, timeout=60)
    try:
        return int(conn.execute("SELECT count(*) FROM slack_oauth_states").fetchone()[0])
    finally:
        conn.close()


async def flood(url: str, seconds: float, clients: int) -> dict[str, object]:
    stop = time.perf_counter() + seconds
    statuses: Counter[int] = Counter()
    health: list[float] = []
    forged: list[float] = []

    async def installer() -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            while time.perf_counter() < stop:
                try:
                    r = await client.get(url + "/slack/install")
                    statuses[r.status_code] += 1
                except httpx.HTTPError:
                    statuses[0] += 1

    async def probe() -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                await client.get(url + "/healthz")
                health.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                await client.get(
                    url + "/slack/oauth_redirect",
                    params={"code": "c", "state": "forged-state"},
                    headers={"Cookie": "slack-app-oauth-state=forged-state"},
                )
                forged.append((time.perf_counter() - t0) * 1000)
                await asyncio.sleep(0.25)

    await asyncio.gather(*(installer() for _ in range(clients)), probe())
    return {"statuses": statuses, "health": health, "forged": forged}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seed-rows", type=int, default=0)
    ap.add_argument("--exe", type=Path, default=Path(sys.executable).with_name("digestbot"))
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="digestbot-flood-"))
    try:
        with oauth_serve(args.exe, folder) as url:
            db = folder / "data" / "digestbot.db"
            seeded = seed(db, args.seed_rows) if args.seed_rows else 0.0
            before = count(db)
            result = asyncio.run(flood(url, args.seconds, args.clients))
            after = count(db)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    statuses: Counter[int] = result["statuses"]  # type: ignore[assignment]
    health: list[float] = result["health"]  # type: ignore[assignment]
    forged: list[float] = result["forged"]  # type: ignore[assignment]
    total = sum(statuses.values())
    print(f"seeded {args.seed_rows} expired rows in {seeded:.1f} s; rows before flood: {before}")
    print("| build | installs/s asked | 200 | 429 | other | rows written/s | rows after "
          "| /healthz p50/p95/max ms | forged callback p50/p95/max ms |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    other = total - statuses[200] - statuses[429]
    print(
        f"| {args.label or args.exe} | {total / args.seconds:.0f} | {statuses[200]} "
        f"| {statuses[429]} | {other} | {max(0, after - before) / args.seconds:.0f} | {after} "
        f"| {percentile(health, 50):.0f}/{percentile(health, 95):.0f}/{max(health, default=0):.0f} "
        f"| {percentile(forged, 50):.0f}/{percentile(forged, 95):.0f}/{max(forged, default=0):.0f} |"
    )


if __name__ == "__main__":
    main()
