"""Digest delivery to Mattermost: the ``mattermost`` sender of the outbox.

A subscription's channel is an incoming webhook of the configured server
(``{MATTERMOST_URL}/hooks/<id>``); a URL on any other host is refused, never called.

* **Webhooks only.** ``POST`` the post to the webhook. Mattermost answers ``ok`` and no post
  id, and has no way to list what a webhook posted, so a post whose outcome is unknown (a read
  timeout, a dropped connection, a 5xx) cannot be checked: it is posted again at the retry
  (a plain retryable error saying so), and a part left unrecorded by a crash is posted again
  at the next claim (``find_sent`` raises ``Unverifiable``); that one part may then appear
  twice, and the log says so once. A post refused for good (400) is not retried; a webhook
  Mattermost says is gone (deleted: 400 ``web.incoming_webhook.invalid.app_error``; its
  channel deleted: 404; 403) disables the subscriptions posting to it.
* **With ``MATTERMOST_BOT_TOKEN``** posts go through the REST API: the webhook's channel is
  looked up once (``GET /api/v4/hooks/incoming/<id>``), then ``POST /api/v4/posts`` returns
  the post id, and an unknown outcome is reconciled like Slack's: the channel's recent posts
  (``GET /api/v4/channels/<id>/posts?since=…``; past the server's cap on that answer, pages
  newest first, :data:`MAX_PAGES` at most) are searched for the part's key in ``props``
  before it is sent again. If the bot may not read the webhook (401/403/404), its
  posts fall back to the webhook, with one warning, and the lookup is tried again
  :data:`RECHECK_REFUSED` later (a fixed permission or token needs no restart). A REST post
  refused 401/403 (token revoked, bot removed) is retried through the webhook, never dead.
* **Replies.** A developing story's update is queued also as a reply (a row whose parent is
  the post that showed the story before, queued only when that post's id is known: it went
  through the REST API) and posted with ``root_id`` = that id, in the earlier post's thread;
  reconciled as any part (the channel's posts hold replies too). Posted through the webhook
  (the bot lost its access meanwhile) it carries no ``root_id`` and arrives top-level. A
  reply whose earlier post was deleted (400, ``root_id`` refused) is dropped: nothing posted.

Rate limits: a 429 is retried after ``Retry-After`` / ``X-Ratelimit-Reset`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import quote

import httpx

from bot.platforms.mattermost.render import with_key
from bot.platforms.mattermost.settings import MattermostSettings
from digests.errors import DeliveryError, KeyMissing, Unverifiable
from digests.net.util import MAX_RETRY_AFTER, parse_retry_after, redact_url
from digests.sealing import sealed_channel
from digests.store.outbox import OutboxMessage

log = logging.getLogger(__name__)
_CHECKED_WITH = "set MATTERMOST_BOT_TOKEN to check"
# What Mattermost answers a post to a webhook that is gone (server app/webhook.go,
# HandleIncomingWebhook): a deleted webhook 400 with this error id, its deleted channel 404,
# a webhook whose owner may no longer post 403.
_DELETED_HOOK = "web.incoming_webhook.invalid.app_error"
_HOOKS_OFF = "web.incoming_webhook.disabled.app_error"  # 501: the server takes no webhook posts
# A reply's root_id refused (app/post.go CreatePost, 400): its root post is gone (deleted) or
# not a root of this channel. Nothing was posted.
_NO_ROOT = (
    "api.post.create_post.root_id.app_error",
    "api.post.create_post.channel_root_id.app_error",
)
# A webhook lookup the bot was refused is tried again after this (a success is kept).
RECHECK_REFUSED = timedelta(minutes=5)
# GET /api/v4/channels/<id>/posts?since=… answers at most this many posts (server
# store/sqlstore/post_store.go GetPostsSince: ``LIMIT 1000`` and no ORDER BY, so which ones is
# unspecified) and ignores page / per_page. An answer that full may hide the part's copy: the
# channel is then read newest first, PER_PAGE posts a page (web/params.go PerPageMaximum;
# GetPostsPage orders by CreateAt DESC), until a page reaches back before the part was queued
# or MAX_PAGES pages (2,000 posts) were read: past that the look gives no verdict.
SINCE_CAP = 1_000
PER_PAGE = 200
MAX_PAGES = 10
# Why GET /api/v4/hooks/incoming/<id> was refused, and what to do (server api4/webhook.go,
# getIncomingHook: manage_incoming_webhooks on the hook's team — manage_own_incoming_webhooks
# since its split —, read_channel for a private channel, manage_others_incoming_webhooks
# unless the bot made the webhook; the team_admin role has both).
_LOOKUP_REFUSED = {
    401: "MATTERMOST_BOT_TOKEN is not accepted",
    403: "give the bot manage_incoming_webhooks and manage_others_incoming_webhooks on the "
    "webhook's team (a team admin has both; and membership of a private channel)",
    404: "the bot cannot see this webhook",
}


class _Subscriptions(Protocol):
    """The part of ``store.subscriptions`` the sender needs (to disable a deleted webhook)."""

    def for_channel(self, platform: str, channel: str) -> list: ...

    def disable(self, name: str, reason: str) -> None: ...


def _retry_after(response: httpx.Response, *, now: datetime) -> float:
    for value in (response.headers.get("Retry-After"), response.headers.get("X-Ratelimit-Reset")):
        if (seconds := parse_retry_after(value, now=now, cap=MAX_RETRY_AFTER)) is not None:
            return seconds
    return 1.0


def _error(response: httpx.Response) -> dict:
    """Mattermost's error body (``id``, ``message``), {} when it is not one."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _reason(response: httpx.Response) -> str:
    message = _error(response).get("message")
    return str(message)[:200] if message else response.reason_phrase


