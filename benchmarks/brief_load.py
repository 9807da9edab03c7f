"""`/brief` answers under load: N users each waiting for their answer (closed loop).

    .venv/bin/python -m benchmarks.brief_load --db /tmp/deliver-bench/corpus-10k.db \
        [--users 20] [--seconds 60] [--env DIGESTBOT_BRIEF_QUEUE=10000]

Starts ``digestbot serve`` (``-m benchmarks._serve``) against the store, then ``--users``
simulated people each send a Slack-signed ``/brief <topic>``, wait for the answer at
``response_url`` (or for a "busy, try again shortly" ack), pause ``--think`` seconds and
send the next, for ``--seconds``. Reports answer latency (request sent → answer arrived)
p50/p95/p99/max, answers per second, and how many requests were told "busy" at once.
``--env NAME=VALUE`` passes settings to the served bot (e.g. the pool size:
DIGESTBOT_BRIEF_WORKERS, DIGESTBOT_BRIEF_QUEUE; a huge queue is the old unbounded behaviour).
"""

from __future__ import annotations

import asyncio
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


async def user(
    n: int, events: str, slack: SlackStandIn, stop: float, think: float, out: dict[str, list]
) -> None:
    """One person: ask, wait for the answer (or the busy ack), think, ask again."""
    async with httpx.AsyncClient(timeout=30) as client:
        k = 0
        while time.perf_counter() < stop:
            name = f"u{n}-{k}"
            k += 1
            body = command_body(TOPICS[(n + k) % len(TOPICS)], slack.response_url(name))
            t0 = time.perf_counter()
            try:
                r = await client.post(events, content=body, headers=signed(body))
            except httpx.HTTPError:
                out["errors"].append(name)
                continue
            out["acks"].append((time.perf_counter() - t0) * 1000)
            if "try again shortly" in r.text:
                out["busy"].append(name)
                await asyncio.sleep(think)
                continue
            await await_answer(slack, name, t0, out)
            await asyncio.sleep(think)


def main() -> None:
    args = load_options(__doc__.splitlines()[0])
    out: dict[str, list] = {"acks": [], "answers": [], "busy": [], "errors": []}
    with SlackStandIn() as slack, start_serve(db_url(args.db), slack) as served:
        warm = time.perf_counter() + 5
        asyncio.run(user(0, served.events, slack, warm, 0.0, {k: [] for k in out}))
        t0 = time.perf_counter()
        stop = t0 + args.seconds

        async def everyone() -> None:
            await asyncio.gather(
                *(user(n, served.events, slack, stop, args.think, out) for n in range(args.users))
            )

        asyncio.run(everyone())
        elapsed = time.perf_counter() - t0
    a = out["answers"]
    print(
        "| users | env | answers | busy | errors | answer p50 ms | p95 | p99 | max | answers/s | ack p99 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {args.users} | {' '.join(args.env) or 'defaults'} | {len(a)} | {len(out['busy'])} "
        f"| {len(out['errors'])} | {percentile(a, 50):.0f} | {percentile(a, 95):.0f} "
        f"| {percentile(a, 99):.0f} | {max(a, default=0):.0f} | {len(a) / elapsed:.1f} "
        f"| {percentile(out['acks'], 99):.0f} |"
    )


if __name__ == "__main__":
    main()
