"""Discord wiring: `digestbot digest --post-discord URL`, `digestbot discord register`, and the
sender, renderer and route that `digestbot serve` (bot/commands_serve.py) plugs in.

Kept out of ``bot/cli.py`` so the CLI only wires options to these functions.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import httpx
import typer
from rich.console import Console
from starlette.routing import BaseRoute

from bot.deliver import Pacer, deliver
from bot.discord.interactions import DiscordInteractions, interactions_route
from bot.discord.register import register_commands
from bot.discord.webhook import DiscordWebhookSender, is_webhook_url, redact
from bot.render.discord import digest_messages
from bot.settings import BotSettings, load_bot_settings
from digests.brief import brief as make_brief
from digests.config import Settings
from digests.errors import DeliveryError, InputError
from digests.models import Brief, Digest
from digests.store import Store

_WEBHOOK_ID = re.compile(r"/webhooks/(\d+)/")
_WAIT_AT_MOST = 30.0  # seconds the CLI itself waits out a 429; longer waits are left to `serve`

discord_app = typer.Typer(no_args_is_help=True, help="Discord: register the /brief command.")
_err = Console(stderr=True)


def discord_sender(
    bot: BotSettings, store: Store, *, client: httpx.AsyncClient | None = None
) -> DiscordWebhookSender:
    """The outbox sender for ``discord`` rows; webhooks carry their own token, so always on."""
    return DiscordWebhookSender(
        client or httpx.AsyncClient(timeout=30),
        schedules=store.schedules,
        api_url=bot.discord_api_url,
        bot_token=bot.discord_bot_token,
    )


def discord_routes(
    bot: BotSettings, store: Store, core: Settings, *, client: httpx.AsyncClient | None = None
) -> list[BaseRoute]:
    """``POST /discord/interactions`` when DISCORD_PUBLIC_KEY + DISCORD_APPLICATION_ID are set."""
    if not bot.discord:
        return []

    def answer(topic: str) -> Brief:
        return make_brief(
            store, topic, topics=core.topics, now=datetime.now(UTC), sentences=core.brief_sentences
        )

    config = DiscordInteractions(
        public_key=bot.discord_public_key or "",
        application_id=bot.discord_application_id or "",
        brief=answer,
        client=client or httpx.AsyncClient(timeout=30),  # lives as long as the server
        api_url=bot.discord_api_url,
    )
    return [interactions_route(config)]


@dataclass(frozen=True, slots=True)
class PostResult:
    """What `--post-discord` did with one digest."""

    key: str
    parts: int
    sent: int
    dead: int

    @property
    def waiting(self) -> int:
        """Parts still in the outbox (retrying): `digestbot serve` sends them."""
        return self.parts - self.sent - self.dead

    def line(self) -> str:
        """One line for the operator."""
        text = f"discord: {self.sent}/{self.parts} message(s) sent"
        if self.dead:
            text += f", {self.dead} refused (see the log)"
        if self.waiting:
            text += f", {self.waiting} queued for retry by `digestbot serve`"
        return text


def post_digest(
    store: Store,
    digest: Digest,
    webhook_url: str,
    *,
    environ: Mapping[str, str],
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    pacer: Pacer | None = None,
) -> PostResult:
    """Queue ``digest`` in the outbox for one webhook and deliver it now (same path as `serve`)."""
    if not is_webhook_url(webhook_url):
        raise InputError(
            f"--post-discord {redact(webhook_url)}: give a channel webhook URL "
            "(https://discord.com/api/webhooks/ID/TOKEN)"
        )
    settings = load_bot_settings(environ, require=False)
    # Same key for the same articles: posting twice in a row queues (and sends) nothing new.
    webhook_id = _WEBHOOK_ID.search(webhook_url)
    key = f"adhoc:discord:{webhook_id.group(1) if webhook_id else '?'}:"
    key += f"{min(digest.article_ids)}-{max(digest.article_ids)}"
    parts = digest_messages(digest, key)
    store.outbox.enqueue(key, parts, platform="discord", channel=webhook_url, now=now())

    async def send_all() -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            sender = discord_sender(settings, store, client=client)
            while True:
                await deliver(store, {"discord": sender}, now=now, pacer=pacer or Pacer())
                pending = [m for m in store.outbox.messages(key) if m.status == "pending"]
                if not pending:
                    return
                wait = (min(m.next_attempt_at for m in pending) - now()).total_seconds()
                if wait > _WAIT_AT_MOST:
                    return
                await asyncio.sleep(max(0.0, wait))  # Discord's retry_after, honoured

    asyncio.run(send_all())
    rows = store.outbox.messages(key)
    result = PostResult(
        key=key,
        parts=len(rows),
        sent=sum(m.status == "sent" for m in rows),
        dead=sum(m.status == "dead" for m in rows),
    )
    if result.dead:  # refused for good (e.g. the webhook is gone): the operator must act
        raise DeliveryError(f"{result.line()}: {rows[0].last_error or 'refused'}")
    return result


@discord_app.command("register")
def register_cmd(
    guild: Annotated[
        str | None,
        typer.Option(help="Register in one server (guild id) only: updates at once, for testing."),
    ] = None,
) -> None:
    """Register the /brief command with Discord (needs DISCORD_APPLICATION_ID, DISCORD_BOT_TOKEN)."""
    settings = load_bot_settings(os.environ, require=False)

    async def put() -> list[dict]:
        async with httpx.AsyncClient(timeout=30) as client:
            return await register_commands(
                client,
                application_id=settings.discord_application_id or "",
                bot_token=settings.discord_bot_token or "",
                api_url=settings.discord_api_url,
                guild_id=guild,
            )

    commands = asyncio.run(put())
    where = f"server {guild}" if guild else "all servers (may take a while to show)"
    names = ", ".join(f"/{c.get('name')}" for c in commands)
    _err.print(f"registered {names} for {where}", highlight=False)
