"""The HTTP server: Starlette under uvicorn (not Bolt's development http.server).

Routes: ``GET /healthz`` (liveness), ``GET /readyz`` (readiness of this process: delivery
trouble is said in the body, never a 503),
``GET /metrics``, plus ``extra_routes`` — where every platform mounts its own (Slack:
``POST /slack/events``, with OAuth installs ``GET /slack/install`` and
``GET /slack/oauth_redirect``; Discord: ``POST /discord/interactions``; Mattermost:
``POST /mattermost/command``). The lifespan starts and stops the scheduler on the server's
own event loop, and the platforms' long-lived ``connections`` (Slack's Socket Mode). Every
request body passes
:class:`bot.guard.BodyLimit` first (413 past the limit, nothing more read; 408 when it is not
all there within the deadline).

With ``operator_token`` (``DIGESTBOT_METRICS_TOKEN``), ``/metrics`` and the detailed health
report need ``Authorization: Bearer <token>``: ``/metrics`` answers 401 without it, and
``/healthz`` / ``/readyz`` answer only ``{"ok": …}`` and the status code a load balancer needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hmac
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from types import FrameType

import uvicorn
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.delivery_health import delivery_health
from bot.guard import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES,
    BodyLimit,
    HeaderDeadline,
)
from bot.metrics import Metrics
from bot.platforms import Connection, Problems
from bot.schedule import DigestScheduler
from digests.errors import ConfigError, StoreError
from digests.net.util import redact
from digests.store import Store

log = logging.getLogger(__name__)

_BACKLOG = 2048  # uvicorn's default listen backlog
_STOP_WAIT = 5.0  # seconds a stopping server waits for its ingests to leave off


def create_server_app(
    store: Store,
    *,
    scheduler: DigestScheduler | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    connections: Sequence[Connection] = (),
    metrics: Metrics | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    operator_token: str | None = None,
) -> Starlette:
    """The ASGI app: health, metrics, and the platforms' routes (``extra_routes``).

    ``max_body_bytes`` bounds every request body, ``body_timeout`` (seconds) the time to
    receive it; ``operator_token`` guards ``/metrics`` and the health details (see the module
    docstring); ``connections`` are the platforms' long-lived connections (Slack's Socket
    Mode), kept open by the lifespan.
    """
    operator = _bearer(operator_token)
    # Problems found after start-up that make the bot deaf (e.g. a rejected app token) or not
    # ready (Socket Mode down for a while): the health reports them.
    problems = Problems()
    routes: list[BaseRoute] = [
        Route(
            "/healthz", _health(store, problems, scheduler, operator, ready=False), methods=["GET"]
        ),
        Route(
            "/readyz", _health(store, problems, scheduler, operator, ready=True), methods=["GET"]
        ),
    ]
    if metrics is not None:
        routes.append(Route("/metrics", _guarded(metrics.endpoint, operator), methods=["GET"]))
    routes.extend(extra_routes)  # every platform's, e.g. Route("/slack/events", ...)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if scheduler is not None:
            await scheduler.start()
        try:
            async with contextlib.AsyncExitStack() as stack:
                for connection in connections:  # on this loop, open while the server runs
                    await stack.enter_async_context(connection(problems))
                yield
        finally:
            if scheduler is not None:
                scheduler.shutdown()
                # The ingests under way leave off at their next batch: let the one being
                # stored commit rather than be cut off by the process's exit.
                if not await asyncio.to_thread(scheduler.wait_stopped, _STOP_WAIT):
                    log.warning("an ingest did not leave off within %g s; stopping anyway",
                                _STOP_WAIT)  # fmt: skip

    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(BodyLimit, max_bytes=max_body_bytes, timeout=body_timeout)],
    )


def _bearer(token: str | None) -> Callable[[Request], bool]:
    """Whether a request may see operator details: always without a token, else with it."""
    if not token:
        return lambda _: True
    expected = f"Bearer {token}".encode()

    def allowed(request: Request) -> bool:
        given = request.headers.get("authorization", "").encode("utf-8", "replace")
        return hmac.compare_digest(given, expected)

    return allowed


def _guarded(
    endpoint: Callable[[Request], Awaitable[Response]], allowed: Callable[[Request], bool]
) -> Callable[[Request], Awaitable[Response]]:
    async def guarded(request: Request) -> Response:
        if not allowed(request):
            return JSONResponse(
                {"error": "send Authorization: Bearer <DIGESTBOT_METRICS_TOKEN>"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return await endpoint(request)

    return guarded


def _health(  # type: ignore[no-untyped-def]
    store: Store,
    problems: Problems,
    scheduler: DigestScheduler | None,
    allowed: Callable[[Request], bool],
    *,
    ready: bool,
):
    """``/healthz`` (liveness: 503 only when the process cannot work at all) or ``/readyz``
    (readiness: also 503 while this process cannot take requests yet: its first ingest, a
    Socket Mode connection down). Both bodies carry the delivery report and say ``ok: false``
    while delivery is in trouble (``bot/delivery_health.py``), but that is no 503: every
    replica shares the outbox and the platforms, and one platform's outage taking every
    replica out of a load balancer would stop the others' ``/brief`` as well."""

    async def health(request: Request) -> JSONResponse:
        now = datetime.now(UTC)
        try:
            count = await asyncio.to_thread(store.articles.count)
            delivery = await asyncio.to_thread(
                delivery_health, store, now=now, timings=scheduler.timings if scheduler else None
            )
        except (SQLAlchemyError, StoreError) as exc:
            log.warning("health check: database unreachable: %s", redact(str(exc)))
            if not allowed(request):
                return JSONResponse({"ok": False}, status_code=503)
            return JSONResponse({"ok": False, "db": False, "articles": None}, status_code=503)
        # Readable is not writable (SQLite locked or full): nothing would be stored or claimed.
        unwritable = await asyncio.to_thread(store.write_problem)
        body: dict = {
            "ok": not problems.all() and delivery.ok and not unwritable,
            "db": True,
            "db_writable": not unwritable,
            "articles": count,
            "delivery": delivery.as_dict(),
        }
        if unwritable:
            body["db_error"] = unwritable
        if problems.all():
            body["problems"] = problems.all()
        starting = scheduler is not None and not scheduler.ingested
        if starting:  # not ready: a brief would not see the articles being stored yet
            body["starting"] = "first ingest of the folders under way"
        unready = bool(problems.unready) or starting
        down = bool(problems.deaf) or bool(unwritable) or (ready and unready)
        if not allowed(request):  # the status only: details are for the operator's token
            return JSONResponse({"ok": body["ok"]}, status_code=503 if down else 200)
        return JSONResponse(body, status_code=503 if down else 200)

    return health


