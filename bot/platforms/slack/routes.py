"""Slack's HTTP routes and Socket Mode: the Bolt app of ``app.py`` as the server mounts it.

Over HTTP: ``POST /slack/events`` (unsigned requests are refused before Bolt parses them,
:func:`bot.platforms.slack.guard.slack_events_endpoint`) and, with OAuth installs, ``GET /slack/install`` and
``GET /slack/oauth_redirect`` (Bolt's flow; install links bounded per client address). Over
Socket Mode (``SLACK_APP_TOKEN``) no route: a connection (:func:`socket_mode`) the server keeps
open on its own loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.platforms import Connection, PlatformContext, Problems
from bot.platforms.slack.app import create_app
from bot.platforms.slack.guard import slack_events_endpoint
from bot.ratelimit import RateLimit

log = logging.getLogger(__name__)


def bolt_app(ctx: PlatformContext) -> AsyncApp:
    """The Bolt app answering through the process's chat service (``ctx.chat``)."""
    chat = ctx.chat
    assert chat is not None, "Slack's listeners need the process's chat service"
    return create_app(
        ctx.bot,
        ctx.opened_store(),
        chat.core,
        schedule=chat.schedule,
        metrics=chat.metrics,
        chat=chat,
    )


def bolt_routes(
    slack_app: AsyncApp,
    *,
    signing_secret: str | None = None,
    install_limit: RateLimit | None = None,
) -> list[BaseRoute]:
    """``POST /slack/events`` and, when ``slack_app`` has Bolt's OAuth flow, its install and
    redirect paths (``GET``).

    ``signing_secret`` lets ``/slack/events`` refuse unsigned requests before parsing them
    (default: the one ``slack_app`` was built with); ``install_limit`` bounds the install
    path per client address (default :class:`~bot.ratelimit.RateLimit`).
    """
    # Bolt keeps the secret it verifies with privately; the same one is checked first here.
    secret = signing_secret or getattr(slack_app, "_signing_secret", "")
    if not secret:
        raise ValueError("slack_app needs slack_signing_secret")
    routes: list[BaseRoute] = [
        Route("/slack/events", slack_events_endpoint(slack_app, secret), methods=["POST"])
    ]
    if slack_app.oauth_flow is not None:  # installs into many workspaces (Bolt's OAuth flow)
        handler = AsyncSlackRequestHandler(slack_app)
        flow = slack_app.oauth_flow
        installs = install_limit or RateLimit()

        async def slack_oauth(request: Request) -> Response:
            # Each install link writes a state row: bounded per client address.
            client = request.client.host if request.client else "unknown"
            if request.url.path == flow.install_path and not installs.allow(client):
                wait = max(1, math.ceil(installs.retry_after(client)))  # 5 s at the default
                return PlainTextResponse(
                    f"Too many install links from your address; try again in {wait} s.",
                    status_code=429,
                    headers={"Retry-After": str(wait)},
                )
            return await handler.handle(request)

        for path in (flow.install_path, flow.redirect_uri_path):
            routes.append(Route(path, slack_oauth, methods=["GET"]))
    return routes


def socket_mode(ctx: PlatformContext) -> Connection:
    """Slack over a websocket (``SLACK_APP_TOKEN``), as a connection the server keeps open.

    The handler is built when the server starts, on its running loop (its aiohttp session must
    be created there). Connecting runs in the background (:func:`_connect`): start-up (health,
    shutdown on SIGTERM) must not wait for Slack. Beside it :func:`_watch` tells the health
    checks when the socket has been down for :data:`DOWN_AFTER` seconds (``/readyz`` 503).
    """

    @contextlib.asynccontextmanager
    async def connection(problems: Problems) -> AsyncIterator[None]:
        handler = AsyncSocketModeHandler(bolt_app(ctx), ctx.bot.slack_app_token)
        tasks = [
            asyncio.create_task(_connect(handler, problems)),
            asyncio.create_task(_watch(handler.client, problems)),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await handler.close_async()

    return connection


# apps.connections.open errors that retrying cannot fix: the app-level token itself is bad.
_REJECTED_APP_TOKEN = {
    "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
    "not_allowed_token_type", "missing_scope",
}  # fmt: skip
RETRY_FIRST, RETRY_MAX = 5.0, 60.0  # seconds between attempts at a socket URL: 5, 10, … 60
DOWN_AFTER = 60.0  # seconds without a connection before health reports Slack as a problem
CHECK_EVERY = 5.0  # seconds between looks at the connection


async def _connect(handler: AsyncSocketModeHandler, problems: Problems) -> None:
    """Open the Socket Mode connection; a rejected app token is one clear error, not a loop.

    Bolt's ``connect`` retries every failure forever with a traceback every 10 s, which is
    wrong for a revoked token and noisy for an unreachable Slack. So the first socket URL is
    asked for here: a rejected token stops it (a deaf problem), any other failure is one
    warning line per attempt (the traceback with ``-v``) and is retried, 5 s apart doubling
    up to a minute. Bolt then connects with the URL (and reconnects on its own later).
    """
    attempt = 0
    while True:
        try:
            handler.client.wss_uri = await handler.client.issue_new_wss_url()
            break
        except SlackApiError as exc:
            error = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
            if error in _REJECTED_APP_TOKEN:
                log.error(
                    "Slack Socket Mode is off: apps.connections.open rejected SLACK_APP_TOKEN "
                    "(%s); check the app-level token (xapp-, scope connections:write) and restart",
                    error,
                )
                problems.deaf["slack"] = f"Socket Mode off: SLACK_APP_TOKEN rejected ({error})"
                return
            failure: Exception = exc
            reason = f"apps.connections.open answered {error}"
        except Exception as exc:  # unreachable, refused, timed out, a garbled answer, ...
            failure = exc
            text = str(exc).strip()
            reason = f"could not reach apps.connections.open ({type(exc).__name__}: {text})"
        delay = min(RETRY_MAX, RETRY_FIRST * 2**attempt)
        attempt += 1
        log.warning(
            "Slack Socket Mode: %s; retrying in %g s", reason, delay,
            exc_info=failure if log.isEnabledFor(logging.DEBUG) else None,
        )  # fmt: skip
        await asyncio.sleep(delay)
    await handler.connect_async()


async def _watch(client: AsyncBaseSocketModeClient, problems: Problems) -> None:
    """Report a Socket Mode connection that is down for :data:`DOWN_AFTER` seconds (never
    connected, or lost and not yet back) as a ``slack`` problem: ``/readyz`` answers 503
    until it is connected again."""
    loop = asyncio.get_running_loop()
    down_since: float | None = loop.time()
    while "slack" not in problems.deaf:  # a rejected token: said already, nothing to watch
        await asyncio.sleep(CHECK_EVERY)
        if await client.is_connected():
            down_since = None
            if problems.unready.pop("slack", None) is not None:
                log.info("Slack Socket Mode: connected again")
        elif down_since is None:
            down_since = loop.time()
        elif loop.time() - down_since >= DOWN_AFTER:
            seconds = int(loop.time() - down_since)
            problems.unready["slack"] = (
                f"Socket Mode not connected for {seconds} s; retrying (the log says why)"
            )