def _hook_gone(response: httpx.Response) -> bool:
    """The webhook answered that it (or its channel) is gone, for good."""
    status = response.status_code
    return status in (403, 404) or (status == 400 and _error(response).get("id") == _DELETED_HOOK)


def _copy_of(message: OutboxMessage, posts: dict) -> str | None:
    """The id of the post among ``posts`` (id → post) that is a copy of ``message``."""
    for post_id, post in posts.items():
        props = post.get("props") or {}
        if (
            props.get("digestbot_key") == message.digest_key
            and props.get("digestbot_part") == message.part
        ):
            return str(post.get("id") or post_id)
    return None


def _maybe_arrived(what: str, *, checkable: bool) -> DeliveryError:
    """A post that may have arrived: looked for before any resend (REST), or — a webhook
    cannot be checked — posted again at the retry, which the error (and so the log) says."""
    if checkable:
        return DeliveryError(f"Mattermost {what}: outcome unknown", outcome_unknown=True)
    return DeliveryError(
        f"Mattermost {what}: the post may have arrived, and a webhook cannot be checked "
        f"({_CHECKED_WITH}), so it is posted again and may appear twice",
        retryable=True,
    )


class MattermostSender:
    """Posts outbox rows to incoming webhooks, or through the REST API with a bot token."""

    platform = "mattermost"

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: MattermostSettings,
        *,
        schedules: _Subscriptions | None = None,
        opener: Callable[[str], str | None] = lambda channel: channel,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client, self._settings, self._schedules = client, settings, schedules
        self._open = opener  # a webhook URL is stored sealed when a key is set
        self._clock = clock
        self._channels: dict[str, str] = {}  # webhook id → its channel id, once read
        self._refused: dict[str, datetime] = {}  # webhook id → when the bot was refused it

    def _url(self, message: OutboxMessage) -> str:
        """The row's webhook URL, opened (StoreError: sealed with a key this process lacks)."""
        try:
            return self._open(message.channel) or ""
        except KeyMissing as exc:  # sealed with a key this process was not given
            raise DeliveryError(sealed_channel(message), retryable=True) from exc

    def _hook(self, message: OutboxMessage) -> str:
        hook = self._settings.webhook(self._url(message))
        if hook is None:
            raise DeliveryError(
                f"Mattermost channel {redact_url(message.channel)} is not an incoming webhook "
                f"of MATTERMOST_URL ({self._settings.url}/hooks/ID)",
                retryable=False,
            )
        return hook

    def _api(self, path: str) -> str:
        return f"{self._settings.url}/api/v4{path}"

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._settings.bot_token}"}

    async def _channel_id(self, hook: str) -> str | None:
        """The webhook's channel (REST posting), None: post through the webhook."""
        if not self._settings.bot_token or not hook:  # no token, or no webhook id to look up
            return None
        if hook in self._channels:
            return self._channels[hook]
        now, refused = self._clock(), self._refused.get(hook)
        if refused is not None and now - refused < RECHECK_REFUSED:
            return None
        try:
            response = await self._client.get(
                self._api(f"/hooks/incoming/{quote(hook, safe='')}"), headers=self._auth()
            )
        except httpx.HTTPError as exc:
            raise DeliveryError(
                f"Mattermost unreachable: {type(exc).__name__}", retryable=True
            ) from exc
        if response.status_code in (401, 403, 404):
            if refused is None:  # once per episode, not at every look
                log.warning(
                    "Mattermost bot cannot read an incoming webhook (%s: %s): posting through "
                    "the webhook, whose unknown outcomes cannot be checked; looked up again "
                    "every %d min", response.status_code, _LOOKUP_REFUSED[response.status_code],
                    RECHECK_REFUSED.total_seconds() // 60,
                )  # fmt: skip
            self._refused[hook] = now
            return None
        if response.is_error:
            raise DeliveryError(
                f"Mattermost answered {response.status_code} looking up a webhook",
                retryable=True,
            )
        if self._refused.pop(hook, None) is not None:
            log.info("Mattermost bot can read the incoming webhook again: posting through the API")
        self._channels[hook] = channel = str(response.json()["channel_id"])
        return channel

    async def send(self, message: OutboxMessage) -> str | None:
        """Post one part; the post id (REST) or None (webhook), else DeliveryError."""
        hook = self._hook(message)
        post = with_key(message.payload, message.digest_key, message.part)
        channel_id = await self._channel_id(hook)
        try:
            if channel_id is not None:
                body = {"channel_id": channel_id, "message": post["text"], "props": post["props"]}
                if message.parent_remote_id:  # a developing story's update: in its thread
                    body["root_id"] = message.parent_remote_id
                response = await self._client.post(
                    self._api("/posts"), json=body, headers=self._auth()
                )
            else:
                response = await self._client.post(self._url(message), json=post)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise DeliveryError(
                f"Mattermost unreachable: {type(exc).__name__}", retryable=True
            ) from exc
        except httpx.TransportError as exc:  # the post may have arrived
            raise _maybe_arrived(type(exc).__name__, checkable=channel_id is not None) from exc
        status = response.status_code
        if status == 429:
            raise DeliveryError(
                "Mattermost rate limit (429)",
                retryable=True,
                retry_after=_retry_after(response, now=self._clock()),
            )
        if status == 501 and _error(response).get("id") == _HOOKS_OFF:  # nothing was posted
            raise DeliveryError(
                "Mattermost has incoming webhooks turned off (System Console > Integrations > "
                "Integration Management): retried until they are on again",
                retryable=True,
            )
        if status >= 500:
            raise _maybe_arrived(f"answered {status}", checkable=channel_id is not None)
        if channel_id is None and _hook_gone(response):
            await self._gone(message.channel, f"{status} {_reason(response)}")
            raise DeliveryError(
                f"Mattermost webhook {redact_url(message.channel)} is gone ({status}); "
                "subscriptions posting to it are disabled",
                retryable=False,
            )
        if channel_id is not None and status in (401, 403):  # token revoked, bot removed
            del self._channels[hook]  # nothing was posted: the webhook until the next lookup
            self._refused[hook] = self._clock()
            raise DeliveryError(
                f"Mattermost refused the bot's post ({status}): {_reason(response)}; retried "
                f"through the webhook, the API tried again in {RECHECK_REFUSED.seconds // 60} min",
                retryable=True,
            )
        if message.parent_remote_id and status == 400 and _error(response).get("id") in _NO_ROOT:
            # The post that showed the story was deleted: no thread to reply in, and the digest
            # already shows the update, so the reply is dropped (done, nothing posted).
            log.info("Mattermost: the post an update replies to is gone; its reply is not posted")
            return None
        if status >= 400:
            raise DeliveryError(
                f"Mattermost refused the post ({status}): {_reason(response)}", retryable=False
            )
        if channel_id is None:
            return None
        return str(response.json()["id"])

    async def find_sent(self, message: OutboxMessage) -> str | None:
        """The id of this part if it already arrived (REST only; a webhook cannot tell)."""
        channel_id = await self._channel_id(self._hook(message))
        if channel_id is None:  # the sweeper says it is posted again, once
            raise Unverifiable(f"a Mattermost webhook cannot be checked ({_CHECKED_WITH})")
        since = int(message.earliest_copy().timestamp() * 1000)
        try:
            # With ``since`` the server answers the posts changed since then in one list (no
            # page / per_page: api4/post.go getPostsForChannel → GetPostsSince): one request,
            # and the whole answer unless it holds SINCE_CAP posts.
            order, posts = await self._posts(channel_id, {"since": since})
            if (found := _copy_of(message, posts)) is not None:
                return found
            if len(order) < SINCE_CAP:
                return None
            for page in range(MAX_PAGES):  # capped: newest first, back to ``since``
                order, posts = await self._posts(channel_id, {"page": page, "per_page": PER_PAGE})
                if (found := _copy_of(message, posts)) is not None:
                    return found
                if len(order) < PER_PAGE or any(
                    int(posts[post_id]["create_at"]) < since for post_id in order
                ):
                    return None  # the channel's first post, or posts from before the part
        except (httpx.HTTPError, ValueError, AttributeError, TypeError, KeyError) as exc:
            # Unknown is not "not sent": sending again could post twice, so check later.
            raise DeliveryError(
                f"cannot check Mattermost for an earlier post: {type(exc).__name__}",
                retryable=True,
            ) from exc
        raise DeliveryError(
            f"cannot check Mattermost for an earlier post: more than {MAX_PAGES * PER_PAGE} "
            "posts in the channel since the part was queued",
            retryable=True,
        )

    async def _posts(self, channel_id: str, params: dict[str, int]) -> tuple[list, dict]:
        """One answer of ``GET /channels/<id>/posts``: its ``order`` and ``posts``."""
        response = await self._client.get(
            self._api(f"/channels/{quote(channel_id, safe='')}/posts"),
            params=params,
            headers=self._auth(),
        )
        response.raise_for_status()
        body = response.json()
        return list(body.get("order") or []), dict(body.get("posts") or {})

    async def _gone(self, channel: str, why: str) -> None:
        names: list[str] = []
        if self._schedules is not None:
            for sub in await asyncio.to_thread(self._schedules.for_channel, "mattermost", channel):
                await asyncio.to_thread(
                    self._schedules.disable, sub.name, f"Mattermost webhook gone: {why}"
                )
                names.append(sub.name)
        log.error("Mattermost webhook %s answered %s: disabled subscriptions %s",
                  redact_url(channel), why, ", ".join(names) or "(none)")  # fmt: skip
