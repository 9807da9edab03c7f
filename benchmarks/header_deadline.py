"""Cost of bot.guard.HeaderDeadline: uvicorn's h11 protocol alone vs wrapped (loopback POSTs).

    .venv/bin/python -m benchmarks.header_deadline [--rounds 3] [--small 400] [--large 40]

A trivial Starlette app reads each body and answers its length. Per round, the same requests
go to a server run with ``http="h11"`` and then to one run with
``http=HeaderDeadline.lasting(10)`` (which follows every request with its own h11 reader);
the mean time per request is printed for 1 KB and 1 MB bodies, one client, keep-alive.
"""

from __future__ import annotations

import argparse
import threading
import time

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bot.guard import HeaderDeadline


async def _length(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(len(await request.body())))


APP = Starlette(routes=[Route("/", _length, methods=["POST"])])


def _run(http: object, counts: dict[int, int]) -> dict[int, float]:
    config = uvicorn.Config(APP, host="127.0.0.1", port=0, http=http, log_level="warning")  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    out = {}
    with httpx.Client() as client:
        for size, n in counts.items():
            body = b"x" * size
            started = time.perf_counter()
            for _ in range(n):
                client.post(f"http://127.0.0.1:{port}/", content=body).raise_for_status()
            out[size] = (time.perf_counter() - started) / n * 1000
    server.should_exit = True
    thread.join(5)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--small", type=int, default=400, help="1 KB requests per round")
    ap.add_argument("--large", type=int, default=40, help="1 MB requests per round")
    args = ap.parse_args()
    counts = {1000: args.small, 1_000_000: args.large}
    for r in range(args.rounds):
        plain = _run("h11", counts)
        wrapped = _run(HeaderDeadline.lasting(10), counts)
        print(
            f"round {r + 1}: h11 {plain[1000]:.2f} ms (1 KB) {plain[1_000_000]:.2f} ms (1 MB) | "
            f"HeaderDeadline {wrapped[1000]:.2f} ms (1 KB) {wrapped[1_000_000]:.2f} ms (1 MB)",
            flush=True,
        )


if __name__ == "__main__":
    main()
