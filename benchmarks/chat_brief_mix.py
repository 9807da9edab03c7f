"""`/brief` from Slack and Mattermost at once: one chat service, one bounded pool.

    nice .venv/bin/python -m benchmarks.chat_brief_mix --db /tmp/platform-bench/corpus-2k.db \
        [--users 20] [--seconds 60] [--think 0.5] [--env DIGESTBOT_BRIEF_QUEUE=10000]

Starts ``digestbot serve`` (``benchmarks/_serve.py``) with Slack and Mattermost both set up
against the store; ``--users`` people (even: Slack, odd: Mattermost) each ask ``/brief
<topic>``, wait for the answer (Slack: at ``response_url``; Mattermost: the command's own
answer, or ``response_url`` when the brief took over 2 s), pause ``--think`` seconds and
ask again, for ``--seconds``. Reports per platform: answers, "busy" refusals, latency
p50/p95/p99/max — both platforms draw from the same pool (DIGESTBOT_BRIEF_WORKERS /
_QUEUE), so neither can starve the other of it — and the served bot's
``digestbot_brief_latency_seconds_count`` per platform label.
"""

from __future__ import annotations

import asyncio
import os
import re
import time

import httpx

from benchmarks._serve import (
    SlackStandIn,
    await_answer,
    command_body,
    load_options,
    percentile,
    signed,
    start_serve,
)
from benchmarks.brief import CONFIGURED, FREE_TEXT
from benchmarks.corpus import db_url

TOPICS = [t for pair in zip(CONFIGURED, FREE_TEXT, strict=False) for t in pair]
TOKEN = "bench-mattermost-token"


async def slack_user(n: int, served, slack: SlackStandIn, stop: float, think: float,  # type: ignore[no-untyped-def]
                     out: dict[str, list]) -> None:  # fmt: skip
    async with httpx.AsyncClient(timeout=60) as client:
        k = 0
        while time.perf_counter() < stop:
            name, k = f"s{n}-{k}", k + 1
            body = command_body(TOPICS[(n + k) % len(TOPICS)], slack.response_url(name))
            t0 = time.perf_counter()
            try:
                r = await client.post(served.events, content=body, headers=signed(body))
            except httpx.HTTPError:
                out["errors"].append(name)
                continue
            if "try again shortly" in r.text:
                out["busy"].append(name)
            else:
                await await_answer(slack, name, t0, out)
            await asyncio.sleep(think)


async def mattermost_user(n: int, served, slack: SlackStandIn, stop: float, think: float,  # type: ignore[no-untyped-def]
                          out: dict[str, list]) -> None:  # fmt: skip
    async with httpx.AsyncClient(timeout=120) as client:
        k = 0
        while time.perf_counter() < stop:
            name, k = f"m{n}-{k}", k + 1
            form = {"token": TOKEN, "command": "/brief", "channel_id": "c1",
                    "text": TOPICS[(n + k) % len(TOPICS)], "trigger_id": name,
                    "response_url": slack.response_url(name)}  # fmt: skip
            t0 = time.perf_counter()
            try:
                r = await client.post(f"{served.url}/mattermost/command", data=form)
            except httpx.HTTPError:
                out["errors"].append(name)
                continue
            text = r.json().get("text", "") if r.status_code == 200 else ""
            if "try again shortly" in text:
                out["busy"].append(name)
            elif "Working on a brief" in text:
                await await_answer(slack, name, t0, out)
            elif text:
                out["answers"].append((time.perf_counter() - t0) * 1000)
            else:
                out["errors"].append(name)
            await asyncio.sleep(think)


def main() -> None:
    args = load_options(__doc__.splitlines()[0])
    outs: dict[str, dict[str, list]] = {
        p: {"answers": [], "busy": [], "errors": []} for p in ("slack", "mattermost")
    }
    with SlackStandIn() as slack:
        # The response_url sink doubles as the Mattermost server: its URL is under it.
        os.environ["MATTERMOST_URL"] = f"http://127.0.0.1:{slack.port}"
        os.environ["MATTERMOST_COMMAND_TOKEN"] = TOKEN
        with start_serve(db_url(args.db), slack) as served:
            t0 = time.perf_counter()
            stop = t0 + args.seconds

            async def everyone() -> None:
                await asyncio.gather(*(
                    (slack_user if n % 2 == 0 else mattermost_user)(
                        n, served, slack, stop, args.think,
                        outs["slack" if n % 2 == 0 else "mattermost"],
                    )
                    for n in range(args.users)
                ))  # fmt: skip

            asyncio.run(everyone())
            elapsed = time.perf_counter() - t0
            metrics = httpx.get(f"{served.url}/metrics", timeout=30).text
    print(f"{args.users} users, {args.seconds:.0f} s, env: {' '.join(args.env) or 'defaults'}")
    print(
        "| platform | answers | busy | errors | p50 ms | p95 | p99 | max | answers/s | metric count |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for platform, out in outs.items():
        a = out["answers"]
        found = re.search(
            rf'digestbot_brief_latency_seconds_count{{platform="{platform}"}} ([0-9.]+)', metrics
        )
        print(
            f"| {platform} | {len(a)} | {len(out['busy'])} | {len(out['errors'])} "
            f"| {percentile(a, 50):.0f} | {percentile(a, 95):.0f} | {percentile(a, 99):.0f} "
            f"| {max(a, default=0):.0f} | {len(a) / elapsed:.1f} "
            f"| {found.group(1) if found else 'none'} |"
        )


if __name__ == "__main__":
    main()
