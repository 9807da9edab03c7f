"""Sockets that end by a total deadline, and the default transport built on them.

The deadline is a ``time.monotonic()`` value in a context variable, set once per fetch by the
fetcher (covering every retry, redirect and wait); every blocking socket call (connect, TLS,
read, write) is clamped to what is left of it, so no phase can outlast the fetch, and a
server trickling a byte a second (in the headers or the body) is cut off on time.

:class:`SocketTransport` is an httpx transport on httpcore's public API (a
``ConnectionPool`` with a ``network_backend``): it is what :class:`digests.net._guard.
GuardedTransport` wraps unless another transport is injected. It keeps one pool per TLS host
name, so a connection verified for one name is never reused for another name that happens to
resolve to the same address.
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import httpcore
import httpx

# The deadline of the fetch running in this thread (a time.monotonic() value).
DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("deadline", default=None)
_POOLS = 64  # TLS host names with pooled connections at once (least recently used dropped)


class DeadlineExceeded(httpx.TimeoutException):
    """The fetch's total deadline passed."""

    def __init__(self, message: str = "total deadline passed") -> None:
        super().__init__(message)


def remaining() -> float | None:
    """Seconds left before the current deadline (None: no deadline); raise once it passed."""
    deadline = DEADLINE.get()
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlineExceeded
    return left


def clamp(timeout: float | None) -> float | None:
    """``timeout`` cut to what is left of the current deadline (raise once it has passed)."""
    left = remaining()
    if left is None:
        return timeout
    return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every blocking call ends by the fetch's total deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, clamp(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, clamp(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, clamp(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """Connects only to address literals (the guard has resolved and vetted them)."""

    def __init__(self) -> None:
        self._plain = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        try:
            ipaddress.ip_address(host.strip("[]"))
        except ValueError as exc:  # never resolve here: that is the guard's job
            raise httpcore.ConnectError(f"refusing to resolve {host} below the guard") from exc
        stream = self._plain.connect_tcp(
            host.strip("[]"), port, clamp(timeout), local_address, socket_options
        )
        return DeadlineStream(stream)

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not fetched")


class SocketTransport(httpx.BaseTransport):
    """httpx transport over httpcore pools (one per TLS host name) on deadline sockets."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, per_pool: int = 4) -> None:
        self._ssl = ssl_context or httpx.create_ssl_context()
        self._per_pool = per_pool
        self._pools: OrderedDict[str, httpcore.ConnectionPool] = OrderedDict()
        self._lock = threading.Lock()

    def _pool(self, name: str) -> httpcore.ConnectionPool:
        with self._lock:
            pool = self._pools.pop(name, None) or httpcore.ConnectionPool(
                ssl_context=self._ssl,
                max_connections=self._per_pool,
                max_keepalive_connections=self._per_pool,
                network_backend=DeadlineBackend(),
            )
            self._pools[name] = pool
            evicted = self._pools.popitem(last=False)[1] if len(self._pools) > _POOLS else None
        if evicted is not None:
            evicted.close()
        return pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        name = str(request.extensions.get("sni_hostname") or url.host)
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors():
            answer = self._pool(f"{url.scheme}://{name}").handle_request(core)
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=_Body(answer),
            extensions=answer.extensions,
        )

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), OrderedDict()
        for pool in pools:
            pool.close()


class _Body(httpx.SyncByteStream):
    def __init__(self, answer: httpcore.Response) -> None:
        self._answer = answer

    def __iter__(self) -> Iterator[bytes]:
        with _httpx_errors():
            yield from self._answer.iter_stream()

    def close(self) -> None:
        self._answer.close()


@contextlib.contextmanager
def _httpx_errors() -> Iterator[None]:
    """httpcore's exceptions as httpx's (same names), as httpx's own transport does."""
    try:
        yield
    except httpcore.TimeoutException as exc:
        raise getattr(httpx, type(exc).__name__, httpx.TimeoutException)(str(exc)) from exc
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
        raise getattr(httpx, type(exc).__name__, httpx.TransportError)(str(exc)) from exc
