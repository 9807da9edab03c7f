"""What the HTTP server refuses before any platform code runs (issue #12).

* :class:`BodyLimit` (ASGI middleware, every endpoint): a request body over the limit is
  answered 413 without being read — at once when ``Content-Length`` says so, else as soon as
  the streamed (chunked) body passes the limit — so an unsigned 200 MB POST costs nothing.
  The whole body must also arrive within a deadline (one total, not per chunk): a client that
  sends the headers and then trickles the body, or never sends it, is answered 408 and its
  connection closed, instead of holding it (and the request's task) open for ever.
* :class:`HeaderDeadline` (wrapping uvicorn's h11 protocol): before any of that, a request's
  headers must arrive within the same deadline, counted from the connection (or, kept alive,
  from the next request's first byte); a connection that sends nothing, or trickles headers,
  is closed. uvicorn has neither deadline (its keep-alive timer stops at the first byte).
* :func:`fresh_timestamp`: a signed request's timestamp is unix seconds within
  :data:`MAX_CLOCK_SKEW` of now (Slack's and Discord's signature checks,
  ``bot/platforms/<name>/``, use it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

import h11
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import HTTP_PROTOCOLS
from uvicorn.importer import import_from_string

from bot.settings import MAX_REQUEST_BYTES_DEFAULT, REQUEST_TIMEOUT_DEFAULT

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = MAX_REQUEST_BYTES_DEFAULT  # 1 MiB; DIGESTBOT_MAX_REQUEST_BYTES
DEFAULT_BODY_TIMEOUT = REQUEST_TIMEOUT_DEFAULT  # seconds; DIGESTBOT_REQUEST_TIMEOUT
# Slack: "reject when the timestamp is more than five minutes from local time"
# (docs.slack.dev "Verifying requests from Slack"); the same window is used for Discord.
MAX_CLOCK_SKEW = 300
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # unix seconds; anything else is not a timestamp


class BodyLimit:
    """ASGI middleware: request bodies larger than ``max_bytes`` are refused with 413, bodies
    not complete within ``timeout`` seconds with 408.

    The body is read here (at most ``max_bytes``, for at most ``timeout``) and replayed to the
    app, so nothing behind this middleware can read more than the limit, or wait longer.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int = DEFAULT_MAX_BODY_BYTES,
        timeout: float = DEFAULT_BODY_TIMEOUT,
    ) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        lengths = [v for k, v in scope["headers"] if k == b"content-length"]
        if lengths:  # uvicorn (h11) already refuses a malformed one; other servers may not
            if not lengths[0].isdigit():
                await _answer(send, 400, {"error": "malformed Content-Length"})
                return
            declared = int(lengths[0])
            if declared > self.max_bytes:
                await self._too_large(scope, send, f"Content-Length {declared}")
                return
        chunks: list[bytes] = []
        size = 0
        try:
            # One deadline for the whole body: a trickle of one byte a second must not renew it.
            # Only the reading is timed; answers are sent outside it (never two answers).
            async with asyncio.timeout(self.timeout):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return  # the client went away: nobody to answer
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.max_bytes:
                        break
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            await self._too_slow(scope, send, size)
            return
        if size > self.max_bytes:
            await self._too_large(scope, send, f"more than {self.max_bytes} bytes streamed")
            return
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _too_slow(self, scope: Scope, send: Send, size: int) -> None:
        log.warning(
            "refused %s %s: request body not complete after %g s (%d bytes received)",
            scope.get("method"),
            scope.get("path"),
            self.timeout,
            size,
        )
        await _answer(send, 408, {"error": f"request body not received within {self.timeout:g} s"})

    async def _too_large(self, scope: Scope, send: Send, why: str) -> None:
        log.warning(
            "refused %s %s: request body too large (%s; limit %d bytes)",
            scope.get("method"),
            scope.get("path"),
            why,
            self.max_bytes,
        )
        await _answer(
            send, 413, {"error": f"request body too large (limit {self.max_bytes} bytes)"}
        )


