"""An independent Mattermost server stand-in for the acceptance tests (issue 23).

Written from Mattermost's own API and integration docs, apart from ``mattermost_standin.py``
(the bot's unit tests' stand-in), so the two do not share assumptions. A plain
``http.server`` on 127.0.0.1 in a thread, speaking HTTP/1.0 (one request per connection):

* ``POST /hooks/<id>`` — an incoming webhook: JSON (or a ``payload=`` form), answered
  ``ok`` as ``text/plain``; an unknown id is 400 ("Invalid webhook"), as Mattermost does.
* ``POST /hooks/commands/<id>`` — a slash command's ``response_url``: a command webhook the
  server made for one command (:meth:`MattermostServer.response_url`), usable five times
  within 30 minutes (model/command_webhook.go, app/webhook.go HandleCommandWebhook); an unknown
  or expired id is 404, a sixth use 400.
* :meth:`MattermostServer.slash_command` runs a custom slash command as the server does: the
  form POSTed to the command's URL with ``response_url`` on the server's Site URL
  (``site_url``), waited for ``outgoing_timeout`` seconds (OutgoingIntegrationRequestsTimeout).
* ``GET /api/v4/hooks/incoming/<id>`` (403 unless ``bot_permissions`` has
  ``manage_incoming_webhooks`` and ``manage_others_incoming_webhooks``),
  ``POST /api/v4/posts`` (201 and the post),
  ``GET /api/v4/channels/<id>/posts?since=ms`` — with ``Authorization: Bearer <bot token>``.
  As Mattermost's server does, ``since`` returns the posts changed after it and ignores
  ``page`` / ``per_page``, at most :data:`SINCE_CAP` of them (store/sqlstore/post_store.go
  GetPostsSince: ``LIMIT 1000`` with no ``ORDER BY``, so which ones is unspecified: the
  stand-in keeps the newest, which hides the oldest). Without ``since``, ``page`` /
  ``per_page`` (default 60, at most 200) page through the channel newest first
  (GetPostsPage: ``ORDER BY CreateAt DESC LIMIT per_page OFFSET page * per_page``).

Faults for the next ``POST /api/v4/posts``: ``"drop"`` (the post is stored, then the
connection closes with no answer), ``"500"`` (stored, then 500) and ``"429"`` (not stored,
429 with ``retry_after`` as its ``Retry-After`` header, as a rate limit or a proxy answers). Everything the server
stores is in ``posts``; every post over 16,383 characters is in ``too_long``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx

MAX_POST = 16_383  # Mattermost 5.0+: a post's message, in characters
SINCE_CAP = 1_000  # posts a ``since`` answer holds at most
PER_PAGE_DEFAULT, PER_PAGE_MAX = 60, 200  # server/channels/web/params.go
COMMAND_HOOK_LIFETIME_MS = 30 * 60 * 1000  # model.CommandWebhookLifetime
COMMAND_HOOK_USES = 5  # app/webhook.go HandleCommandWebhook: TryUse(hook.Id, 5)


@dataclass
class Post:
    """One post the server stored."""

    id: str
    channel_id: str
    message: str
    props: dict
    via: str  # "webhook" or "api"
    create_at: int


@dataclass
class MattermostServer:
    """The stand-in; ``url`` is the server's base URL (what MATTERMOST_URL names)."""

    bot_token: str | None = None
    hooks: dict[str, str] = field(default_factory=lambda: {"hook1": "chan1"})
    posts: list[Post] = field(default_factory=list)
    responses: list[dict] = field(default_factory=list)  # bodies posted to response URLs
    too_long: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    incoming_webhooks: bool = True  # False: the admin turned them off (every post 501)
    # The bot's team permissions; the hooks were made by another user, so reading one needs
    # both (Mattermost's api4/webhook.go getIncomingHook).
    bot_permissions: set[str] = field(
        default_factory=lambda: {"manage_incoming_webhooks", "manage_others_incoming_webhooks"}
    )
    requests: list[str] = field(default_factory=list)  # "METHOD path" of every request
    retry_after: str = "1"  # the Retry-After header of a "429" fault
    # The Site URL response_urls are built on ("": ``url``). When the admin set none, Mattermost
    # uses the host the user's browser reached, which need not be the bot's MATTERMOST_URL.
    site_url: str = ""
    outgoing_timeout: float = 30.0  # OutgoingIntegrationRequestsTimeout, seconds
    command_hooks: dict[str, list[int]] = field(default_factory=dict)  # id → [made at ms, uses]
    url: str = ""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                server._handle(self, "GET")

            def do_POST(self) -> None:
                server._handle(self, "POST")

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def in_channel(self, channel_id: str) -> list[Post]:
        with self._lock:
            return [p for p in self.posts if p.channel_id == channel_id]

    def response_url(self) -> str:
        """A new command webhook's URL, on the Site URL (app/command.go: ``response_url``)."""
        hook = uuid.uuid4().hex[:26]
        with self._lock:
            self.command_hooks[hook] = [int(time.time() * 1000), 0]
        return f"{self.site_url or self.url}/hooks/commands/{hook}"

    def slash_command(
        self, url: str, token: str, text: str, *, channel_id: str = "chan1", user_id: str = "user1"
    ) -> dict:
        """Run a custom slash command (method POST) as Mattermost does (app/command.go
        ExecuteCommand → DoCommandRequest) and return what the user is shown: the command's
        answer, or ``{"error": …}`` when the request failed (no answer within
        ``outgoing_timeout`` seconds, or not 200). Blocking: call it from a thread."""
        fields = {
            "channel_id": channel_id, "channel_name": "town-square", "command": "/brief",
            "response_url": self.response_url(), "team_domain": "acme", "team_id": "team1",
            "text": text, "token": token, "trigger_id": uuid.uuid4().hex, "user_id": user_id,
            "user_name": "ana",
        }  # fmt: skip
        headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
        failed = {"error": "Command with a trigger of '/brief' failed."}
        try:
            answer = httpx.post(url, data=fields, headers=headers, timeout=self.outgoing_timeout)
        except httpx.HTTPError:
            return failed
        return answer.json() if answer.status_code == 200 else failed

    # -- the server ---------------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        path, query = parts.path, parse_qs(parts.query)
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        with self._lock:
            self.requests.append(f"{method} {path}")
        segments = path.strip("/").split("/")
        if method == "POST" and segments[:2] == ["hooks", "commands"] and len(segments) == 3:
            with self._lock:
                made_uses = self.command_hooks.get(segments[2])
                if (
                    made_uses is None
                    or made_uses[0] < time.time() * 1000 - COMMAND_HOOK_LIFETIME_MS
                ):
                    gone = {"id": "web.command_webhook.invalid.app_error", "status_code": 404}
                    return _send(h, 404, {**gone, "message": "Unable to find the webhook."})
                if made_uses[1] >= COMMAND_HOOK_USES:
                    used = {"id": "app.command_webhook.try_use.invalid", "status_code": 400}
                    return _send(h, 400, {**used, "message": "Invalid webhook."})
                made_uses[1] += 1
                self.responses.append(json.loads(body))
            return _send(h, 200, "", "text/plain")
        if method == "POST" and segments[0] == "hooks" and len(segments) == 2:
            return self._webhook(h, segments[1], body)
        if segments[:2] != ["api", "v4"]:
            return _send(h, 404, {"message": "not found"})
        if not self.bot_token or h.headers.get("Authorization") != f"Bearer {self.bot_token}":
            return _send(h, 401, {"id": "api.context.session_expired.app_error"})
        rest = segments[2:]
        if method == "GET" and rest[:2] == ["hooks", "incoming"] and len(rest) == 3:
            channel = self.hooks.get(rest[2])
            if channel is None:
                return _send(h, 404, {"message": "Unable to find the webhook."})
            needed = {"manage_incoming_webhooks", "manage_others_incoming_webhooks"}
            if not needed <= self.bot_permissions:
                denied = {"id": "api.context.permissions.app_error", "status_code": 403}
                return _send(h, 403, {**denied, "message": "You do not have the appropriate "
                                      "permissions."})  # fmt: skip
            return _send(h, 200, {"id": rest[2], "channel_id": channel, "team_id": "team1"})
        if method == "POST" and rest == ["posts"]:
            return self._api_post(h, json.loads(body))
        if method == "GET" and len(rest) == 3 and rest[0] == "channels" and rest[2] == "posts":
            since = int(query.get("since", ["0"])[0])
            with self._lock:
                channel = sorted(
                    (p for p in self.posts if p.channel_id == rest[1]), key=lambda p: p.create_at
                )
            if since > 0:
                found = [p for p in channel if p.create_at > since][-SINCE_CAP:]
            else:
                per_page = int(query.get("per_page", [str(PER_PAGE_DEFAULT)])[0])
                per_page = PER_PAGE_DEFAULT if per_page < 0 else min(per_page, PER_PAGE_MAX)
                start = int(query.get("page", ["0"])[0]) * per_page
                newest_first = channel[::-1][start : start + per_page]
                found = newest_first[::-1]
            return _send(
                h,
                200,
                {
                    "order": [p.id for p in reversed(found)],
                    "posts": {p.id: _as_json(p) for p in found},
                },
            )
        return _send(h, 404, {"message": "not found"})

    def _store(self, channel: str, message: str, props: dict, via: str) -> Post:
        if len(message) > MAX_POST:
            self.too_long.append(message)
        post = Post(uuid.uuid4().hex[:26], channel, message, props, via, int(time.time() * 1000))
        with self._lock:
            self.posts.append(post)
        return post

    def _webhook(self, h: BaseHTTPRequestHandler, hook: str, body: bytes) -> None:
        if not self.incoming_webhooks:  # turned off in the System Console
            off = {"id": "web.incoming_webhook.disabled.app_error", "status_code": 501}
            return _send(h, 501, {**off, "message": "Incoming webhooks have been disabled."})
        channel = self.hooks.get(hook)
        if channel is None:
            # A deleted (or never made) webhook, as Mattermost's HandleIncomingWebhook answers.
            invalid = {"id": "web.incoming_webhook.invalid.app_error", "status_code": 400}
            return _send(h, 400, {**invalid, "message": "Invalid webhook."})
        if h.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            data = json.loads(parse_qs(body.decode())["payload"][0])
        else:
            data = json.loads(body)
        if not data.get("text") and not data.get("attachments"):
            return _send(h, 400, {"message": "Unable to parse incoming data"})
        self._store(channel, data.get("text", ""), data.get("props") or {}, "webhook")
        return _send(h, 200, "ok", "text/plain")

    def _api_post(self, h: BaseHTTPRequestHandler, data: dict) -> None:
        if data.get("channel_id") not in self.hooks.values():
            return _send(h, 403, {"message": "You do not have the appropriate permissions."})
        with self._lock:
            limited = bool(self.faults) and self.faults[0] == "429"
            if limited:
                self.faults.pop(0)
        if limited:
            limit = {"id": "api.context.rate_limit_exceeded.app_error", "status_code": 429}
            return _send(h, 429, limit, headers={"Retry-After": self.retry_after})
        post = self._store(
            data["channel_id"], data.get("message", ""), data.get("props") or {}, "api"
        )
        with self._lock:
            fault = self.faults.pop(0) if self.faults else None
        if fault == "drop":  # applied, then the connection is gone before any answer
            h.close_connection = True
            return None
        if fault == "500":
            return _send(h, 500, {"message": "internal error"})
        return _send(h, 201, _as_json(post))


def _as_json(post: Post) -> dict:
    return {
        "id": post.id,
        "channel_id": post.channel_id,
        "message": post.message,
        "props": post.props,
        "create_at": post.create_at,
        "update_at": post.create_at,
    }


def _send(
    h: BaseHTTPRequestHandler,
    status: int,
    body: object,
    kind: str = "application/json",
    *,
    headers: dict[str, str] | None = None,
) -> None:
    data = (body if isinstance(body, str) else json.dumps(body)).encode()
    h.send_response(status)
    for name, value in (headers or {}).items():
        h.send_header(name, value)
    h.send_header("Content-Type", kind)
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)
