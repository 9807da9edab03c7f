"""The HTTP server: Starlette under uvicorn (not Bolt's development http.server).

Routes: ``GET /healthz`` (liveness), ``GET /readyz`` (readiness: delivery in trouble is 503),
``GET /metrics``, plus ``extra_routes`` — where every platform mounts its own (Slack:
``POST /slack/events``, with OAuth installs ``GET /slack/install`` and
``GET /slack/oauth_redirect``; Discord: ``POST /discord/interactions``; Mattermost:
``POST /mattermost/command``). The lifespan starts and stops the scheduler on the server's
own event loop, and Slack's Socket Mode connection when ``socket_mode`` is given. Every request body passes
:class:`bot.guard.BodyLimit` first (413 past the limit, nothing more read; 408 when it is not
all there within the deadline).

With ``operator_token`` (``DIGESTBOT_METRICS_TOKEN``), ``/metrics`` and the detailed health
report need ``Authorization: Bearer <token>``: ``/metrics`` answers 401 without it, and
``/healthz`` / ``/readyz`` answer only ``{"ok": …}`` and the status code a load balancer needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime

import uvicorn
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.errors import SlackApiError
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
from bot.schedule import DigestScheduler
from digests.errors import StoreError
from digests.net.util import redact
from digests.store import Store

log = logging.getLogger(__name__)

# apps.connections.open errors that retrying cannot fix: the app-level token itself is bad.
_REJECTED_APP_TOKEN = {
    "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
    "not_allowed_token_type", "missing_scope",
}  # fmt: skip


def create_server_app(
    store: Store,
    *,
    scheduler: DigestScheduler | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    socket_mode: Callable[[], AsyncSocketModeHandler] | None = None,
    metrics: Metrics | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    operator_token: str | None = None,
) -> Starlette:
    """The ASGI app: health, metrics, and the platforms' routes (``extra_routes``).

    ``max_body_bytes`` bounds every request body, ``body_timeout`` (seconds) the time to
    receive it; ``operator_token`` guards ``/metrics`` and the health details (see the module
    docstring); ``socket_mode`` builds Slack's Socket Mode handler, run by the lifespan.
    """
    operator = _bearer(operator_token)
    # Problems found after start-up that make the bot deaf (e.g. a rejected app token):
    # /healthz reports them so a load balancer or an operator sees it.
    problems: dict[str, str] = {}
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
        # Socket Mode: Slack over a websocket; HTTP still serves health + extras. Built here
        # because its aiohttp session must be created on the server's running loop.
        # Connecting runs in the background: Bolt retries an unreachable Slack forever, and
        # start-up (health, shutdown on SIGTERM) must not wait for it.
        handler = socket_mode() if socket_mode is not None else None
        connecting = asyncio.create_task(_connect(handler, problems)) if handler else None
        try:
            yield
        finally:
            if connecting is not None and handler is not None:
                connecting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await connecting
                await handler.close_async()
            if scheduler is not None:
                scheduler.shutdown()

    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(BodyLimit, max_bytes=max_body_bytes, timeout=body_timeout)],
    )


async def _connect(handler: AsyncSocketModeHandler, problems: dict[str, str]) -> None:
    """Open the Socket Mode connection; a rejected app token is one clear error, not a loop.

    Bolt's ``connect`` retries every failure forever (a traceback every 10 s), which is right
    for an unreachable Slack and wrong for a revoked token. So the first socket URL is asked
    for here; Bolt then connects with it (and reconnects on its own later).
    """
    try:
        handler.client.wss_uri = await handler.client.issue_new_wss_url()
    except SlackApiError as exc:
        error = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
        if error in _REJECTED_APP_TOKEN:
            log.error(
                "Slack Socket Mode is off: apps.connections.open rejected SLACK_APP_TOKEN (%s); "
                "check the app-level token (xapp-, scope connections:write) and restart",
                error,
            )
            problems["slack"] = f"Socket Mode off: SLACK_APP_TOKEN rejected ({error})"
            return
        # Anything else (e.g. Slack's 5xx): Bolt's connect asks again and retries.
    except Exception as exc:  # unreachable Slack etc.: Bolt's connect logs and retries
        log.warning("Slack Socket Mode: could not reach apps.connections.open (%s); retrying", exc)
    await handler.connect_async()


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
    problems: dict[str, str],
    scheduler: DigestScheduler | None,
    allowed: Callable[[Request], bool],
    *,
    ready: bool,
):
    """``/healthz`` (liveness: 503 only when the process cannot work at all) or ``/readyz``
    (readiness: also 503 while delivery is in trouble, e.g. Slack unreachable). Both bodies
    carry the delivery report, so an operator sees the trouble either way."""

    async def health(request: Request) -> JSONResponse:
        now = datetime.now(UTC)
        try:
            count = await asyncio.to_thread(store.articles.count)
            delivery = await asyncio.to_thread(
                delivery_health,
                store,
                now=now,
                state=scheduler.sweeper.state if scheduler else None,
                timings=scheduler.timings if scheduler else None,
            )
        except (SQLAlchemyError, StoreError) as exc:
            log.warning("health check: database unreachable: %s", redact(str(exc)))
            if not allowed(request):
                return JSONResponse({"ok": False}, status_code=503)
            return JSONResponse({"ok": False, "db": False, "articles": None}, status_code=503)
        # Readable is not writable (SQLite locked or full): nothing would be stored or claimed.
        unwritable = await asyncio.to_thread(store.write_problem)
        body: dict = {
            "ok": not problems and delivery.ok and not unwritable,
            "db": True,
            "db_writable": not unwritable,
            "articles": count,
            "delivery": delivery.as_dict(),
        }
        if unwritable:
            body["db_error"] = unwritable
        if problems:
            body["problems"] = dict(problems)
        starting = scheduler is not None and not scheduler.ingested
        if starting:  # not ready: a brief would not see the articles being stored yet
            body["starting"] = "first ingest of the folders under way"
        down = bool(problems) or bool(unwritable) or (ready and (not delivery.ok or starting))
        if not allowed(request):  # the status only: details are for the operator's token
            return JSONResponse({"ok": body["ok"]}, status_code=503 if down else 200)
        return JSONResponse(body, status_code=503 if down else 200)

    return health


def serve(
    app: Starlette, *, host: str, port: int, request_timeout: float = DEFAULT_BODY_TIMEOUT
) -> None:
    """Run the ASGI app under uvicorn until interrupted; ``request_timeout`` (seconds) bounds
    the wait for each request's headers (:class:`bot.guard.HeaderDeadline`)."""
    # log_config=None: uvicorn's records go through bot.logs' handler (format, redaction).
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        proxy_headers=True,
        http=HeaderDeadline.lasting(request_timeout),
    )
