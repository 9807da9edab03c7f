"""Digest delivery to Discord channel webhooks: the ``discord`` sender of the outbox.

Rate limits follow Discord's docs ("Topics → Rate Limits"): every answer carries
``X-RateLimit-Remaining`` / ``X-RateLimit-Reset-After`` for the webhook's bucket; a 429 carries
``retry_after`` (float seconds) in its body (and ``Retry-After`` as a header). The sender never
sleeps: it raises a retryable DeliveryError with ``retry_after`` and the outbox tries later.

A webhook that answers 404 (deleted: "Unknown Webhook") or 401 (its token is wrong) can never
work again: the sender disables every subscription posting to it, logs that, and refuses the
URL from then on without calling Discord.

Unknown outcomes (issue #16): a post that may have reached Discord — a read timeout, a dropped
connection, a 5xx — raises ``DeliveryError(outcome_unknown=True)`` and the sweeper reconciles
before posting again; a connection that was never made is a plain retry. Webhooks cannot list
messages, so ``find_sent`` needs a bot token (``DISCORD_BOT_TOKEN``) whose bot can read the
channel; it looks for the webhook's recent message whose content carries the same digest-part
marker. Without a bot token an unknown outcome cannot be checked: a 5xx or timeout is a plain
retry whose error says the message is posted again, and a part a crash left unrecorded is
posted again at the next claim (``find_sent`` raises ``Unverifiable``); that one part may
then appear twice, and the log says so once.

A digest's feedback buttons (bot/topic_feedback.py) work only on a webhook our application
made (``/brief subscribe``): Discord sends a button's click to the application that owns the
webhook, and a webhook made by hand in Discord may not carry interactive components at all
(Execute Webhook: refused with ``?with_components=true``, ignored without). The sender looks
each webhook up once (``GET`` on its URL names its ``application_id``) and sends the buttons
only to ours; other webhooks get the digest without them (said once in the log).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from bot.platforms.discord import DEFAULT_API_URL
from bot.platforms.discord.render import (
    MAX_EMBED_TOTAL,
    MAX_FIELD_VALUE,
    NO_MENTIONS,
    embed_size,
    with_key,
)
from digests.errors import DeliveryError, KeyMissing, Unverifiable
from digests.net.util import MAX_RETRY_AFTER, parse_retry_after, redact_url, secret_url_scheme_ok
from digests.sealing import sealed_channel
from digests.store.outbox import OutboxMessage

log = logging.getLogger(__name__)
_WEBHOOK_PATH = re.compile(r"/webhooks/(\d+)/[^/]+/?$")
_EARLIER = re.compile(
    r"^story first posted in message (\d+)$"
)  # bot.platforms.discord.render.earlier_ref
_RECONCILE_LOOKBACK = 50  # Discord's page size maximum for GET /channels/{id}/messages is 100
_CHECKED_WITH = "set DISCORD_BOT_TOKEN to check"


class _Subscriptions(Protocol):
    """The part of ``store.subscriptions`` the sender needs (to disable a dead webhook)."""

    def for_channel(self, platform: str, channel: str) -> list: ...

    def disable(self, name: str, reason: str) -> None: ...


def _float(value: object) -> float | None:
    try:
        return max(0.0, float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def retry_after(response: httpx.Response) -> float:
    """Seconds to wait after a 429: the body's ``retry_after``, else the headers, else 1 s."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    now = datetime.now(UTC)
    for value in (
        body.get("retry_after") if isinstance(body, dict) else None,
        response.headers.get("Retry-After"),
        response.headers.get("X-RateLimit-Reset-After"),
    ):
        if (seconds := parse_retry_after(value, now=now, cap=MAX_RETRY_AFTER)) is not None:
            return seconds
    return 1.0


def _is_global(response: httpx.Response) -> bool:
    """A 429 for the whole bot, not one webhook (header, or ``global`` in the body)."""
    if response.headers.get("X-RateLimit-Global", "").lower() == "true":
        return True
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("global") is True


def _discord_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    if isinstance(body, dict) and body.get("message"):
        return f"{body['message']} (code {body.get('code', '?')})"
    return response.reason_phrase


@dataclass(frozen=True, slots=True)
class _Hook:
    """What Discord says of a webhook (GET on its URL)."""

    guild: str
    channel: str
    application: str  # the application that made it ("": made by hand in Discord)


