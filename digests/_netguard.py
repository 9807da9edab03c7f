"""The network layer under digests.fetch: the SSRF guard and the total deadline.

The guard sits where the socket is opened: a custom httpcore network backend resolves the
host itself, refuses if any address it resolves to is loopback, private, link-local,
multicast, reserved, CGNAT or unspecified, and then connects to exactly the vetted address.
TLS still verifies the certificate for the original host name (httpcore passes the URL's
host as SNI/server_hostname to ``start_tls``) and the Host header is untouched. Since the
check and the connect use the same resolved address, DNS rebinding between "check" and
"use" is impossible, and every redirect hop opens its own connection through this backend.

The deadline is a ``time.monotonic()`` value in a context variable, set per request by the
fetcher; every blocking socket call (connect, TLS, read, write) and the DNS lookup is
clamped to what is left of it, so no phase can outlast the request.
"""

from __future__ import annotations

import contextvars
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import httpcore
import httpx

from digests.errors import BlockedURLError

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# The deadline of the request running in this thread (time.monotonic() value), read by the
# network streams so that every blocking socket call is clamped to what is left of it.
DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("deadline", default=None)

Resolver = Callable[[str, int], Sequence[str]]
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6), as strings."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def refusal(address: str) -> str | None:
    """Why the guard refuses to connect to ``address`` (None when it is a public address)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address wrapped in IPv6 reaches that IPv4 host: judge the inner one.
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is None and ip in _NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            return refusal(str(inner))
    checks = (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip in _CGNAT, "carrier-grade NAT (100.64/10)"),
        (ip.is_reserved, "reserved"),
        (ip.is_private, "private"),
        (not ip.is_global, "non-public"),
    )
    return next((f"{what} address {ip}" for bad, what in checks if bad), None)


class DeadlineExceeded(Exception):
    """The request's total deadline passed inside the network layer."""


def clamp(timeout: float | None) -> float | None:
    """``timeout`` cut to what is left of the current deadline (raise once it has passed)."""
    deadline = DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlineExceeded
    return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every blocking call ends by the request's total deadline."""

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


class GuardedBackend(httpcore.NetworkBackend):
    """Resolves, vets and connects to exactly the vetted address (see module docstring)."""

    def __init__(
        self,
        *,
        allow_private: bool,
        trusted: Sequence[IPNetwork],
        resolver: Resolver,
        dns: ThreadPoolExecutor,
    ) -> None:
        self._allow_private = allow_private
        self._trusted = tuple(trusted)
        self._resolver = resolver
        self._dns = dns
        self._plain = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        addresses = self._vetted(host, port)
        error: Exception | None = None
        for address in addresses:
            try:
                stream = self._plain.connect_tcp(
                    address, port, clamp(timeout), local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
                continue
            return DeadlineStream(stream)
        raise error or httpcore.ConnectError(f"{host} has no address")

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        raise BlockedURLError("unix sockets are not fetched")

    def _vetted(self, host: str, port: int) -> list[str]:
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
            addresses = [host]
        except ValueError:
            addresses = self._resolve(host, port)
        if self._allow_private:
            return addresses
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            if any(ip in net for net in self._trusted):
                continue
            # One bad address refuses the host: round-robin DNS could hand it to us next time.
            if reason := refusal(address):
                what = reason if host == address else f"{host}: it resolves to {reason}"
                raise BlockedURLError(f"refused {what} (allowed only with allow_private_networks)")
        return addresses

    def _resolve(self, host: str, port: int) -> list[str]:
        # getaddrinfo has no timeout of its own: wait for it only as long as the deadline.
        future = self._dns.submit(self._resolver, host, port)
        try:
            found = list(future.result(timeout=clamp(None)))
        except FutureTimeout as exc:
            raise DeadlineExceeded from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not found:
            raise httpcore.ConnectError(f"{host} has no address")
        return found


class GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport, with its connection pool built on the guarded backend."""

    def __init__(
        self,
        backend: httpcore.NetworkBackend,
        *,
        connections: int,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(trust_env=False)
        # HTTPTransport takes no network_backend argument; its pool is the one place to put it.
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(),
            max_connections=connections,
            max_keepalive_connections=connections,
            network_backend=backend,
        )
