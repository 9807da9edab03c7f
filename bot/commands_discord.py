"""Discord wiring: `digestbot discord register`, and the sender and route that `digestbot serve`
(bot/commands_serve.py) and `digest --post-discord` (bot/commands_post.py) plug in.

Kept out of ``bot/cli/`` so the CLI only wires options to these functions.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from datetime import UTC, datetime

import httpx
from starlette.routing import BaseRoute

from bot.discord.commands import DiscordCommands, LiveSchedule
from bot.discord.interactions import DiscordInteractions, interactions_route
from bot.discord.register import register_commands
from bot.discord.webhook import DiscordWebhookSender
from bot.settings import BotSettings, load_bot_settings
from digests.brief import brief as make_brief
from digests.config import Settings
from digests.models import Brief
from digests.store import Store

_WEBHOOK_ID = re.compile(r"/webhooks/(\d+)/")
_WAIT_AT_MOST = 30.0  # seconds the CLI itself waits out a 429; longer waits are left to `serve`


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
    bot: BotSettings,
    store: Store,
    core: Settings,
    *,
    client: httpx.AsyncClient | None = None,
    schedule: LiveSchedule | None = None,
) -> list[BaseRoute]:
    """``POST /discord/interactions`` when DISCORD_PUBLIC_KEY + DISCORD_APPLICATION_ID are set."""
    if not bot.discord:
        return []
    client = client or httpx.AsyncClient(timeout=30)  # lives as long as the server

    first_ingest = getattr(schedule, "wait_ingested", None)  # start-up: see bot/slack/app.py

    def answer(topic: str) -> Brief:
        if first_ingest is not None:
            first_ingest()
        return make_brief(
            store, topic, topics=core.topics, now=datetime.now(UTC), sentences=core.brief_sentences
        )

    config = DiscordInteractions(
        public_key=bot.discord_public_key or "",
        application_id=bot.discord_application_id or "",
        brief=answer,
        client=client,
        api_url=bot.discord_api_url,
        commands=DiscordCommands(
            store, core, client, bot.discord_api_url, bot.discord_bot_token, schedule=schedule
        ),
    )
    return [interactions_route(config)]


def register_slash_commands(environ: Mapping[str, str], *, guild: str | None = None) -> str:
    """Register /brief with Discord (globally or in one guild); the names registered."""
    settings = load_bot_settings(environ, require=False, receive=False)  # sends only

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
    return ", ".join(f"/{c.get('name')}" for c in commands)
