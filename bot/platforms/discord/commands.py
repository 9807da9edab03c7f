"""`/brief` subcommands on Discord, like Slack's: help, topics, status, subscribe, unsubscribe.

A Discord digest is posted through a channel webhook (``bot/platforms/discord/webhook.py``). So
``subscribe`` creates one with the bot token — ``POST /channels/{id}/webhooks``, which needs
the bot's *Manage Webhooks* permission in that channel (Discord docs, "Webhook → Create
Webhook") — and ``unsubscribe`` deletes it again. Without ``DISCORD_BOT_TOKEN``, or without
the permission, the user is told exactly what is missing.

What each subcommand means is the chat service's (``bot/chat.py``), shared with Slack:
topics, time and timezone are checked and the subscription written by the same rule
(``bot/subscribe.py``); this module parses Discord's options and renders answers.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from bot.chat import ChatService, LiveSchedule
from bot.platforms.discord.render import escape
from bot.render import counted, shorten, whole_lines
from bot.subscribe import describe, first_digest, subscribe_request
from digests.errors import InputError, KeyMissing
from digests.net.util import redact_url
from digests.sealing import missing_key

log = logging.getLogger(__name__)

CONTENT_CHARS = 2000  # Discord: message content limit
MANAGE_WEBHOOKS = 1 << 29  # Discord permission bit ("Permissions" in Discord's docs)
WEBHOOK_NAME = "digestbot"

HELP = (
    "**/brief** — news digests and cited summaries\n"
    "• `/brief about topic:taiwan` — a short, cited summary (add `share:True` to post it here)\n"
    "• `/brief topics` — known topics and how many articles each has\n"
    "• `/brief subscribe topics:taiwan trade time:08:00 timezone:Europe/London` — a daily "
    "digest in this channel (no topics = all; needs Manage Webhooks)\n"
    "• `/brief unsubscribe` — stop this channel's digest\n"
    "• `/brief status` — this channel's digest and the sources' health\n"
    "• `/brief help` — this message"
)


__all__ = ["HELP", "DiscordCommands", "LiveSchedule", "subscription_name"]


def subscription_name(channel_id: str) -> str:
    """The subscription a Discord channel manages with `/brief subscribe`."""
    return f"discord-chat:{channel_id}"


def _clip(text: str) -> str:
    return shorten(text, CONTENT_CHARS)


@dataclass
class DiscordCommands:
    """The store-backed subcommands (Discord's side of them); each answers with one message's
    content."""

    chat: ChatService
    client: httpx.AsyncClient
    api_url: str
    bot_token: str | None = None

    async def run(
        self,
        name: str,
        options: dict[str, object],
        *,
        channel: str,
        guild: str | None,
        permissions: int,
    ) -> str:
        """Run subcommand ``name``; the answer's text (one line of error for bad input)."""
        if name == "help":
            return HELP
        if name == "topics":
            return _clip(await self._topics())
        if name == "status":
            return _clip(await self._status(channel))
        if name not in {"subscribe", "unsubscribe"}:
            return f"Unknown subcommand `{name}`. " + HELP
        if not guild or not channel:
            return "Digests go to server channels: use this command in a channel of a server."
        if not permissions & MANAGE_WEBHOOKS:
            return "Changing this channel's digest needs the Manage Webhooks permission."
        if name == "subscribe":
            return _clip(await self._subscribe(options, channel=channel, guild=guild))
        return await self._unsubscribe(channel)

    async def _topics(self) -> str:
        counts = await self.chat.topics()
        if not counts:
            return "No topics are configured (config/topics.toml)."
        lines = [
            f"• `{t.name}` — {counted(t.articles, 'article')}"
            + (f" {escape(t.note)}" if t.note else "")
            for t in counts
        ]
        return "\n".join(whole_lines(["**Topics**", *lines], CONTENT_CHARS, noun="topics"))

    async def _status(self, channel: str) -> str:
        name = subscription_name(channel)
        status = await self.chat.status(
            lambda: [s for s in [self.chat.store.subscriptions.get(name)] if s is not None]
        )
        if not status.subscriptions:
            head = "This channel has no digest. Start one with `/brief subscribe`."
        else:
            head = "**Digest for this channel**\n" + describe(
                status.subscriptions[0], self.chat.clock()
            )
        sources = status.sources.lines(bold=lambda t: f"**{t}**", quote=escape, warn="⚠️")
        return head + "\n\n" + "\n".join(sources)

    async def _subscribe(self, options: dict[str, object], *, channel: str, guild: str) -> str:
        try:
            request = subscribe_request(
                str(options.get("topics") or "").split(),
                await self.chat.subscribable(),
                time=str(options.get("time") or ""),
                timezone=str(options.get("timezone") or ""),
            )
        except InputError as exc:
            return f"⚠️ {exc}"
        name = subscription_name(channel)
        existing = await asyncio.to_thread(self.chat.store.subscriptions.get, name)
        if existing is not None:
            url = existing.channel  # keep the webhook already made for it
        else:
            made, problem = await self._create_webhook(channel)
            if made is None:
                return problem
            url = made
        sub = await self.chat.subscribe(
            request, name=name, platform="discord", channel=url, team_id=guild
        )
        now = self.chat.clock()
        return f"✅ Subscribed.\n{describe(sub, now)}\n{first_digest(sub, now)}"

    async def _create_webhook(self, channel: str) -> tuple[str | None, str]:
        """A new channel webhook's URL, or None and what the user must do about it."""
        if not self.bot_token:
            return None, (
                "I can't create this channel's webhook: the operator has not set "
                "DISCORD_BOT_TOKEN. Ask them to set it (the bot needs Manage Webhooks here), "
                "or to add a subscription with a webhook URL to config/subscriptions.toml."
            )
        url = f"{self.api_url.rstrip('/')}/channels/{quote(channel, safe='')}/webhooks"
        try:
            response = await self.client.post(
                url,
                json={"name": WEBHOOK_NAME},
                headers={"Authorization": f"Bot {self.bot_token}"},
            )
        except httpx.HTTPError as exc:
            log.warning("creating a webhook in channel %s failed: %s", channel, exc)
            return None, "Discord could not be reached to create this channel's webhook; try again."
        if response.status_code in (401, 403):
            return None, (
                "I am not allowed to create a webhook in this channel: give the bot the "
                "Manage Webhooks permission here (channel settings → Permissions), then try again."
            )
        if response.is_error:
            log.warning(
                "webhook create in %s: %s %s", channel, response.status_code, response.text[:200]
            )
            return (
                None,
                f"Discord refused to create this channel's webhook ({response.status_code}).",
            )
        hook = response.json()
        made = (
            hook.get("url") or f"{self.api_url.rstrip('/')}/webhooks/{hook['id']}/{hook['token']}"
        )
        log.info("created webhook %s for channel %s", redact_url(str(made)), channel)
        return str(made), ""

    async def _unsubscribe(self, channel: str) -> str:
        sub = await self.chat.unsubscribe(subscription_name(channel))
        if sub is None:
            return "This channel has no `/brief` subscription."
        try:
            hook = self.chat.store.sealer.open(sub.channel) or ""  # stored sealed with a key set
        except KeyMissing:  # unsubscribed; the webhook is left (it cannot be named)
            log.warning(
                "%s: its webhook is left in place", missing_key(f"subscription {sub.name!r}")
            )
            return "Unsubscribed: this channel gets no more `/brief` digests."
        try:  # the webhook was made for this subscription: remove it too (best effort)
            await self.client.delete(hook)
        except httpx.HTTPError as exc:
            log.warning("could not delete webhook %s: %s", redact_url(hook), exc)
        return "Unsubscribed: this channel gets no more `/brief` digests."
