"""Discord wiring: `digestbot discord register` (the sender and routes are the platform's,
``bot/platforms/discord``).

Kept out of ``bot/cli/`` so the CLI only wires options to these functions.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping

import httpx

from bot.discord.register import register_commands
from bot.settings import load_bot_settings

_WEBHOOK_ID = re.compile(r"/webhooks/(\d+)/")
_WAIT_AT_MOST = 30.0  # seconds the CLI itself waits out a 429; longer waits are left to `serve`


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