async def _answer(send: Send, status: int, payload: dict[str, str]) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            # Close: the rest of the body is never read, so the connection can't be reused.
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands out the already-read body once, then the server's own."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # e.g. http.disconnect

    return replay


class HeaderDeadline(asyncio.Protocol):
    """An HTTP protocol for uvicorn with a deadline for each request's headers: ``timeout`` s
    from the connection, or on a kept-alive one from the first byte of the next request (an
    idle kept-alive connection is uvicorn's to close, after ``timeout_keep_alive``). Past it,
    the connection is closed: nothing can be answered to a request that has not arrived.

    It wraps uvicorn's own h11 protocol (built with uvicorn's arguments, everything passed on)
    rather than subclassing it: it sees only the asyncio ``Protocol`` calls, and follows the
    client's bytes with its own ``h11`` reader to tell where each request's head ends.
    Use: ``uvicorn.run(app, http=HeaderDeadline.lasting(10))``.
    """

    timeout: float = DEFAULT_BODY_TIMEOUT

    @classmethod
    def lasting(cls, seconds: float) -> type[HeaderDeadline]:
        """This protocol with a deadline of ``seconds``."""
        if seconds <= 0:
            raise ValueError("the header deadline must be positive")
        return type(cls.__name__, (cls,), {"timeout": seconds})

    def __init__(self, **uvicorn_args: Any) -> None:
        inner = import_from_string(HTTP_PROTOCOLS["h11"])
        self._inner: asyncio.Protocol = inner(**uvicorn_args)
        self._reader: h11.Connection | None = h11.Connection(h11.SERVER)
        self._in_head = True  # the reader is before (or inside) a request's head
        self._timer: asyncio.TimerHandle | None = None
        self._transport: asyncio.Transport | None = None

    # -- asyncio.Protocol, passed on --------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._arm()
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._follow(data)
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    # -- the deadline -----------------------------------------------------------------------

    def _follow(self, data: bytes) -> None:
        """Read the client's bytes as far as request boundaries: a head's end disarms the
        timer, the first byte after a request's end arms it again."""
        if self._reader is None:
            return  # not HTTP/1.1 as h11 reads it: uvicorn answers and closes
        if data and not self._in_head and self._reader.their_state is h11.DONE:
            leftover, _ = self._reader.trailing_data
            self._reader = h11.Connection(h11.SERVER)  # a fresh reader for the next request
            if leftover:  # (b"" would tell h11 the connection closed)
                self._reader.receive_data(leftover)
            self._in_head = True
            self._arm()  # the first bytes of the next request on a kept-alive connection
        if not data:
            return
        self._reader.receive_data(data)
        try:
            while True:
                event = self._reader.next_event()
                if event is h11.NEED_DATA or event is h11.PAUSED:
                    return
                if isinstance(event, h11.Request):
                    self._in_head = False
                    self._disarm()  # its body has BodyLimit's deadline
                elif isinstance(event, h11.EndOfMessage):
                    return  # what follows belongs to the next request (see above)
                elif isinstance(event, h11.ConnectionClosed):
                    return
        except h11.RemoteProtocolError:
            self._reader = None
            self._disarm()

    def _arm(self) -> None:
        self._disarm()
        self._timer = asyncio.get_running_loop().call_later(self.timeout, self._expired)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self) -> None:
        self._timer = None
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        peer = transport.get_extra_info("peername")
        client = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "a client"
        log.warning("closed the connection of %s: no complete request headers within %g s",
                    client, self.timeout)  # fmt: skip
        transport.close()


def fresh_timestamp(value: str | None, *, now: float) -> bool:
    """True when ``value`` is unix seconds within :data:`MAX_CLOCK_SKEW` of ``now``."""
    if value is None or not _TIMESTAMP.fullmatch(value):
        return False
    return abs(now - int(value)) <= MAX_CLOCK_SKEW


__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_MAX_BODY_BYTES",
    "MAX_CLOCK_SKEW",
    "BodyLimit",
    "HeaderDeadline",
    "fresh_timestamp",
]
