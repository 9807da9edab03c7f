"""Issue 25's first hour, timed with real processes: a `digestbot serve` on a fresh SQLite
database with the five seeds in its inbox, and the Slack stand-in.

    .venv/bin/python -m benchmarks.first_hour [--drops 10] [--replica-tries 5] \
        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]

Prints: seconds from launch to the first `/healthz` 200; the latency of a signed
`/brief taiwan` sent at that instant (ack, then the answer on its response_url) and whether it
cites stored articles; for ``--drops`` files dropped into the inbox one at a time, the
seconds until each is stored (``/healthz`` article count); and, with ``--pg``, how many of
``--replica-tries`` starts of two replicas at once (40 config subscriptions) came up.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

import httpx

from testkit.feedsim import replica_config, start_replica, wait_healthy, workdir
from testkit.pgscratch import scratch_database
from testkit.slack_requests import SECRET, command_body, signed_headers
from testkit.slack_stub import SlackStub

ROOT = Path(__file__).resolve().parents[1]


def _articles(url: str) -> int:
    return int(httpx.get(url + "/healthz", timeout=5).json()["articles"])


def first_hour(drops: int) -> None:
    stub = SlackStub().start()
    try:
        with workdir() as folder:
            cdir = folder / "config"
            shutil.copytree(ROOT / "config", cdir)
            shutil.copytree(ROOT / "seeds", folder / "seeds")
            (folder / "data").mkdir()
            launched = time.monotonic()
            replica = start_replica(
                cdir, f"sqlite:///{folder / 'data' / 'bench.db'}", name="serve", wait=False,
                env={"DIGESTBOT_INBOX": str(folder / "seeds"), "SLACK_API_URL": stub.api_url,
                     "SLACK_SIGNING_SECRET": SECRET, "SLACK_BOT_TOKEN": "xoxb-test"},
            )  # fmt: skip
            try:
                while True:
                    try:
                        if httpx.get(replica.url + "/healthz", timeout=2).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    time.sleep(0.02)
                healthy = time.monotonic() - launched
                body = command_body("taiwan", response_url=stub.response_url("b"))
                sent = time.monotonic()
                ack = httpx.post(replica.url + "/slack/events", content=body,
                                 headers=signed_headers(body), timeout=10)  # fmt: skip
                acked = time.monotonic() - sent
                [answer] = stub.wait_for("response:b", timeout=60)
                answered = time.monotonic() - sent
                text = json.dumps(answer.params)
                cites = "Nothing stored" not in text and "Taiwan" in text
                print(f"launch -> /healthz 200: {healthy:.2f} s")
                print(f"/brief taiwan at that instant: ack {ack.status_code} in {acked:.2f} s, "
                      f"answer in {answered:.2f} s, cites stored articles: {cites}")  # fmt: skip
                time.sleep(3)  # the watcher's start-up rescan is over
                waits = []
                for i in range(drops):
                    before = _articles(replica.url)
                    dropped = time.monotonic()
                    (folder / "seeds" / f"drop_{i}.json").write_text(json.dumps({
                        "title": f"Harbour pilots strike for the {i}th night in Rotterdam",
                        "text": f"Harbour pilots in Rotterdam stopped work for night {i} in a "
                                "row over shifts. Dozens of ships waited outside the port. "
                                "The port authority said talks would resume on Friday.",
                    }))  # fmt: skip
                    while _articles(replica.url) <= before:
                        if time.monotonic() - dropped > 150:
                            raise SystemExit(f"drop {i} not stored within 150 s")
                        time.sleep(0.05)
                    waits.append(time.monotonic() - dropped)
                if waits:
                    print(f"file dropped -> stored ({len(waits)} drops): median "
                          f"{statistics.median(waits):.2f} s, max {max(waits):.2f} s")  # fmt: skip
            finally:
                replica.stop()
    finally:
        stub.stop()


def replicas_together(pg: str, tries: int) -> None:
    subs = "".join(
        f'[[subscription]]\nname = "sub-{i}"\nplatform = "slack"\nchannel = "C{i:08d}"\n'
        'cron = "0 8 * * *"\n\n'
        for i in range(40)
    )
    up = 0
    for attempt in range(tries):
        with workdir() as folder, scratch_database(pg, "digestbot_first") as url:
            from digests.store import Store

            Store.open(url).close()
            cdir = replica_config(folder, poll={"tick_seconds": 2})
            (cdir / "subscriptions.toml").write_text(subs)
            pair = [start_replica(cdir, url, name=f"r{attempt}{i}", wait=False) for i in (0, 1)]
            try:
                for r in pair:
                    wait_healthy(r, timeout=90)
                up += 1
            except RuntimeError as exc:
                print(f"try {attempt + 1}: {str(exc).splitlines()[0]}")
            finally:
                for r in pair:
                    r.stop()
    print(f"two replicas started at once, 40 config subscriptions: {up}/{tries} came up")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--drops", type=int, default=10)
    ap.add_argument("--replica-tries", type=int, default=5)
    ap.add_argument("--pg", default=None)
    args = ap.parse_args()
    first_hour(args.drops)
    if args.pg:
        replicas_together(args.pg, args.replica_tries)


if __name__ == "__main__":
    main()
