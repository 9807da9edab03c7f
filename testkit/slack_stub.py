"""A local Slack Web API stand-in: records every call, answers like Slack, fails on request.

Runs an aiohttp server on 127.0.0.1 (port 0) in its own thread, so the real app, the real
AsyncWebClient and Bolt's response_url client talk to it over HTTP.

Faults (issue #16): ``fail`` (any status, e.g. 500), ``rate_limit`` (429 + Retry-After),
``hang`` (never answer), ``apply_then_delay`` (chat.postMessage is applied to the channel at
once but answered only after a delay: the "applied but unanswered" case), and ``strict``:
chat.postMessage refuses blocks Slack would refuse (``invalid_blocks``), checked by
:func:`slack_would_refuse` — written from Slack's Block Kit reference, independent of the bot's
own validator. Every refusal is kept in ``refused``.

Late posts and membership (issue 25): ``fail_then_apply(method, seconds)`` answers the next call
5xx at once and applies it ``seconds`` later (Slack applying a post well after its 5xx).
Channels in ``members_only`` answer ``conversations.history``/``replies`` with
``not_in_channel`` until the bot joins them (``conversations.join``; the posts themselves go
through, as with ``chat:write.public``); a channel in ``unjoinable`` refuses the join.
A channel in ``gone`` (channel → error, e.g. ``channel_not_found`` after the bot was removed,
``is_archived``) answers every ``chat.postMessage`` to it with that error until it is taken out.

Rate limits: ``pace_channels(interval)`` makes chat.postMessage take at most one message per
``interval`` seconds per channel, as Slack does (~1/s per channel): a post that comes sooner is
answered 429 with ``Retry-After`` (whole seconds, as Slack sends it) and not applied; each such
answer is counted in ``limited`` (channel → count). ``posted_at`` holds when (``time.time()``)
each accepted post was applied, by ts.

Socket Mode: ``apps.connections.open`` with the app-level token (:data:`APP_TOKEN`) answers
``socket_url``, a websocket on the same server that sends ``hello`` and then every envelope in
``socket_envelopes``; frames both ways are recorded as ``socket:sent`` / ``socket:received``.

Workspaces: ``tokens`` maps each valid bot token to its team (``xoxb-test`` → ``T1``).
``grant(code, team, token)`` prepares an OAuth install: ``oauth.v2.access`` with that code and
the app's credentials (:data:`CLIENT_ID`, :data:`CLIENT_SECRET`) answers with the token and
makes it valid; ``revoke(token)`` makes it invalid again.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

APP_TOKEN = "xapp-test"  # the app-level token apps.connections.open accepts
CLIENT_ID, CLIENT_SECRET = "111.222", "client-secret"  # the app's OAuth credentials
HELLO = {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}}

_TEXT_TYPES = {"plain_text", "mrkdwn"}


def _text_problem(obj: object, *, limit: int, plain_only: bool = False) -> bool:
    if not isinstance(obj, dict) or obj.get("type") not in _TEXT_TYPES:
        return True
    if plain_only and obj["type"] != "plain_text":
        return True
    text = obj.get("text")
    return not isinstance(text, str) or not 1 <= len(text) <= limit


def slack_would_refuse(params: dict[str, Any]) -> str | None:
    """The error Slack's chat.postMessage answers for these params, or None if it takes them.

    From Slack's Block Kit reference: ≤ 50 blocks; section text 1–3000 chars (or fields,
    ≤ 10 × 2000); header plain_text 1–150; context 1–10 elements; divider; actions 1–25.
    """
    blocks = params.get("blocks")
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            return "invalid_blocks_format"
    text = params.get("text")
    if not blocks and not (isinstance(text, str) and text.strip()):
        return "no_text"
    if blocks is None:
        return None
    if not isinstance(blocks, list) or len(blocks) > 50:
        return "invalid_blocks"
    for block in blocks:
        if not isinstance(block, dict):
            return "invalid_blocks"
        kind = block.get("type")
        if kind == "section":
            fields = block.get("fields")
            if "text" in block and _text_problem(block["text"], limit=3000):
                return "invalid_blocks"
            if "text" not in block and not fields:
                return "invalid_blocks"
            if fields and (len(fields) > 10 or any(_text_problem(f, limit=2000) for f in fields)):
                return "invalid_blocks"
        elif kind == "header":
            if _text_problem(block.get("text"), limit=150, plain_only=True):
                return "invalid_blocks"
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                return "invalid_blocks"
            for e in elements:
                if isinstance(e, dict) and e.get("type") in _TEXT_TYPES:
                    if _text_problem(e, limit=3000):
                        return "invalid_blocks"
                elif not (isinstance(e, dict) and e.get("type") == "image"):
                    return "invalid_blocks"
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 25:
                return "invalid_blocks"
        elif kind != "divider":
            return "invalid_blocks"
        if len(str(block.get("block_id", ""))) > 255:
            return "invalid_blocks"
    return None


@dataclass
class Call:
    """One request the stub received."""

    method: str  # Web API method (``chat.postMessage``), ``response:<id>`` or ``socket:<dir>``
    params: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)  # when the stub saw (or sent) it
    peer: tuple[str, int] | None = None  # the client's address and port (response_url posts)


class SlackStub:
    """Fake Slack: ``api_url`` for WebClient(base_url=...), ``response_url(id)`` for commands."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.history: dict[str, list[dict]] = defaultdict(list)
        self.socket_envelopes: list[dict] = []  # sent after hello on each Socket Mode connection
        self.tokens: dict[str, str] = {"xoxb-test": "T1"}  # valid bot token → its team id
        self._grants: dict[str, tuple[str, str]] = {}  # OAuth code → (team id, bot token)
        self._sockets: set[web.WebSocketResponse] = set()
        self._failures: dict[str, deque[tuple[int, dict, dict]]] = defaultdict(deque)
        self._hangs: dict[str, int] = defaultdict(int)  # calls to leave unanswered
        self._delays: dict[str, deque[float]] = defaultdict(deque)  # apply, answer after delay
        self._late: dict[str, deque[float]] = defaultdict(deque)  # 5xx now, applied later
        self.members_only: set[str] = set()  # history needs membership (chat:write.public)
        self.members: set[str] = set()  # channels the bot joined
        self.unjoinable: set[str] = set()  # conversations.join refused (e.g. private)
        self.gone: dict[str, str] = {}  # channel → chat.postMessage's error (removed, archived)
        self.strict = False  # chat.postMessage refuses what Slack would refuse
        self.refused: list[tuple[str, dict[str, Any]]] = []  # (error, params) of refused posts
        self.channel_interval = 0.0  # > 0: chat.postMessage paced per channel (429 sooner)
        self.limited: dict[str, int] = defaultdict(int)  # channel → 429s answered
        self.posted_at: dict[str, float] = {}  # ts → time.time() the post was applied
        self._last_post: dict[str, float] = {}  # channel → monotonic time of its last post
        self._answered: list[Call] = []
        self._cond = threading.Condition()
        self._ts = 1_700_000_000
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    # -- control ------------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/response/{name}"

    @property
    def socket_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link"

    def fail(
        self,
        method: str,
        status: int = 200,
        body: dict | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with this status/body/headers."""
        for _ in range(times):
            self._failures[method].append(
                (status, body or {"ok": False, "error": "fatal_error"}, headers or {})
            )

    def rate_limit(self, method: str, retry_after: int = 0, times: int = 1) -> None:
        """Answer 429 + Retry-After, as Slack does over its rate limits."""
        self.fail(
            method,
            429,
            {"ok": False, "error": "ratelimited"},
            {"Retry-After": str(retry_after)},
            times,
        )

    def pace_channels(self, interval: float = 1.0) -> None:
        """At most one chat.postMessage per ``interval`` s per channel; sooner: 429 + Retry-After."""
        self.channel_interval = interval

    def hang(self, method: str, times: int = 1) -> None:
        """Take the next ``times`` calls of ``method`` and never answer (nor apply) them."""
        self._hangs[method] += times

    def apply_then_delay(self, method: str, seconds: float, times: int = 1) -> None:
        """Apply the next ``times`` calls of ``method`` at once but answer only after ``seconds``."""
        self._delays[method].extend([seconds] * times)

    def fail_then_apply(self, method: str, seconds: float, status: int = 500) -> None:
        """Answer the next call of ``method`` with ``status`` at once, and apply it after
        ``seconds`` (the post shows up in the channel then)."""
        self._late[method].append(seconds)
        self.fail(method, status, {"ok": False, "error": "internal_error"})

    def posted(self, channel: str) -> list[dict]:
        """The messages in a channel's history, oldest first."""
        with self._cond:
            return list(self.history[channel])

    def grant(self, code: str, team: str, token: str) -> None:
        """Let ``oauth.v2.access`` exchange ``code`` (once) for ``token`` in ``team``."""
        self._grants[code] = (team, token)

    def revoke(self, token: str) -> None:
        """Slack forgets ``token`` (the workspace uninstalled the app)."""
        self.tokens.pop(token, None)

    def wait_until(self, predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
        """Block until ``predicate()`` holds, re-checked whenever a call arrives or is answered."""
        with self._cond:
            ok = self._cond.wait_for(predicate, timeout)
        assert ok, f"stub: condition not met within {timeout} s"

    def answered(self, method: str) -> list[Call]:
        """Calls of ``method`` whose (possibly delayed) answer has gone out."""
        with self._cond:
            return [c for c in self._answered if c.method == method]

    def of(self, method: str) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """Block until ``count`` calls of ``method`` arrived (a condition wait, not a sleep)."""
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self._matching(method)) >= count, timeout)
            assert ok, f"stub saw {len(self._matching(method))} {method} call(s), wanted {count}"
            return self._matching(method)

    def _matching(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    # -- server -------------------------------------------------------------------------------

    def start(self) -> SlackStub:
        self._thread.start()
        assert self._ready.wait(10), "stub did not start"
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._closing.set)  # hanging handlers give up
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._closing = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{name}", self._response)
        app.router.add_get("/link", self._link)
        app.on_shutdown.append(self._close_sockets)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = self._runner.addresses[0][1]
        self._ready.set()
        self._loop.run_forever()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        raw = await request.read()
        if raw:
            if request.content_type == "application/json":
                params.update(json.loads(raw))
            else:
                params.update(dict(await request.post()))
        return params

    def _record(self, call: Call) -> None:
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        call = Call(method, params, dict(request.headers))
        self._record(call)
        if self._failures[method]:
            status, body, headers = self._failures[method].popleft()
            if self._late[method]:
                later = self._late[method].popleft()
                self._loop.call_later(later, self._apply_late, method, params)
            return web.json_response(body, status=status, headers=headers)
        if self._hangs[method] > 0:
            self._hangs[method] -= 1
            await self._pause(3600)  # the client gives up first; stop() ends the wait
        if self._delays[method]:
            delay = self._delays[method].popleft()
            with self._cond:
                answer = self._answer(method, params)  # applied now ...
                self._cond.notify_all()
            await self._pause(delay)  # ... answered (if the client still listens) later
            self._done(call)
            return web.json_response(answer)
        if method == "apps.connections.open":  # only the app-level token opens a socket
            if request.headers.get("Authorization") != f"Bearer {APP_TOKEN}":
                return web.json_response({"ok": False, "error": "invalid_auth"})
            return web.json_response({"ok": True, "url": self.socket_url})
        if method == "oauth.v2.access":
            return web.json_response(self._oauth(request, params))
        auth = request.headers.get("Authorization", "")
        team = self.tokens.get(auth.removeprefix("Bearer "))
        if not auth.startswith("Bearer ") or team is None:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        with self._cond:
            wait = self._too_soon(method, params)
            answer = (
                {"ok": False, "error": "ratelimited"}
                if wait
                else self._answer(method, params, team)
            )
        self._done(call)
        if wait:
            headers = {"Retry-After": str(max(1, math.ceil(wait)))}
            return web.json_response(answer, status=429, headers=headers)
        return web.json_response(answer)

    def _too_soon(self, method: str, params: dict[str, Any]) -> float:
        """Seconds until ``params``' channel may take another post (0: now); counts refusals."""
        if method != "chat.postMessage" or self.channel_interval <= 0:
            return 0.0
        channel, now = str(params.get("channel")), time.monotonic()
        last = self._last_post.get(channel)
        if last is not None and now - last < self.channel_interval:
            self.limited[channel] += 1
            return self.channel_interval - (now - last)
        self._last_post[channel] = now
        return 0.0

    def _apply_late(self, method: str, params: dict[str, Any]) -> None:
        with self._cond:
            self._answer(method, params)
            self._cond.notify_all()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    def _done(self, call: Call) -> None:
        with self._cond:
            self._answered.append(call)
            self._cond.notify_all()

    def _oauth(self, request: web.Request, params: dict[str, Any]) -> dict:
        # slack_sdk sends the client id and secret as HTTP Basic auth (Slack accepts both).
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            login, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            creds: tuple[object, object] = (login, password)
        else:
            creds = (params.get("client_id"), params.get("client_secret"))
        if creds != (CLIENT_ID, CLIENT_SECRET):
            return {"ok": False, "error": "invalid_client_id"}
        grant = self._grants.pop(str(params.get("code")), None)
        if grant is None:
            return {"ok": False, "error": "invalid_code"}
        team, token = grant
        self.tokens[token] = team
        return {
            "ok": True,
            "access_token": token,
            "token_type": "bot",
            "scope": "commands,chat:write,chat:write.public,channels:history,groups:history",
            "bot_user_id": "UBOT",
            "app_id": "A1",
            "team": {"id": team, "name": f"Team {team}"},
            "enterprise": None,
            "is_enterprise_install": False,
            "authed_user": {"id": "UINSTALLER"},
        }

    def _answer(self, method: str, params: dict[str, Any], team: str = "T1") -> dict:
        if method == "auth.test":
            return {
                "ok": True,
                "user_id": "UBOT",
                "bot_id": "BBOT",
                "team_id": team,
                "team": "Test",
                "url": "https://test.slack.com/",
            }
        if method == "chat.postMessage":
            if (gone := self.gone.get(str(params.get("channel")))) is not None:
                return {"ok": False, "error": gone}
            if self.strict and (error := slack_would_refuse(params)):
                with self._cond:
                    self.refused.append((error, params))
                return {"ok": False, "error": error}
            self._ts += 1
            ts = f"{self._ts}.000100"
            message = {
                "ts": ts,
                "text": params.get("text"),
                "blocks": params.get("blocks"),
                "metadata": params.get("metadata"),
            }
            if params.get("thread_ts"):
                message["thread_ts"] = params["thread_ts"]  # a reply in that message's thread
            self.history[params["channel"]].append(message)  # every post, replies included
            self.posted_at[ts] = time.time()
            return {"ok": True, "channel": params["channel"], "ts": ts, "message": message}
        if method == "conversations.join":
            channel = str(params.get("channel"))
            if channel in self.unjoinable:
                return {"ok": False, "error": "method_not_supported_for_channel_type"}
            self.members.add(channel)
            return {"ok": True, "channel": {"id": channel}}
        if method in {"conversations.history", "conversations.replies"}:
            channel = str(params.get("channel"))
            if channel in self.members_only and channel not in self.members:
                return {"ok": False, "error": "not_in_channel"}
            if method == "conversations.history":  # top-level messages only, as Slack's
                picked = [m for m in self.history[params["channel"]] if "thread_ts" not in m]
            else:  # the parent and its replies, oldest first
                parent = str(params.get("ts"))
                picked = [
                    m
                    for m in self.history[params["channel"]]
                    if m["ts"] == parent or m.get("thread_ts") == parent
                ]
            messages = [dict(m) for m in reversed(picked)]
            if str(params.get("include_all_metadata")).lower() not in {"1", "true"}:
                for m in messages:
                    m.pop("metadata", None)  # Slack leaves metadata out unless asked
            return {"ok": True, "messages": messages, "has_more": False}
        return {"ok": True}

    async def _response(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        peer = request.transport.get_extra_info("peername") if request.transport else None
        name = f"response:{request.match_info['name']}"
        self._record(Call(name, params, dict(request.headers), peer=tuple(peer) if peer else None))
        return web.Response(text="ok")

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.add(ws)
        try:
            for message in [HELLO, *self.socket_envelopes]:
                self._record(Call("socket:sent", message))
                await ws.send_json(message)
            async for frame in ws:
                if frame.type == WSMsgType.TEXT:
                    self._record(Call("socket:received", json.loads(frame.data)))
        finally:
            self._sockets.discard(ws)
        return ws

    async def _close_sockets(self, _: web.Application) -> None:
        for ws in list(self._sockets):
            await ws.close()
