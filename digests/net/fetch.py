"""Polite, bounded, SSRF-safe HTTP fetching (feeds and article pages) with httpx.

One entry point, :meth:`Fetcher.fetch`. Every request is bounded (httpx docs,
"Timeouts"): httpx's timeouts are per phase of inactivity, so a server trickling one byte
a second never trips them; here a *total* deadline covers DNS, connect, TLS, every read and
every redirect hop. Bodies are streamed and counted (decoded bytes, so neither a lying
Content-Length nor a gzip bomb gets past the cap). Redirects are followed by hand, at most
five, so each hop's URL and address are checked again. 5xx/429 are retried a bounded number
of times, honouring Retry-After, with an injectable sleep.

The deadline is *total*: it is set once per :meth:`Fetcher.fetch` and covers every attempt,
redirect and Retry-After wait (a retry that would end after it fails at once). The SSRF guard
and the deadline live in the transport (digests.net._guard): the host is resolved by us, every
address vetted, and the request sent to exactly the vetted address, on every hop, whatever
transport is injected. Proxies from the environment are ignored (``trust_env=False``):
through a proxy, the address connected to would be the proxy's, not the target's.

Error messages quote URLs only through :func:`digests.net.util.redact_url` (no credentials).
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata

import httpx

from digests._codings import ACCEPT_ENCODING, decode_body
from digests.backoff import backoff
from digests.errors import BlockedURLError, FetchError
from digests.net._connect import DEADLINE, DeadlineExceeded, remaining
from digests.net._guard import (
    AddressGuard,
    GuardedTransport,
    Resolver,
    known_refusal,
    refusal,
    system_resolver,
)
from digests.net.util import parse_retry_after, redact_url, redact_urls

__all__ = [
    "MiB",
    "Fetched",
    "Fetcher",
    "known_refusal",
    "refusal",
    "system_resolver",
    "user_agent",
]

MiB = 1024 * 1024
PROJECT_URL = "https://github.com/digestbot/digestbot"  # pyproject has no [project.urls] yet
_REDIRECTS = {301, 302, 303, 307, 308}
_RETRY_STATUS = {429, 500, 502, 503, 504}
_RETRY_LATER = {408, 429}  # 4xx answers that say "not now" rather than "not this URL"


def user_agent() -> str:
    """``digestbot/<version> (+project URL)``: who we are, for the sites we read."""
    try:
        version = metadata.version("digestbot")
    except metadata.PackageNotFoundError:
        version = "0"
    return f"digestbot/{version} (+{PROJECT_URL})"


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
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """``transport`` is wrapped by the guard, never used bare; ``clock`` dates Retry-After."""
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.retries = retries
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self._per_host = per_host
        self._sleep = sleep
        self._clock = clock
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()
        self._dns = ThreadPoolExecutor(4, thread_name_prefix="digestbot-dns")
        guard = AddressGuard(
            allow_private=allow_private_networks,
            trusted=[ipaddress.ip_network(n) for n in trusted_networks],
            resolver=resolver,
            dns=self._dns,
        )
        self._client = httpx.Client(
            transport=GuardedTransport(guard, transport, ssl_context=ssl_context),
            timeout=httpx.Timeout(deadline, connect=min(connect_timeout, deadline)),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": user_agent(), "Accept-Encoding": ACCEPT_ENCODING},
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
        token = DEADLINE.set(time.monotonic() + self.deadline)  # one deadline for it all
        try:
            attempt = 0
            while True:
                fetched = self._attempt(url, headers)
                if fetched.status not in _RETRY_STATUS:
                    return self._accept(fetched)
                status = f"HTTP {fetched.status} {_phrase(fetched.status)}"
                if attempt >= self.retries:
                    raise _status_error(f"{status} after {attempt + 1} attempts", fetched)
                wait = self._retry_wait(fetched, attempt)
                if wait >= (remaining() or 0.0):
                    raise _status_error(
                        f"{status}; a retry in {wait:.0f} s would pass the {self.deadline:g} s "
                        "deadline",
                        fetched,
                    )
                attempt += 1
                self._sleep(wait)
        except DeadlineExceeded as exc:
            raise FetchError(
                f"no complete response within {self.deadline:g} s", retryable=True
            ) from exc
        finally:
            DEADLINE.reset(token)

    def _accept(self, fetched: Fetched) -> Fetched:
        if fetched.status == 304 or 200 <= fetched.status < 300:
            return fetched
        raise _status_error(f"HTTP {fetched.status} {_phrase(fetched.status)}", fetched)

    def _retry_wait(self, fetched: Fetched, attempt: int) -> float:
        asked = None
        if fetched.retry_after is not None:
            asked = parse_retry_after(fetched.retry_after, now=self._clock())
            if asked is not None and asked > self.max_retry_after:
                raise _status_error(
                    f"HTTP {fetched.status} {_phrase(fetched.status)}: "
                    f"asked to retry after {asked:.0f} s",
                    fetched,
                )
        # No cap of its own: the deadline bounds the whole fetch (checked by the caller).
        return backoff(self.backoff, attempt + 1, cap=math.inf, retry_after=asked)

    def _attempt(self, url: str, headers: dict[str, str]) -> Fetched:
        current = url
        for hop in range(self.max_redirects + 1):
            where = "" if hop == 0 else f"redirected to {redact_url(current)}: "
            try:
                target = _checked_url(current)
                with self._slot(target.host):
                    result = self._send(target, headers)
            except FetchError as exc:  # BlockedURLError too: reworded keeps its class
                raise exc.reworded(f"{where}{exc}") from exc
            if isinstance(result, Fetched):
                return result
            current = result
        raise FetchError(f"too many redirects (more than {self.max_redirects})")

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
                if resp.status_code == 304:
                    # Read to its (empty) end, or httpcore closes the connection instead of
                    # keeping it alive: every unchanged feed would cost a new connection.
                    self._read(resp)
                return Fetched(
                    url=str(url),
                    status=resp.status_code,
                    content=content,
                    content_type=resp.headers.get("content-type", ""),
                    etag=resp.headers.get("etag"),
                    last_modified=resp.headers.get("last-modified"),
                )
        except (DeadlineExceeded, httpx.TimeoutException) as exc:
            raise FetchError(
                f"no complete response within {self.deadline:g} s", retryable=True
            ) from exc
        except httpx.ConnectError as exc:
            raise FetchError(f"cannot connect: {_one_line(exc)}", retryable=True) from exc
        except httpx.HTTPError as exc:  # a connection cut, a garbled answer
            raise FetchError(f"HTTP error: {_one_line(exc)}", retryable=True) from exc

    def _read(self, resp: httpx.Response) -> bytes:
        declared = resp.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(
                f"body of {int(declared):,} bytes is over the {self.max_bytes:,}-byte limit"
            )
        body = bytearray()
        wire = 0

        def raw() -> Iterator[bytes]:
            nonlocal wire
            for chunk in resp.iter_raw():
                wire += len(chunk)
                if wire > self.max_bytes:
                    raise FetchError(f"body is over the {self.max_bytes:,}-byte limit")
                yield chunk

        # Decoded by us, a slice at a time, and counted as each slice is produced: a small
        # gzip body (or gzip in gzip) can inflate far past any header (digests._codings).
        # (A transport that built its response in memory has decoded it already.)
        coding = "" if resp.is_stream_consumed else resp.headers.get("content-encoding", "")
        chunks = iter([resp.content]) if resp.is_stream_consumed else raw()
        for piece in decode_body(chunks, coding):
            body += piece
            if len(body) > self.max_bytes:
                raise FetchError(f"body is over the {self.max_bytes:,}-byte limit")
            remaining()  # a trickle of tiny chunks must still end at the deadline
        return bytes(body)

    @contextlib.contextmanager
    def _slot(self, host: str) -> Iterator[None]:
        # At most `per_host` requests in flight per host, across all threads: be polite.
        with self._lock:
            slot = self._slots.setdefault(host, threading.BoundedSemaphore(self._per_host))
        # Waiting for a slot counts against the deadline too.
        if not slot.acquire(timeout=remaining() or None):
            raise DeadlineExceeded("no request slot for this host within the deadline")
        try:
            yield
        finally:
            slot.release()


def _checked_url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise FetchError(f"invalid URL {redact_url(url)!r}: {exc}") from exc
    if parsed.scheme not in ("http", "https"):
        raise BlockedURLError(f"only http and https URLs are fetched, not {parsed.scheme}:")
    if not parsed.host:
        raise FetchError(f"invalid URL {redact_url(url)!r}: no host")
    return parsed


def _status_error(message: str, fetched: Fetched) -> FetchError:
    """A failed answer's error: worth another try later when the server was busy or down
    (429, 408, 5xx), not when it said the URL is wrong or forbidden (404, 410, 403 ...)."""
    status = fetched.status
    return FetchError(message, status=status, retryable=status in _RETRY_LATER or status >= 500)


def _phrase(status: int) -> str:
    return httpx.codes.get_reason_phrase(status)


def _one_line(exc: BaseException) -> str:
    text = redact_urls(" ".join(str(exc).split()))
    return text or type(exc).__name__
