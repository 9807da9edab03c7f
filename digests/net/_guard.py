"""The SSRF guard under digests.net.fetch: an httpx transport that vets where it connects.

:class:`GuardedTransport` wraps any httpx transport (httpx's public ``BaseTransport`` API;
by default :class:`digests.net._connect.SocketTransport`) and every request goes through it,
so an injected transport can neither skip the check nor the deadline:

1. only http and https; the host is resolved here (DNS bounded by the deadline);
2. every address it resolves to is vetted (:func:`refusal`): one bad address refuses the host,
   since round-robin DNS could hand it to us next time;
3. the request is sent to exactly a vetted address: the URL's host becomes the address, the
   ``Host`` header keeps the name, and httpx's public ``sni_hostname`` request extension keeps
   TLS verifying the certificate for the name. Check and connect use the same address, so DNS
   rebinding between them is impossible; each redirect hop is a new request, checked again;
4. the fetch's total deadline bounds the request: the timeouts handed to the inner transport
   are clamped to what is left, the inner call itself is abandoned when the deadline passes
   (an injected transport need not honour timeouts), and the body is cut off on time.

Proxies are not supported: through a proxy the address connected to would be the proxy's.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextvars import copy_context

import httpx

from digests.errors import BlockedURLError
from digests.net._connect import DeadlineExceeded, SocketTransport, clamp, remaining

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")  # deprecated (RFC 3879), still routed inside

Resolver = Callable[[str, int], Sequence[str]]
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6), as strings."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def refusal(address: str) -> str | None:
    """Why the guard refuses to connect to ``address`` (None when it is a public address)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and (inner := _embedded_ipv4(ip)) is not None:
        # An IPv4 address wrapped in IPv6 reaches that IPv4 host: judge the inner one.
        return refusal(str(inner))
    checks = (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip in _SITE_LOCAL, "site-local"),
        (ip.is_multicast, "multicast"),
        (ip in _CGNAT, "carrier-grade NAT (100.64/10)"),
        (ip.is_reserved, "reserved"),
        (ip.is_private, "private"),
        (not ip.is_global, "non-public"),
    )
    return next((f"{what} address {ip}" for bad, what in checks if bad), None)


def known_refusal(host: str) -> str | None:
    """Why the guard refuses ``host`` whatever DNS answers, found without asking DNS: an
    address in any spelling the system's resolver reads (``127.1``, ``2130706433``, ``::1``)
    or a ``localhost`` name (loopback by definition, RFC 6761). None for any other name:
    where it leads is known only when it is fetched, and may differ where it is fetched."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return f"loopback name {name}"
    try:  # AI_NUMERICHOST: parsed as the resolver would, never looked up
        infos = socket.getaddrinfo(name, None, flags=socket.AI_NUMERICHOST, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        return None
    return next(filter(None, (refusal(str(info[4][0])) for info in infos)), None)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one reaches (mapped, 6to4, NAT64, IPv4-compatible)."""
    if ip.ipv4_mapped or ip.sixtofour:
        return ip.ipv4_mapped or ip.sixtofour
    if any(ip in net for net in _NAT64) or (int(ip) >> 32 == 0 and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)  # NAT64, or ::a.b.c.d (deprecated)
    return None


class AddressGuard:
    """Resolves a host and returns its addresses once every one of them is allowed."""

    def __init__(
        self,
        *,
        allow_private: bool,
        trusted: Sequence[IPNetwork] = (),
        resolver: Resolver = system_resolver,
        dns: ThreadPoolExecutor,
    ) -> None:
        self._allow_private = allow_private
        self._trusted = tuple(trusted)
        self._resolver = resolver
        self._dns = dns

    def vetted(self, host: str, port: int) -> list[str]:
        """The addresses to connect to (raise BlockedURLError if any is refused)."""
        literal = _literal(host)
        addresses = [str(literal)] if literal else self._resolve(host, port)
        if self._allow_private:
            return addresses
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            if any(ip in net for net in self._trusted):
                continue
            if reason := refusal(address):
                what = reason if literal else f"{host}: it resolves to {reason}"
                raise BlockedURLError(f"refused {what} (allowed only with allow_private_networks)")
        return addresses

    def _resolve(self, host: str, port: int) -> list[str]:
        # getaddrinfo has no timeout of its own: wait for it only as long as the deadline.
        future = self._dns.submit(self._resolver, host, port)
        try:
            found = list(future.result(timeout=clamp(None)))
        except FutureTimeout as exc:
            raise DeadlineExceeded("DNS lookup did not finish within the deadline") from exc
        except OSError as exc:
            raise httpx.ConnectError(f"cannot resolve {host}: {exc.strerror or exc}") from exc
        if not found:
            raise httpx.ConnectError(f"{host} has no address")
        return found


class GuardedTransport(httpx.BaseTransport):
    """Vets and pins every request's address, then hands it to the wrapped transport."""

    def __init__(
        self,
        guard: AddressGuard,
        inner: httpx.BaseTransport | None = None,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._guard = guard
        # An injected transport may ignore timeouts: its calls run where they can be abandoned.
        self._watched = inner is not None
        self._inner = inner or SocketTransport(ssl_context=ssl_context)
        self._calls = ThreadPoolExecutor(8, thread_name_prefix="digestbot-http")

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise BlockedURLError(f"only http and https URLs are fetched, not {url.scheme}:")
        host = url.host
        addresses = self._guard.vetted(host, url.port or (443 if url.scheme == "https" else 80))
        error: httpx.ConnectError | None = None
        for address in addresses:
            try:
                return self._send(_pinned(request, host, address))
            except httpx.ConnectError as exc:  # try the next vetted address
                error = exc
        raise error or httpx.ConnectError(f"{host} has no address")

    def _send(self, request: httpx.Request) -> httpx.Response:
        if not self._watched:
            response = self._inner.handle_request(request)
        else:
            call = copy_context().run
            future = self._calls.submit(call, self._inner.handle_request, request)
            try:
                response = future.result(timeout=remaining())
            except FutureTimeout as exc:
                future.add_done_callback(_close_late)
                raise DeadlineExceeded from exc
        response.stream = _DeadlineBody(response.stream)
        return response

    def close(self) -> None:
        self._inner.close()
        self._calls.shutdown(wait=False, cancel_futures=True)


def _pinned(request: httpx.Request, host: str, address: str) -> httpx.Request:
    """``request`` sent to ``address``, still naming ``host`` (Host header, TLS SNI)."""
    extensions = dict(request.extensions)
    if request.url.scheme == "https":
        extensions["sni_hostname"] = host
    timeouts = extensions.get("timeout")
    if isinstance(timeouts, dict):
        extensions["timeout"] = {k: clamp(v) for k, v in timeouts.items()}
    headers = httpx.Headers(request.headers)
    headers.setdefault("Host", request.url.netloc.decode("ascii"))
    return httpx.Request(
        request.method,
        request.url.copy_with(host=address.split("%", 1)[0]),
        headers=headers,
        stream=request.stream,
        extensions=extensions,
    )


class _DeadlineBody(httpx.SyncByteStream):
    """A response body that ends with the fetch's deadline, whatever the transport."""

    def __init__(self, inner: httpx.SyncByteStream | httpx.AsyncByteStream) -> None:
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        assert isinstance(self._inner, httpx.SyncByteStream)
        for chunk in self._inner:
            remaining()
            yield chunk

    def close(self) -> None:
        if isinstance(self._inner, httpx.SyncByteStream):
            self._inner.close()


def _close_late(future: Future[httpx.Response]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result().close()


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