class DiscordWebhookSender:
    """Sends outbox messages (channel = webhook URL) with ``?wait=true`` to learn the message id."""

    platform = "discord"

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        schedules: _Subscriptions | None = None,
        api_url: str = DEFAULT_API_URL,
        bot_token: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        opener: Callable[[str], str | None] | None = None,
        application_id: str | None = None,
    ) -> None:
        """``application_id``: ours (DISCORD_APPLICATION_ID); None: any application's webhook
        takes the buttons."""
        self._client = client
        self._application_id = application_id
        # A channel stored sealed (DIGESTBOT_ENCRYPTION_KEY) is opened only to post to it.
        self._open = opener or (lambda channel: channel)
        self._schedules = schedules
        self._api_url = api_url.rstrip("/")
        self._bot_token = bot_token
        self._clock = clock
        self._blocked_until: dict[str, float] = {}  # webhook URL → clock time its bucket refills
        self._global_until = 0.0
        self._gone: set[str] = set()
        self._hooks: dict[str, _Hook] = {}  # webhook URL → what GET on it said

    async def send(self, message: OutboxMessage) -> str | None:
        """Post one message; its Discord message id, or DeliveryError (retryable or not)."""
        url = self._url(message)
        if url in self._gone:
            raise DeliveryError(f"Discord webhook {redact_url(url)} is gone", retryable=False)
        if (wait := self._wait(url)) > 0:
            raise DeliveryError(
                f"Discord rate limit on {redact_url(url)}", retryable=True, retry_after=wait
            )
        payload = await self._link_earlier(
            url, {**with_key(message.payload, message.digest_key), "allowed_mentions": NO_MENTIONS}
        )
        params = {"wait": "true"}
        if payload.get("components"):  # the feedback buttons: only on a webhook that is ours
            if await self._ours(url):
                params["with_components"] = "true"
            else:
                payload = {k: v for k, v in payload.items() if k != "components"}
        try:
            response = await self._client.post(url, params=params, json=payload)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise DeliveryError(
                f"Discord webhook {redact_url(url)} unreachable: {type(exc).__name__}",
                retryable=True,
            ) from exc
        except httpx.TransportError as exc:  # the request may have arrived
            raise self._maybe_arrived(
                f"Discord webhook {redact_url(url)}: {type(exc).__name__}"
            ) from exc
        self._note_limits(url, response)
        status = response.status_code
        if status == 429:
            wait = retry_after(response)
            if _is_global(response):
                self._global_until = self._clock() + wait
            raise DeliveryError(
                f"Discord rate limit on {redact_url(url)} (429)", retryable=True, retry_after=wait
            )
        if status in (401, 404):
            await self._gone_webhook(url, message.channel, f"{status} {_discord_message(response)}")
            raise DeliveryError(
                f"Discord webhook {redact_url(url)} is gone ({status}); subscriptions posting to it are disabled",
                retryable=False,
            )
        if status >= 500:
            raise self._maybe_arrived(f"Discord answered {status}")
        if status >= 400:
            raise DeliveryError(
                f"Discord refused the message ({status}): {_discord_message(response)}",
                retryable=False,
            )
        return str(response.json()["id"])

    async def find_sent(self, message: OutboxMessage) -> str | None:
        """The id of this part if a crashed run already posted it (needs a bot token), else None."""
        url = self._url(message)
        content = with_key(message.payload, message.digest_key).get("content")
        if not self._bot_token:  # the sweeper says it is posted again, once
            raise Unverifiable(f"a Discord webhook cannot be checked ({_CHECKED_WITH})")
        if not content or url in self._gone:
            return None
        try:
            hook = await self._client.get(url)
            hook.raise_for_status()
            channel_id, webhook_id = hook.json()["channel_id"], str(hook.json()["id"])
            history = await self._client.get(
                f"{self._api_url}/channels/{channel_id}/messages",
                params={"limit": _RECONCILE_LOOKBACK},
                headers={"Authorization": f"Bot {self._bot_token}"},
            )
            history.raise_for_status()
            for sent in history.json():
                if str(sent.get("webhook_id")) == webhook_id and sent.get("content") == content:
                    return str(sent["id"])
        except (httpx.HTTPError, KeyError, ValueError, TypeError, AttributeError) as exc:
            # Unknown is not "not sent": sending again could post twice, so retry later.
            raise DeliveryError(
                f"cannot check Discord for an earlier send: {type(exc).__name__}", retryable=True
            ) from exc
        return None

    def _maybe_arrived(self, what: str) -> DeliveryError:
        """A post that may have arrived: looked for before any resend (with a bot token), or
        posted again at the retry, which the error (and so the log) says."""
        if self._bot_token:
            return DeliveryError(f"{what}: outcome unknown", outcome_unknown=True)
        return DeliveryError(
            f"{what}: the message may have arrived, and a webhook cannot be checked "
            f"({_CHECKED_WITH}), so it is posted again and may appear twice",
            retryable=True,
        )

    def _url(self, message: OutboxMessage) -> str:
        try:
            return _checked(self._open(message.channel) or "")
        except KeyMissing as exc:  # sealed with a key this process was not given
            raise DeliveryError(sealed_channel(message), retryable=True) from exc

    async def _link_earlier(self, url: str, payload: dict) -> dict:
        """A developing story's "Earlier" field as a jump link to the earlier message.

        The link needs the webhook's guild and channel (one GET per webhook, remembered);
        without them, or if the link would break a limit, the field stays plain text.
        """
        embeds = payload.get("embeds") or []
        if not any(
            _EARLIER.match(str(f.get("value", ""))) for e in embeds for f in e.get("fields") or []
        ):
            return payload
        hook = await self._hook(url)
        if hook is None:
            return payload
        guild, channel = hook.guild, hook.channel
        if not (guild.isdigit() and channel.isdigit()):
            return payload

        def linked(field: dict) -> dict:
            m = _EARLIER.match(str(field.get("value", "")))
            if not m:
                return field
            jump = f"https://discord.com/channels/{guild}/{channel}/{m.group(1)}"
            return {**field, "value": f"[{m.group(0)}]({jump})"}

        out = [{**e, "fields": [linked(f) for f in e["fields"]]} if e.get("fields") else e
               for e in embeds]  # fmt: skip
        too_long = any(len(f["value"]) > MAX_FIELD_VALUE for e in out for f in e.get("fields", []))
        if too_long or sum(embed_size(e) for e in out) > MAX_EMBED_TOTAL:
            return payload
        return {**payload, "embeds": out}

    async def _hook(self, url: str) -> _Hook | None:
        """The webhook's guild, channel and owning application (one GET per webhook,
        remembered); None when Discord did not say (tried again next time)."""
        hook = self._hooks.get(url)
        if hook is None:
            try:
                answer = await self._client.get(url)
                answer.raise_for_status()
                data = answer.json()
                hook = _Hook(
                    str(data.get("guild_id") or ""),
                    str(data.get("channel_id") or ""),
                    str(data.get("application_id") or ""),
                )
            except (httpx.HTTPError, ValueError, AttributeError):
                return None
            self._hooks[url] = hook
            if not self._owns(hook):
                log.info(
                    "Discord webhook %s was not made by this bot (/brief subscribe makes one): "
                    "its digests carry no Not #topic / More like this buttons",
                    redact_url(url),
                )
        return hook

    def _owns(self, hook: _Hook) -> bool:
        return bool(hook.application) and self._application_id in (None, hook.application)

    async def _ours(self, url: str) -> bool:
        """Whether ``url`` is a webhook our application made (unknown: no)."""
        hook = await self._hook(url)
        return hook is not None and self._owns(hook)

    def _wait(self, url: str) -> float:
        now = self._clock()
        return max(self._global_until, self._blocked_until.get(url, 0.0)) - now

    def _note_limits(self, url: str, response: httpx.Response) -> None:
        # Remaining 0 means the next call would be a 429: wait out Reset-After instead.
        remaining = response.headers.get("X-RateLimit-Remaining")
        reset_after = _float(response.headers.get("X-RateLimit-Reset-After"))
        if remaining == "0" and reset_after is not None:
            self._blocked_until[url] = self._clock() + reset_after
        else:
            self._blocked_until.pop(url, None)

    async def _gone_webhook(self, url: str, channel: str, why: str) -> None:
        self._gone.add(url)
        names: list[str] = []
        if self._schedules is not None:
            schedules = self._schedules
            subs = await asyncio.to_thread(schedules.for_channel, "discord", channel)
            for sub in subs:
                await asyncio.to_thread(schedules.disable, sub.name, f"Discord webhook gone: {why}")
                names.append(sub.name)
        log.error(
            "Discord webhook %s answered %s: disabled subscriptions %s",
            redact_url(url),
            why,
            ", ".join(names) or "(none)",
        )


def is_webhook_url(url: str) -> bool:
    """An https URL (http only to this machine: the rule of subscriptions.toml too) with a
    ``/webhooks/{id}/{token}`` path, as Discord's channel webhooks have."""
    parts = urlsplit(url)
    return secret_url_scheme_ok(url) and bool(_WEBHOOK_PATH.search(parts.path))


def _checked(url: str) -> str:
    if not is_webhook_url(url):
        raise DeliveryError(
            "a Discord subscription's channel must be a webhook URL "
            "(https://discord.com/api/webhooks/ID/TOKEN)",
            retryable=False,
        )
    return url
