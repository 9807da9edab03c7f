"""The server's guards: body limit (413, nothing more read), body deadline (408), Slack
signature before parsing.

The middleware is driven as uvicorn drives it (ASGI messages), so the tests can count exactly
how much of a body was pulled from the server. Over real sockets: tests/hostile/.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.guard import BodyLimit, fresh_timestamp
from bot.platforms.slack.guard import slack_signature_ok
from bot.server import create_server_app
from bot.settings import load_bot_settings
from digests.errors import ConfigError
from digests.store import Store

LIMIT = 1000


def _app(seen: list[int], *, timeout: float = 10.0) -> BodyLimit:
    async def echo(request: Request) -> JSONResponse:
        body = await request.body()
        seen.append(len(body))
        return JSONResponse({"got": len(body)})

    routes = [Route("/x", echo, methods=["POST"])]
    return BodyLimit(Starlette(routes=routes), max_bytes=LIMIT, timeout=timeout)


def _drive(
    app: BodyLimit,
    chunks: list[bytes],
    *,
    length: int | None,
    pause: float = 0.0,
    complete: bool = True,
) -> tuple[int, dict, int]:
    """Send one POST as ASGI messages, ``pause`` seconds apart; return (status, JSON answer,
    chunks pulled). Then the client sends nothing more; ``complete=False``: without even
    saying that the body is complete."""
    pulled = 0
    sent: list[dict] = []
    headers = [] if length is None else [(b"content-length", str(length).encode())]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/x", "raw_path": b"/x", "query_string": b"", "root_path": "",
        "headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2),
    }  # fmt: skip

    async def receive() -> dict:
        nonlocal pulled
        if pulled < len(chunks):
            if pulled:
                await asyncio.sleep(pause)
            pulled += 1
            return {
                "type": "http.request",
                "body": chunks[pulled - 1],
                "more_body": pulled < len(chunks) or not complete,
            }
        await asyncio.sleep(3600)  # a client that sends nothing more
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(asyncio.wait_for(app(scope, receive, send), 10))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body), pulled


def test_a_body_within_the_limit_reaches_the_app_whole() -> None:
    seen: list[int] = []
    status, answer, _ = _drive(_app(seen), [b"a" * 600, b"b" * 400], length=None)
    assert (status, answer, seen) == (200, {"got": LIMIT}, [LIMIT])


def test_a_declared_length_over_the_limit_is_refused_without_reading() -> None:
    seen: list[int] = []
    status, answer, pulled = _drive(_app(seen), [b"x" * 100] * 5, length=200 * 1024 * 1024)
    assert status == 413 and "limit 1000 bytes" in answer["error"]
    assert pulled == 0 and seen == []


def test_a_streamed_body_is_cut_off_as_soon_as_it_passes_the_limit() -> None:
    seen: list[int] = []
    chunks = [b"x" * 300] * 1000  # 300 KB, no Content-Length (chunked)
    status, _, pulled = _drive(_app(seen), chunks, length=None)
    assert status == 413 and pulled == 4 and seen == []  # 4 x 300 > 1000: nothing more read


def test_a_lying_content_length_does_not_get_past_the_count() -> None:
    seen: list[int] = []
    status, _, pulled = _drive(_app(seen), [b"x" * 800] * 10, length=10)
    assert status == 413 and pulled == 2 and seen == []


def test_a_body_that_never_comes_is_408_at_the_deadline() -> None:
    seen: list[int] = []
    started = time.monotonic()
    status, answer, pulled = _drive(_app(seen, timeout=0.3), [b"{"], length=100, complete=False)
    assert status == 408 and "within 0.3 s" in answer["error"]
    assert 0.3 <= time.monotonic() - started < 5 and pulled == 1 and seen == []


def test_a_trickled_body_gets_one_deadline_not_one_per_chunk() -> None:
    seen: list[int] = []
    started = time.monotonic()
    trickle = [b"x"] * 100  # one byte every 0.05 s: 5 s in all, each gap well inside 0.3 s
    status, _, pulled = _drive(_app(seen, timeout=0.3), trickle, length=100, pause=0.05)
    assert status == 408 and seen == []
    assert pulled < 20 and time.monotonic() - started < 5


def test_a_body_sent_in_time_is_not_hurried() -> None:
    seen: list[int] = []
    status, answer, _ = _drive(_app(seen, timeout=2), [b"x"] * 10, length=10, pause=0.01)
    assert (status, answer, seen) == (200, {"got": 10}, [10])


def test_the_server_app_limits_every_route(store: Store) -> None:
    app = create_server_app(store, max_body_bytes=LIMIT)

    async def scenario() -> tuple[int, int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bot") as client:
            big = await client.request("GET", "/healthz", content=b"x" * (LIMIT + 1))
            small = await client.get("/healthz")
            return big.status_code, small.status_code

    assert asyncio.run(scenario()) == (413, 200)


def test_the_limit_is_configurable_and_checked() -> None:
    env = {"DISCORD_PUBLIC_KEY": "ab" * 32, "DISCORD_APPLICATION_ID": "1"}
    assert load_bot_settings(env).max_request_bytes == 1024 * 1024
    assert (
        load_bot_settings({**env, "DIGESTBOT_MAX_REQUEST_BYTES": "65536"}).max_request_bytes
        == 65536
    )
    for bad in ("lots", "-1", "12", str(1 << 40)):
        with pytest.raises(ConfigError, match="DIGESTBOT_MAX_REQUEST_BYTES"):
            load_bot_settings({**env, "DIGESTBOT_MAX_REQUEST_BYTES": bad})


def test_the_body_deadline_is_configurable_and_checked() -> None:
    env = {"DISCORD_PUBLIC_KEY": "ab" * 32, "DISCORD_APPLICATION_ID": "1"}
    assert load_bot_settings(env).request_timeout == 10
    timeout = load_bot_settings({**env, "DIGESTBOT_REQUEST_TIMEOUT": "2.5"})
    assert timeout.request_timeout == 2.5
    for bad in ("soon", "0", "-1", "301"):
        with pytest.raises(ConfigError, match="DIGESTBOT_REQUEST_TIMEOUT"):
            load_bot_settings({**env, "DIGESTBOT_REQUEST_TIMEOUT": bad})


def _slack_headers(body: bytes, timestamp: str, secret: str = "s") -> dict[str, str]:
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return {"x-slack-request-timestamp": timestamp, "x-slack-signature": "v0=" + digest.hexdigest()}


def test_slack_signatures_are_checked_on_raw_bytes_with_a_fresh_numeric_timestamp() -> None:
    now = time.time()
    fresh = str(int(now))
    body = "taïwan — ünïcode".encode()  # checked as sent, byte for byte
    assert slack_signature_ok("s", _slack_headers(body, fresh), body, now=now)
    assert not slack_signature_ok("s", _slack_headers(b"\xff", fresh), b"\xff", now=now)
    assert not slack_signature_ok("s", {**_slack_headers(body, fresh), "x-slack-signature": "v0=é"},
                                  body, now=now)  # fmt: skip
    assert not slack_signature_ok("s", _slack_headers(body, fresh, "t"), body, now=now)
    assert not slack_signature_ok("s", _slack_headers(body, fresh), body + b"!", now=now)
    for stamp in (str(int(now) - 301), "abc", "", "1e9", " 1", "-1", "9" * 40):
        assert not slack_signature_ok("s", _slack_headers(body, stamp), body, now=now), stamp
    assert not slack_signature_ok("s", {}, body, now=now)
    assert fresh_timestamp(str(int(now) + 299), now=now)