def listen(host: str, port: int) -> list[socket.socket]:
    """Listening sockets on ``host``:``port``, bound now: whether uvicorn will be able to.

    Bound as uvicorn's own binding would (asyncio's ``create_server``): one socket per address
    ``host`` resolves to, ``SO_REUSEADDR``, IPv6 sockets IPv6-only, an address family the host
    cannot use skipped. A port in use or a host that does not resolve is a
    :class:`~digests.errors.ConfigError` on one line: ``cannot listen on HOST:PORT: REASON``.
    """
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    sockets: list[socket.socket] = []
    try:
        found = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        unavailable: OSError | None = None
        for family, *_, address in dict.fromkeys(found):
            try:
                sockets.append(socket.create_server(address, family=family, backlog=_BACKLOG))
            except OSError as exc:
                if exc.errno != errno.EADDRNOTAVAIL:  # e.g. ::1 without IPv6: asyncio skips it
                    raise
                unavailable = exc
        if not sockets:
            raise unavailable or OSError(errno.EADDRNOTAVAIL, "no address to listen on")
    except OSError as exc:
        for sock in sockets:
            sock.close()
        # create_server's message repeats the address; the error number's text is the reason.
        code = None if isinstance(exc, socket.gaierror) else exc.errno
        reason = os.strerror(code) if code else (exc.strerror or str(exc))
        raise ConfigError(f"cannot listen on {where}: {reason[:1].lower()}{reason[1:]}") from exc
    return sockets


def serve(
    app: Starlette,
    *,
    host: str,
    port: int,
    request_timeout: float = DEFAULT_BODY_TIMEOUT,
    on_stop: Callable[[], None] | None = None,
    on_listen: Callable[[], None] | None = None,
) -> None:
    """Run the ASGI app under uvicorn until interrupted; ``request_timeout`` (seconds) bounds
    the wait for each request's headers (:class:`bot.guard.HeaderDeadline`). ``on_listen`` is
    called once the port is known to be free, before anything starts.

    The port is tried first (:func:`listen`), so a port in use stops ``serve`` with one line
    before the lifespan starts the scheduler: nothing is ingested, polled or posted by a
    process that cannot serve. uvicorn then binds it again itself: handed the sockets bound
    here (``Server.run(sockets=...)``), its 413 to an oversized body was lost to a connection
    reset, every time (tests/hostile/test_request_bodies.py; cause not found). ``on_stop`` is
    called from the signal handler on SIGINT or SIGTERM (e.g.
    :meth:`DigestScheduler.request_stop`): uvicorn only acts on a signal once the lifespan's
    start-up is over, and start-up waits for the first ingest.
    """
    for sock in listen(host, port):
        sock.close()
    if on_listen is not None:
        on_listen()
    # log_config=None: uvicorn's records go through bot.logs' handler (format, redaction).
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        proxy_headers=True,
        http=HeaderDeadline.lasting(request_timeout),
        backlog=_BACKLOG,
    )
    _Server(config, on_stop=on_stop).run()


class _Server(uvicorn.Server):
    """uvicorn's server, telling ``on_stop`` at once when it is asked to stop."""

    def __init__(self, config: uvicorn.Config, *, on_stop: Callable[[], None] | None) -> None:
        super().__init__(config)
        self._on_stop = on_stop

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._on_stop is not None:
            self._on_stop()
        super().handle_exit(sig, frame)
