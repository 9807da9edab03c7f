"""Polite, bounded, SSRF-safe HTTP fetching (feeds and article pages) with httpx.

One entry point, :meth:`Fetcher.fetch`. Every request is bounded (docs/PLATFORM.md, "Feeds
and fetching"): httpx's timeouts are per phase of inactivity, so a server trickling one byte
a second never trips them; here a *total* deadline covers DNS, connect, TLS, every read and
every redirect hop. Bodies are streamed and counted (decoded bytes, so neither a lying
Content-Length nor a gzip bomb gets past the cap). Redirects are followed by hand, at most
five, so each hop's URL and address are checked again. 5xx/429 are retried a bounded number
of times, honouring Retry-After, with an injectable sleep.

The SSRF guard sits where the socket is opened: a custom httpcore network backend resolves
the host itself, refuses the request if any address it resolves to is loopback, private,
link-local, multicast, reserved, CGNAT or unspecified, and then connects to exactly the
vetted address. TLS still verifies the certificate for the original host name (httpcore
passes the URL's host as SNI/server_hostname to ``start_tls``), and the Host header is
untouched. Because the check and the connect use the same resolved address, DNS rebinding
between "check" and "use" is impossible, and every redirect hop opens its own connection
through the same backend. Proxies from the environment are ignored (``trust_env=False``):
through a proxy, the address connected to would be the proxy's, not the target's.
"""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import httpcore
import httpx

from digests.errors import BlockedURLError, FetchError

MiB = 1024 * 1024
PROJECT_URL = "https://github.com/digestbot/digestbot"  # pyproject has no [project.urls] yet
_REDIRECTS = {301, 302, 303, 307, 308}
_RETRY_STATUS = {429, 500, 502, 503, 504}
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# The deadline of the request running in this thread (time.monotonic() value), read by the
# network streams so that every blocking socket call is clamped to what is left of it.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("deadline", default=None)

Resolver = Callable[[str, int], Sequence[str]]
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def user_agent() -> str:
    """``digestbot/<version> (+project URL)``: who we are, for the sites we read."""
    try:
        version = metadata.version("digestbot")
    except metadata.PackageNotFoundError:
        version = "0"
    return f"digestbot/{version} (+{PROJECT_URL})"


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


@dataclass(frozen=True, slots=True)
class Fetched:
    """A response worth looking at: a body, or ``not_modified`` after a conditional GET."""

    url: str  # the final URL, after redirects
    status: int
    content: bytes = b""
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    retry_after: str | None = None  # kept from a 429/5xx answer, for the retry

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class _DeadlineExceeded(Exception):
    """The request's total deadline passed inside the network layer."""


