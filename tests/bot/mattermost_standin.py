"""A local Mattermost stand-in: incoming webhooks, the REST endpoints the bot uses, and a
``response_url`` sink, over real HTTP (serve it with ``tests.bot.discord_standin.serving``).

Incoming webhooks (``POST /hooks/{id}``) answer ``ok`` like Mattermost's; the REST API
(``/api/v4/hooks/incoming/{id}``, ``/api/v4/posts``, ``/api/v4/channels/{id}/posts``) wants
``Authorization: Bearer <bot_token>``. A post with ``root_id`` is a reply in that post's
thread; as Mattermost's CreatePost does, a root that is not a top-level post of the same
channel is refused 400 (``api.post.create_post.root_id.app_error``). ``faults`` queues answers to give instead of the real
one: ``"429"``, ``"404"``, ``"apply+502"`` (the post is stored, then 502 is answered), or
``"pass"`` (the real answer: a later request's fault).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route


@dataclass
class Post:
    """A post as the channel shows it."""

    id: str
    channel_id: str
    message: str
    props: dict
    create_at: int  # ms
    via: str  # "webhook" | "api"
    root_id: str = ""  # a reply: its thread's first post


@dataclass
class MattermostStandIn:
    """Records posts per channel; a webhook ``h1`` posts to channel ``ch-h1``."""

    bot_token: str = "bot-token"
    posts: list[Post] = field(default_factory=list)
    responses: asyncio.Queue[dict] = field(default_factory=asyncio.Queue)
    faults: list[str] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)
    clock_offset_ms: int = 0  # the server's clock against ours (negative: behind)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def in_channel(self, channel_id: str) -> list[Post]:
        """The channel's posts, oldest first."""
        return [p for p in self.posts if p.channel_id == channel_id]

    def _store(
        self, channel_id: str, message: str, props: dict, via: str, root_id: str = ""
    ) -> Post:
        post = Post(
            f"post{next(self._ids)}",
            channel_id,
            message,
            props,
            int(time.time() * 1000) + self.clock_offset_ms,
            via,
            root_id,
        )
        self.posts.append(post)
        return post

    def _fault(self, body: dict, channel_id: str, via: str) -> Response | None:
        if not self.faults:
            return None
        fault = self.faults.pop(0)
        if fault == "pass":
            return None
        if fault == "apply+502":
            text = body.get("text") if via == "webhook" else body.get("message")
            root_id = str(body.get("root_id") or "") if via == "api" else ""
            self._store(channel_id, str(text), dict(body.get("props") or {}), via, root_id)
            return PlainTextResponse("bad gateway", status_code=502)
        if fault == "429":
            return JSONResponse({"message": "too many"}, 429, headers={"Retry-After": "7"})
        return JSONResponse({"message": "gone"}, status_code=int(fault))

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.bot_token}"

    def app(self) -> Starlette:
        """The ASGI app."""

        async def hook(request: Request) -> Response:
            hook_id = request.path_params["hook"]
            self.calls.append(("POST", request.url.path))
            body = await request.json()
            if (fault := self._fault(body, f"ch-{hook_id}", "webhook")) is not None:
                return fault
            if not isinstance(body.get("text"), str) or len(body["text"]) > 16_383:
                return JSONResponse({"message": "invalid text"}, status_code=400)
            self._store(f"ch-{hook_id}", body["text"], dict(body.get("props") or {}), "webhook")
            return PlainTextResponse("ok")

        async def incoming(request: Request) -> Response:
            self.calls.append(("GET", request.url.path))
            if not self._authorized(request):
                return JSONResponse({"message": "unauthorized"}, status_code=401)
            hook_id = request.path_params["hook"]
            return JSONResponse({"id": hook_id, "channel_id": f"ch-{hook_id}"})

        async def create_post(request: Request) -> Response:
            self.calls.append(("POST", request.url.path))
            if not self._authorized(request):
                return JSONResponse({"message": "unauthorized"}, status_code=401)
            body = await request.json()
            channel_id = str(body.get("channel_id"))
            root_id = str(body.get("root_id") or "")
            roots = {p.id for p in self.in_channel(channel_id) if not p.root_id}
            if root_id and root_id not in roots:
                invalid = {"id": "api.post.create_post.root_id.app_error", "status_code": 400}
                return JSONResponse({**invalid, "message": "Invalid RootId parameter."}, 400)
            if (fault := self._fault(body, channel_id, "api")) is not None:
                return fault
            props = dict(body.get("props") or {})
            post = self._store(channel_id, body["message"], props, "api", root_id)
            answer = {"id": post.id, "channel_id": channel_id, "root_id": root_id}
            return JSONResponse(answer, status_code=201)

        async def channel_posts(request: Request) -> Response:
            self.calls.append(("GET", request.url.path))
            if not self._authorized(request):
                return JSONResponse({"message": "unauthorized"}, status_code=401)
            since = int(request.query_params.get("since", "0"))
            found = [
                p for p in self.in_channel(request.path_params["channel"]) if p.create_at >= since
            ]
            posts = {
                p.id: {"id": p.id, "message": p.message, "props": p.props, "root_id": p.root_id}
                for p in found
            }
            return JSONResponse({"order": [p.id for p in reversed(found)], "posts": posts})

        async def respond(request: Request) -> Response:
            self.calls.append(("POST", request.url.path))
            await self.responses.put(await request.json())
            return PlainTextResponse("ok")

        return Starlette(
            routes=[
                Route("/hooks/{hook}", hook, methods=["POST"]),
                Route("/api/v4/hooks/incoming/{hook}", incoming, methods=["GET"]),
                Route("/api/v4/posts", create_post, methods=["POST"]),
                Route("/api/v4/channels/{channel}/posts", channel_posts, methods=["GET"]),
                Route("/response/{id}", respond, methods=["POST"]),
            ]
        )
