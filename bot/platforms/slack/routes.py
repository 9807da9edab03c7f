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
from collections.abc import AsyncIterator

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.platforms import Connection, PlatformContext
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
                return PlainTextResponse(
                    "Too many install attempts from your address; try again in a minute.",
                    status_code=429,
                    headers={"Retry-After": "60"},
                )
            return await handler.handle(request)

        for path in (flow.install_path, flow.redirect_uri_path):
            routes.append(Route(path, slack_oauth, methods=["GET"]))
    return routes


def socket_mode(ctx: PlatformContext) -> Connection:
    """Slack over a websocket (``SLACK_APP_TOKEN``), as a connection the server keeps open.

    The handler is built when the server starts, on its running loop (its aiohttp session must
    be created there). Connecting runs in the background: Bolt retries an unreachable Slack
    forever, and start-up (health, shutdown on SIGTERM) must not wait for it.
    """

    @contextlib.asynccontextmanager
    async def connection(problems: dict[str, str]) -> AsyncIterator[None]:
        handler = AsyncSocketModeHandler(bolt_app(ctx), ctx.bot.slack_app_token)
        connecting = asyncio.create_task(_connect(handler, problems))
        try:
            yield
        finally:
            connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await connecting
            await handler.close_async()

    return connection


# apps.connections.open errors that retrying cannot fix: the app-level token itself is bad.
_REJECTED_APP_TOKEN = {
    "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
    "not_allowed_token_type", "missing_scope",
}  # fmt: skip


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