def _clamp(timeout: float | None) -> float | None:
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise _DeadlineExceeded
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every blocking call ends by the request's total deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _clamp(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
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
                    address, port, _clamp(timeout), local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
                continue
            return _DeadlineStream(stream)
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
            found = list(future.result(timeout=_clamp(None)))
        except FutureTimeout as exc:
            raise _DeadlineExceeded from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not found:
            raise httpcore.ConnectError(f"{host} has no address")
        return found


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport, with its connection pool built on the guarded backend."""

    def __init__(self, backend: httpcore.NetworkBackend, *, connections: int) -> None:
        super().__init__(trust_env=False)
        # HTTPTransport takes no network_backend argument; its pool is the one place to put it.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=connections,
            max_keepalive_connections=connections,
            network_backend=backend,
        )


class Fetcher:
    """A shared, thread-safe HTTP client with every bound in one place (see module docstring)."""

    def __init__(
        self,
        *,
        allow_private_networks: bool = False,
        trusted_networks: Sequence[str] = (),
        deadline: float = 30.0,
        connect_timeout: float = 10.0,
        max_bytes: int = 15 * MiB,
        max_redirects: int = 5,
        retries: int = 2,
        backoff: float = 1.0,
        max_retry_after: float = 60.0,
        per_host: int = 2,
        resolver: Resolver = system_resolver,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.retries = retries
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self._per_host = per_host
        self._sleep = sleep
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()
        self._dns = ThreadPoolExecutor(4, thread_name_prefix="digestbot-dns")
        backend = _GuardedBackend(
            allow_private=allow_private_networks,
            trusted=[ipaddress.ip_network(n) for n in trusted_networks],
            resolver=resolver,
            dns=self._dns,
        )
        self._client = httpx.Client(
            transport=transport or _GuardedTransport(backend, connections=32),
            timeout=httpx.Timeout(deadline, connect=min(connect_timeout, deadline)),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": user_agent()},
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close pooled connections and the resolver threads."""
        self._client.close()
        self._dns.shutdown(wait=False, cancel_futures=True)

    def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = "*/*",
    ) -> Fetched:
        """GET ``url`` within every bound; raise FetchError/BlockedURLError with a one-line reason."""
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        attempt = 0
        while True:
            fetched = self._attempt(url, headers)
            if fetched.status not in _RETRY_STATUS:
                return self._accept(fetched)
            if attempt >= self.retries:
                raise FetchError(
                    f"HTTP {fetched.status} {_phrase(fetched.status)} after {attempt + 1} attempts"
                )
            wait = self._retry_wait(fetched, attempt)
            attempt += 1
            self._sleep(wait)

    def _accept(self, fetched: Fetched) -> Fetched:
        if fetched.status == 304 or 200 <= fetched.status < 300:
            return fetched
        raise FetchError(f"HTTP {fetched.status} {_phrase(fetched.status)}")

    def _retry_wait(self, fetched: Fetched, attempt: int) -> float:
        wait = self.backoff * 2**attempt
        if fetched.retry_after is not None:
            asked = _retry_after(fetched.retry_after)
            if asked is not None:
                if asked > self.max_retry_after:
                    raise FetchError(
                        f"HTTP {fetched.status} {_phrase(fetched.status)}: "
                        f"asked to retry after {asked:.0f} s"
                    )
                wait = max(asked, 0.0)
        return wait

    def _attempt(self, url: str, headers: dict[str, str]) -> Fetched:
        token = _DEADLINE.set(time.monotonic() + self.deadline)
        current = url
        try:
            for hop in range(self.max_redirects + 1):
                where = "" if hop == 0 else f"redirected to {current}: "
                try:
                    target = _checked_url(current)
                    with self._slot(target.host):
                        result = self._send(target, headers)
                except BlockedURLError as exc:
                    raise BlockedURLError(f"{where}{exc}") from exc
                except FetchError as exc:
                    raise FetchError(f"{where}{exc}") from exc
                if isinstance(result, Fetched):
                    return result
                current = result
            raise FetchError(f"too many redirects (more than {self.max_redirects})")
        finally:
            _DEADLINE.reset(token)

    def _send(self, url: httpx.URL, headers: dict[str, str]) -> Fetched | str:
        """One hop: the response, or the next URL when it redirects."""
        try:
            with self._client.stream("GET", url, headers=headers) as resp:
                if resp.status_code in _REDIRECTS and "location" in resp.headers:
                    return str(url.join(resp.headers["location"]))
                if resp.status_code in _RETRY_STATUS:
                    # Only Retry-After matters here; the body is not read.
                    return Fetched(
                        str(url), resp.status_code, retry_after=resp.headers.get("retry-after")
                    )
                content = self._read(resp) if 200 <= resp.status_code < 300 else b""
                return Fetched(
                    url=str(url),
                    status=resp.status_code,
                    content=content,
                    content_type=resp.headers.get("content-type", ""),
                    etag=resp.headers.get("etag"),
                    last_modified=resp.headers.get("last-modified"),
                )
        except (_DeadlineExceeded, httpx.TimeoutException) as exc:
            raise FetchError(f"no complete response within {self.deadline:g} s") from exc
        except httpx.ConnectError as exc:
            raise FetchError(f"cannot connect: {_one_line(exc)}") from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"HTTP error: {_one_line(exc)}") from exc

    def _read(self, resp: httpx.Response) -> bytes:
        declared = resp.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(
                f"body of {int(declared):,} bytes is over the {self.max_bytes:,}-byte limit"
            )
        body = bytearray()
        for chunk in resp.iter_bytes():
            body += chunk
            # Counted after decoding: a small gzip body can inflate far past any header.
            if len(body) > self.max_bytes:
                raise FetchError(f"body is over the {self.max_bytes:,}-byte limit")
            _clamp(None)  # a trickle of tiny chunks must still end at the deadline
        return bytes(body)

    @contextlib.contextmanager
    def _slot(self, host: str) -> Iterator[None]:
        # At most `per_host` requests in flight per host, across all threads: be polite.
        with self._lock:
            slot = self._slots.setdefault(host, threading.BoundedSemaphore(self._per_host))
        with slot:
            yield


def _checked_url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise FetchError(f"invalid URL {url!r}: {exc}") from exc
    if parsed.scheme not in ("http", "https"):
        raise BlockedURLError(f"only http and https URLs are fetched, not {parsed.scheme}:")
    if not parsed.host:
        raise FetchError(f"invalid URL {url!r}: no host")
    return parsed


def _retry_after(value: str) -> float | None:
    """Retry-After in seconds: a number, or an HTTP date (RFC 9110 §10.2.3)."""
    value = value.strip()
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - time.time()


def _phrase(status: int) -> str:
    try:
        return httpx.codes(status).phrase
    except ValueError:
        return ""


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
