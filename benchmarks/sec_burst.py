"""Issues 24/25: a burst of `/brief` from one team, and one `/brief` from another team.

    .venv/bin/python -m benchmarks.sec_burst --db /tmp/sec-bench/corpus-2k.db \
        [--burst 60] [--rounds 5] [--together 100] [--exe PATH]

Starts ``digestbot serve`` (``benchmarks/_serve.py``) on the store. Each round, team TA
sends ``--burst`` Slack-signed ``/brief <topic>`` at once and, 50 ms later while those are in
flight, team TB sends one; every request waits for its answer at ``response_url`` or its
"busy" ack. Then ``--together`` requests from one team at once (the issue-25 case: 100 at
once made 80 "busy" with a fixed-count pool). Reports, per scenario: answered, busy,
answer latency p50/p95/max (request sent → answer arrived), ack latency p50/p95/max (request
sent → its HTTP response, answered or "busy": Slack wants it within 3 s), and for TB each
round's outcome.

``--exe`` runs another build (a wrapper with main's checkout first on ``PYTHONPATH``) for
the before/after comparison. Give each build its own copy of the store (migrations).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import httpx

from benchmarks._serve import SlackStandIn, command_body, percentile, signed, start_serve
from benchmarks.corpus import db_url

ERRORS: dict[str, int] = {}  # what "errors" were, by kind
TOPICS = ["taiwan", "trade", "china", "economy", "russia", "ukraine", "iran", "japan"]


ACKS: dict[str, list[float]] = {}  # scenario -> each request's ack latency, ms


async def ask(
    client: httpx.AsyncClient, events: str, slack: SlackStandIn, name: str, team: str, topic: str
) -> tuple[str, float]:
    """One `/brief`: ("busy", ack ms), ("answer", ms to the answer) or ("error", ms). Every
    ack's latency (answered or busy) also goes to ``ACKS`` under the name's scenario letter."""
    body = command_body(topic, slack.response_url(name)).replace("team_id=T1", f"team_id={team}")
    t0 = time.perf_counter()
    try:
        r = await client.post(events, content=body, headers=signed(body))
    except httpx.HTTPError as exc:
        ERRORS[type(exc).__name__] = ERRORS.get(type(exc).__name__, 0) + 1
        return "error", (time.perf_counter() - t0) * 1000
    acked = (time.perf_counter() - t0) * 1000
    ACKS.setdefault(name[0], []).append(acked)
    if "try again shortly" in r.text:
        return "busy", acked
    while name not in slack.answers and time.perf_counter() < t0 + 120:
        await asyncio.sleep(0.01)
    if name not in slack.answers:
        ERRORS[f"no answer ({r.status_code})"] = ERRORS.get(f"no answer ({r.status_code})", 0) + 1
        return "error", (time.perf_counter() - t0) * 1000
    return "answer", (slack.answers[name] - t0) * 1000


def _row(label: str, results: list[tuple[str, float]], acks: list[float]) -> str:
    answers = [ms for kind, ms in results if kind == "answer"]
    busy = sum(kind == "busy" for kind, _ in results)
    errors = sum(kind == "error" for kind, _ in results)
    return (
        f"| {label} | {len(results)} | {len(answers)} | {busy} | {errors} "
        f"| {percentile(answers, 50):.0f} | {percentile(answers, 95):.0f} "
        f"| {max(answers, default=0):.0f} "
        f"| {percentile(acks, 50):.0f} | {percentile(acks, 95):.0f} | {max(acks, default=0):.0f} |"
    )


async def scenario(events: str, slack: SlackStandIn, args: argparse.Namespace) -> list[str]:
    limits = httpx.Limits(max_connections=300, max_keepalive_connections=300)
    rows: list[str] = []
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        await ask(client, events, slack, "warm", "T0", "taiwan")
        burst: list[tuple[str, float]] = []
        other: list[tuple[str, float]] = []
        for r in range(args.rounds):
            flood = [
                asyncio.create_task(
                    ask(client, events, slack, f"a{r}-{i}", "TA", TOPICS[i % len(TOPICS)])
                )
                for i in range(args.burst)
            ]
            await asyncio.sleep(0.05)
            other.append(await ask(client, events, slack, f"b{r}", "TB", "trade"))
            burst.extend(await asyncio.gather(*flood))
            await asyncio.sleep(1.0)
        together = await asyncio.gather(
            *(
                ask(client, events, slack, f"t{i}", "TC", TOPICS[i % len(TOPICS)])
                for i in range(args.together)
            )
        )
    rows.append(_row(f"TA burst of {args.burst} ×{args.rounds}", burst, ACKS.get("a", [])))
    rows.append(_row(f"TB one each round ×{args.rounds}", other, ACKS.get("b", [])))
    rows.append(_row(f"{args.together} at once, one team", list(together), ACKS.get("t", [])))
    rows.append("TB per round: " + ", ".join(f"{k} {ms:.0f} ms" for k, ms in other))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True, help="store to serve (SQLite path or URL)")
    ap.add_argument("--burst", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--together", type=int, default=100)
    ap.add_argument("--exe", type=Path, default=None)
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    with SlackStandIn() as slack, start_serve(db_url(args.db), slack, exe=args.exe) as served:
        rows = asyncio.run(scenario(served.events, slack, args))
    print(f"build: {args.label or args.exe or 'this checkout'}")
    print(
        "| scenario | requests | answered | busy | errors | answer p50 ms | p95 | max "
        "| ack p50 ms | p95 | max |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    if ERRORS:
        print("errors: " + ", ".join(f"{k} ×{v}" for k, v in sorted(ERRORS.items())))


if __name__ == "__main__":
    main()
