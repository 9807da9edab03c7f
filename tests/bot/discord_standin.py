"""A local stand-in for Discord's HTTP API, and a helper to serve any ASGI app on 127.0.0.1:0.

The stand-in records every call and answers like Discord for the endpoints the bot uses:
execute / get / delete webhook, create a channel webhook (bot token), channel message history,
the bot's own user (``/users/@me``, 401 for another token), edit an interaction's original response and
bulk-overwrite application commands. Tests script failures: ``rate_limit(n)`` answers the
next ``n`` webhook posts with 429 + ``retry_after``; ``delete_webhook(id)`` makes it 404.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

CHANNEL_ID = "900000000000000001"
GUILD_ID = "800000000000000001"  # a webhook object names its guild (GET /webhooks/{id}/{token})
APPLICATION_ID = "123456789012345678"  # the bot's application: owns the webhooks it creates


@asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1, port 0; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)  # listening before uvicorn starts: clients queue, no startup polling
    config = uvicorn.Config(app, lifespan="off", log_level="warning", ws="none", http="h11")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class Call:
    """One request the stand-in received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: object


@dataclass
class DiscordStandIn:
    """Records calls; holds posted messages per channel; scripted 429s and deleted webhooks.

    A webhook the bot created (``POST /channels/{id}/webhooks``) is owned by its application
    and may post buttons; one made by hand in Discord (any other id) may not: its
    ``components`` are ignored, and refused (400) with ``?with_components=true``, as Discord's
    Execute Webhook documents ("non-application-owned webhooks cannot send interactive
    components").
    """

    bot_token: str = "bot-token"
    retry_after: float = 0.05
    calls: list[Call] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)  # every message posted, oldest first
    edits: asyncio.Queue = field(default_factory=asyncio.Queue)  # PATCH @original bodies
    commands: dict[str, list[dict]] = field(default_factory=dict)
    no_manage_webhooks: set[str] = field(default_factory=set)  # channels the bot may not hook
    app_owned: set[str] = field(default_factory=set)  # webhook ids the bot's application made
    _limited: int = 0
    applied_then_502: int = 0  # next webhook posts: applied, then answered 502 (outcome unknown)
    _gone: set[str] = field(default_factory=set)
    _ids: itertools.count = field(
        default_factory=lambda: itertools.count(1_000_000_000_000_000_001)
    )

    def rate_limit(self, times: int) -> None:
        """Answer the next ``times`` webhook posts with 429."""
        self._limited = times

    def delete_webhook(self, webhook_id: str) -> None:
        """From now on the webhook answers 404 Unknown Webhook."""
        self._gone.add(webhook_id)

    def webhook_url(self, base: str, webhook_id: str = "111", token: str = "hook-token") -> str:
        """The URL Discord would show for a channel webhook, on the stand-in."""
        return f"{base}/api/webhooks/{webhook_id}/{token}"

    def calls_to(self, method: str, fragment: str) -> list[Call]:
        """Calls with this method whose path contains ``fragment``."""
        return [c for c in self.calls if c.method == method and fragment in c.path]

    def app(self) -> Starlette:
        """The ASGI app to serve."""
        return Starlette(
            routes=[
                Route(
                    "/api/webhooks/{hook}/{token}", self._webhook, methods=["POST", "GET", "DELETE"]
                ),
                Route("/api/channels/{channel}/webhooks", self._create_webhook, methods=["POST"]),
                Route(
                    "/api/webhooks/{app}/{token}/messages/@original",
                    self._edit_original,
                    methods=["PATCH"],
                ),
                Route("/api/channels/{channel}/messages", self._history, methods=["GET"]),
                Route("/api/users/@me", self._me, methods=["GET"]),
                Route("/api/applications/{app}/commands", self._commands, methods=["PUT"]),
                Route(
                    "/api/applications/{app}/guilds/{guild}/commands",
                    self._commands,
                    methods=["PUT"],
                ),
            ]
        )

    async def _record(self, request: Request) -> object:
        body = await request.body()
        self.calls.append(
            Call(
                request.method,
                request.url.path,
                dict(request.query_params),
                dict(request.headers),
                await request.json() if body else None,
            )
        )
        return self.calls[-1].json

    async def _webhook(self, request: Request) -> JSONResponse:
        payload = await self._record(request)
        hook = request.path_params["hook"]
        if hook in self._gone:
            return JSONResponse({"message": "Unknown Webhook", "code": 10015}, status_code=404)
        if request.method == "GET":
            owner = APPLICATION_ID if hook in self.app_owned else None
            return JSONResponse(
                {"id": hook, "type": 1, "channel_id": CHANNEL_ID, "guild_id": GUILD_ID,
                 "application_id": owner}
            )  # fmt: skip
        if request.method == "DELETE":
            self._gone.add(hook)
            return JSONResponse(None, status_code=204)
        if self._limited:
            self._limited -= 1
            return JSONResponse(
                {
                    "message": "You are being rate limited.",
                    "retry_after": self.retry_after,
                    "global": False,
                },
                status_code=429,
                headers={
                    "Retry-After": "1",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset-After": str(self.retry_after),
                    "X-RateLimit-Scope": "user",
                },
            )
        assert isinstance(payload, dict)
        components = payload.get("components") or []
        interactive = any(c.get("custom_id") for row in components for c in row["components"])
        asked = request.query_params.get("with_components") == "true"
        if hook not in self.app_owned and asked and interactive:
            return JSONResponse(
                {"message": "Invalid Form Body", "code": 50035,
                 "errors": {"components": "interactive components need an app-owned webhook"}},
                status_code=400,
            )  # fmt: skip
        message = {
            "id": str(next(self._ids)),
            "channel_id": CHANNEL_ID,
            "webhook_id": hook,
            "content": payload.get("content", ""),
            "embeds": payload.get("embeds", []),
            "allowed_mentions": payload.get("allowed_mentions"),
            "components": components if hook in self.app_owned or asked else [],
            "wait": request.query_params.get("wait"),
        }
        self.messages.append(message)
        if self.applied_then_502:
            self.applied_then_502 -= 1
            return JSONResponse({"message": "Bad Gateway", "code": 0}, status_code=502)
        headers = {
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "4",
            "X-RateLimit-Reset-After": "1.0",
        }
        if request.query_params.get("wait") == "true":
            return JSONResponse(message, headers=headers)
        return JSONResponse(None, status_code=204, headers=headers)

    async def _create_webhook(self, request: Request) -> JSONResponse:
        """``POST /channels/{id}/webhooks``: needs the bot token and Manage Webhooks there."""
        await self._record(request)
        if request.headers.get("authorization") != f"Bot {self.bot_token}":
            return JSONResponse({"message": "401: Unauthorized", "code": 0}, status_code=401)
        channel = request.path_params["channel"]
        if channel in self.no_manage_webhooks:
            return JSONResponse({"message": "Missing Permissions", "code": 50013}, status_code=403)
        hook = str(next(self._ids))
        self.app_owned.add(hook)
        base = str(request.base_url).rstrip("/")
        return JSONResponse(
            {"id": hook, "type": 1, "channel_id": channel, "token": f"tok{hook}",
             "url": f"{base}/api/webhooks/{hook}/tok{hook}"}
        )  # fmt: skip

    async def _history(self, request: Request) -> JSONResponse:
        await self._record(request)
        if request.headers.get("authorization") != f"Bot {self.bot_token}":
            return JSONResponse({"message": "401: Unauthorized", "code": 0}, status_code=401)
        limit = int(request.query_params.get("limit", "50"))
        return JSONResponse(list(reversed(self.messages))[:limit])  # newest first, like Discord

    async def _me(self, request: Request) -> JSONResponse:
        """The bot's own user: 401 (Discord's JSON error) unless ``Bot <bot_token>``."""
        await self._record(request)
        if request.headers.get("authorization") != f"Bot {self.bot_token}":
            return JSONResponse({"message": "401: Unauthorized", "code": 0}, status_code=401)
        return JSONResponse({"id": APPLICATION_ID, "username": "digestbot", "bot": True})

    async def _edit_original(self, request: Request) -> JSONResponse:
        payload = await self._record(request)
        await self.edits.put(
            {
                "app": request.path_params["app"],
                "token": request.path_params["token"],
                "payload": payload,
            }
        )
        return JSONResponse({"id": str(next(self._ids)), **(payload or {})})  # type: ignore[dict-item]

    async def _commands(self, request: Request) -> JSONResponse:
        payload = await self._record(request)
        if request.headers.get("authorization") != f"Bot {self.bot_token}":
            return JSONResponse({"message": "401: Unauthorized", "code": 0}, status_code=401)
        assert isinstance(payload, list)
        saved = [
            {**c, "id": str(next(self._ids)), "application_id": request.path_params["app"]}
            for c in payload
        ]
        self.commands[request.url.path] = saved
        return JSONResponse(saved)


@contextmanager
def serving_in_thread(app: ASGIApp) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1:0 from a thread with its own loop (for code that calls asyncio.run)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    config = uvicorn.Config(app, lifespan="off", log_level="warning", ws="none", http="h11")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join()
        sock.close()
