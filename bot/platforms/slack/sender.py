"""Slack's outbox sender (chat.postMessage) and the AsyncWebClient factories of the bot.

Unknown outcomes (issue #16): a post whose request may have reached Slack — a timeout, a
dropped connection, a 5xx — raises ``DeliveryError(outcome_unknown=True)``; the sweeper then
looks for the message in the channel's history (message metadata carries the digest key and
part) before it posts again. So the posting client has no connection-error or server-error
retry handler (slack_sdk's would re-POST chat.postMessage blindly) and no rate-limit handler
either: a 429 is raised with its Retry-After and the outbox row waits that long, without
holding its lease asleep.

A channel the bot can no longer post to (:data:`CHANNEL_GONE`: the channel was deleted or
archived, or the bot removed from it) refuses every later digest the same way: the sender pauses
the subscriptions posting to it (those of the row's workspace), with what to do in the reason
(invite the bot, unarchive, then Resume on the App Home), as the Discord and Mattermost senders
do for a deleted webhook. Errors that pass (rate limits, 5xx, timeouts) never pause.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any, Protocol

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.platforms.slack.render import EVENT_TYPE, with_key
from bot.settings import BotSettings
from digests.errors import DeliveryError, KeyMissing
from digests.net.util import MAX_RETRY_AFTER, parse_retry_after
from digests.sealing import missing_key
from digests.store.outbox import OutboxMessage

log = logging.getLogger(__name__)

# Errors that will not go away by waiting: the message goes ``dead`` (kept for inspection).
_PERMANENT = {
    "channel_not_found", "not_in_channel", "is_archived", "msg_too_long", "no_text",
    "invalid_blocks", "invalid_blocks_format", "invalid_metadata_format", "invalid_metadata_schema",
    "metadata_too_large", "too_many_attachments", "restricted_action", "invalid_auth",
    "not_authed", "account_inactive", "token_revoked", "token_expired", "missing_scope",
    "team_access_not_granted", "channel_is_archived", "restricted_action_read_only_channel",
    "restricted_action_thread_only_channel",
}  # fmt: skip
# chat.postMessage's errors for a channel the bot cannot post to until someone acts (Slack's
# method reference: channel_not_found — deleted, or private and the bot not in it;
# not_in_channel; is_archived; channel_is_archived is the same state as other methods name it).
CHANNEL_GONE = {
    "channel_not_found": "deleted, or private and the bot was removed",
    "not_in_channel": "the bot was removed",
    "is_archived": "archived",
    "channel_is_archived": "archived",
    # An admin made the channel read-only, or thread-only (no top-level messages).
    "restricted_action_read_only_channel": "read-only",
    "restricted_action_thread_only_channel": "thread-only",
}
_HISTORY_PAGES = 5  # reconcile looks back at most 5 × 200 messages (rows are minutes old)


def _client_options(settings: BotSettings) -> dict[str, Any]:
    # slack_sdk retries only connection errors by default (slack_sdk docs, "RetryHandler"); 429
    # and 5xx need their handlers added. One retry each: beyond that the outbox backs off.
    return {
        "base_url": settings.slack_api_url,
        "timeout": 30,
        "retry_handlers": [
            AsyncConnectionErrorRetryHandler(max_retry_count=1),
            AsyncRateLimitErrorRetryHandler(max_retry_count=1),
            AsyncServerErrorRetryHandler(max_retry_count=1),
        ],
    }


def configure_client(client: AsyncWebClient, settings: BotSettings) -> AsyncWebClient:
    """Give a client built elsewhere (Bolt's own) SLACK_API_URL, the timeout and the retry
    handlers (rate limits included). Its token is left as it is."""
    for name, value in _client_options(settings).items():
        setattr(client, name, value)
    return client


def make_sender_client(settings: BotSettings, *, timeout: float = 20.0) -> AsyncWebClient:
    """The client that posts outbox rows: no library retries (see module doc), ``timeout`` s."""
    return AsyncWebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=int(max(1, round(timeout))),
        retry_handlers=[],
    )


def _reason(exc: BaseException, timeout: float | None) -> str:
    """A log-worthy reason: ``TimeoutError()`` prints as nothing ("Slack unreachable: ;")."""
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return f"no answer within {timeout:g} s" if timeout else "timed out"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _not_sent(exc: BaseException) -> bool:
    """Errors raised before the request could leave: Slack certainly did not apply it."""
    return isinstance(exc, aiohttp.ClientConnectorError)


def _delivery_error(exc: SlackApiError, what: str) -> DeliveryError:
    status = exc.response.status_code
    error = str(exc.response.get("error") or f"HTTP {status}")
    if status == 429:
        after = exc.response.headers.get("Retry-After") or exc.response.headers.get("retry-after")
        seconds = parse_retry_after(
            after[0] if isinstance(after, list) and after else after,
            now=datetime.now(UTC),
            cap=MAX_RETRY_AFTER,
        )
        return DeliveryError(f"Slack {what}: rate limited", retryable=True, retry_after=seconds)
    if status >= 500:  # Slack may have applied it before failing: reconcile, never re-POST
        return DeliveryError(f"Slack {what}: {error}", outcome_unknown=True)
    return DeliveryError(f"Slack {what}: {error}", retryable=error not in _PERMANENT)


def _pause_reason(error: str, channel: str, origin: str) -> str:
    """Why a subscription was paused, and what brings it back (shown in `/brief status`, the
    App Home and `digestbot status`; the Home tab shows 200 characters)."""
    why = CHANNEL_GONE[error]
    fix = {
        "archived": f"Unarchive {channel}",
        "read-only": f"Let digestbot post in {channel}",
        "thread-only": f"Let digestbot post in {channel}",
    }.get(why, f"Invite @digestbot to {channel}")
    resume = "press Resume on digestbot's Home tab"
    if origin == "chat":  # `/brief subscribe` again enables it too (store.subscriptions.upsert)
        resume += " or run /brief subscribe there again"
    return f"Slack channel {channel}: {error} ({why}). {fix}, then {resume}."


class _Subscriptions(Protocol):
    """The part of ``store.subscriptions`` the sender needs (to pause a channel's digests)."""

    def for_channel(self, platform: str, channel: str) -> list: ...

    def disable(self, name: str, reason: str) -> None: ...


class TokenSource(Protocol):
    """The bot token of a workspace (OAuth installs), or None when it is not installed."""

    async def async_bot_token(self, team_id: str | None) -> str | None: ...


class SlackSender:
    """Posts outbox rows with chat.postMessage; finds crashed sends by message metadata.

    With ``tokens`` (OAuth installs) every call uses the token of the row's workspace,
    looked up at send time; a row whose workspace is not installed is undeliverable. With
    ``schedules``, a channel gone for good (:data:`CHANNEL_GONE`) pauses its subscriptions.
    """

    platform = "slack"

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        tokens: TokenSource | None = None,
        schedules: _Subscriptions | None = None,
    ) -> None:
        self._client = client
        self._tokens = tokens
        self._schedules = schedules
        self._timeout = float(client.timeout) if client.timeout else None

    async def _token(self, message: OutboxMessage) -> dict[str, Any]:
        if self._tokens is None:
            return {}  # one workspace: the client's own token
        try:
            token = await self._tokens.async_bot_token(message.team_id)
        except KeyMissing as exc:  # that workspace's parts alone wait for the key
            what = f"the bot token of Slack workspace {message.team_id!r}"
            raise DeliveryError(missing_key(what), retryable=True) from exc
        if token is None:
            where = f"workspace {message.team_id}" if message.team_id else "no workspace (team id)"
            raise DeliveryError(
                f"Slack: the app is not installed in {where}; install it via /slack/install",
                retryable=False,
            )
        return {"token": token}

    async def send(self, message: OutboxMessage) -> str | None:
        """Post one rendered message; its ``ts`` is the remote id."""
        token = await self._token(message)
        # A reply in a digest's thread: under its headline's ts (handed out with the claim).
        # A headline that never arrived (dead) leaves its replies posted top-level instead.
        thread: dict[str, Any] = (
            {"thread_ts": message.parent_remote_id} if message.parent_remote_id else {}
        )
        try:
            response = await self._client.chat_postMessage(
                channel=message.channel,
                unfurl_links=False,
                unfurl_media=False,
                **token,
                **thread,
                **with_key(message.payload, message.digest_key, message.part),
            )
        except SlackApiError as exc:
            error = exc.response.get("error")
            if exc.response.status_code == 200 and error in CHANNEL_GONE:
                await self._pause(message, str(error))
                paused = "; subscriptions posting to it are paused" if self._schedules else ""
                raise DeliveryError(
                    f"Slack chat.postMessage: {error} ({CHANNEL_GONE[str(error)]}){paused}",
                    retryable=False,
                ) from exc
            raise _delivery_error(exc, "chat.postMessage") from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            reason = _reason(exc, self._timeout)
            if _not_sent(exc):
                raise DeliveryError(f"Slack unreachable: {reason}", retryable=True) from exc
            raise DeliveryError(
                f"Slack chat.postMessage outcome unknown: {reason}", outcome_unknown=True
            ) from exc
        return str(response["ts"])

    async def _pause(self, message: OutboxMessage, error: str) -> None:
        """Pause the subscriptions that post to the message's channel (with OAuth installs,
        only its workspace's: a Slack Connect channel has one id in several). One already
        paused keeps its reason (the digest's other parts come here too)."""
        if self._schedules is None:
            return
        schedules = self._schedules
        names: list[str] = []
        try:
            subs = await asyncio.to_thread(schedules.for_channel, "slack", message.channel)
            if self._tokens is not None:
                subs = [s for s in subs if s.team_id == message.team_id]
            for sub in subs:
                if sub.enabled:
                    reason = _pause_reason(error, message.channel, sub.origin)
                    await asyncio.to_thread(schedules.disable, sub.name, reason)
                    names.append(sub.name)
        except Exception as exc:  # the database failing must not lose the refusal itself
            log.warning("Slack channel %s answered %s, and its subscriptions could not be "
                        "paused (%s); the next refusal pauses them", message.channel, error,
                        type(exc).__name__)  # fmt: skip
        if names:
            log.error("Slack channel %s answered %s: paused subscriptions %s; invite the bot "
                      "(or unarchive the channel), then Resume them on the App Home",
                      message.channel, error, ", ".join(names))  # fmt: skip

    async def find_sent(self, message: OutboxMessage) -> str | None:
        """The ``ts`` of a message in the channel carrying this row's digest key and part."""
        oldest = message.earliest_copy().timestamp()
        token = await self._token(message)
        # A reply is not in the channel's history, only in its thread (conversations.replies).
        method = "conversations.replies" if message.parent_remote_id else "conversations.history"
        where = {"ts": message.parent_remote_id} if message.parent_remote_id else {}
        try:
            try:
                return await self._look(message, method, oldest, where, token)
            except SlackApiError as exc:
                if exc.response.get("error") != "not_in_channel":
                    raise
            # chat:write.public posts into channels the bot never joined, whose history it
            # may not read: join (public channels, scope channels:join) and look again.
            await self._join(message, token)
            return await self._look(message, method, oldest, where, token)
        except SlackApiError as exc:
            # No verdict: the sweeper keeps the outcome unknown (never a resend on this).
            raise _delivery_error(exc, method) from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            reason = _reason(exc, self._timeout)
            raise DeliveryError(f"Slack unreachable: {reason}", retryable=True) from exc

    async def _join(self, message: OutboxMessage, token: dict[str, Any]) -> None:
        try:
            await self._client.api_call(
                "conversations.join", params={"channel": message.channel, **token}
            )
        except SlackApiError as exc:
            error = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
            raise DeliveryError(
                f"Slack history: not_in_channel, and conversations.join: {error} (invite the "
                "bot to the channel, or grant channels:join)",
                retryable=True,
            ) from exc
        log.info("joined Slack channel %s to check an unknown outcome", message.channel)

    async def _look(
        self,
        message: OutboxMessage,
        method: str,
        oldest: float,
        where: dict[str, Any],
        token: dict[str, Any],
    ) -> str | None:
        """One pass over the channel's (or thread's) recent history for the row's copy."""
        cursor: str | None = None
        for _ in range(_HISTORY_PAGES):
            response = await self._client.api_call(
                method,
                http_verb="GET",
                params={
                    "channel": message.channel,
                    "oldest": f"{oldest:.6f}",
                    "include_all_metadata": "true",  # metadata is left out without it
                    "limit": 200,
                    **({"cursor": cursor} if cursor else {}),
                    **where,
                    **token,
                },
            )
            posted: dict[str, Any]
            for posted in response.get("messages", []):
                meta: dict[str, Any] = posted.get("metadata") or {}
                payload: dict[str, Any] = meta.get("event_payload") or {}
                if (
                    meta.get("event_type") == EVENT_TYPE
                    and payload.get("digest_key") == message.digest_key
                    and int(payload.get("part", -1)) == message.part
                ):
                    return str(posted["ts"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        return None
