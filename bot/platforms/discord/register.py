"""Register the ``/brief`` application command (and its subcommands) with Discord (``digestbot discord register``).

Uses the bulk-overwrite endpoint (``PUT /applications/{id}/commands``, or the guild variant
for instant updates while testing): it is idempotent, so running it twice changes nothing.
Discord's docs: "Interactions → Application Commands → Bulk Overwrite Global Application Commands".
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import httpx

from bot.command import MAX_TOPIC
from bot.platforms.discord import DEFAULT_API_URL
from digests.errors import ConfigError, DeliveryError
from digests.net.util import redact_url


# Option types from Discord's docs: 1 = SUB_COMMAND, 3 = STRING, 5 = BOOLEAN; command type 1 =
# CHAT_INPUT. A command with subcommands can have no options of its own, so the brief itself is
# `/brief about topic:…` (a bare `/brief topic:…` from an older registration still works).
def _text(name: str, description: str, *, required: bool = False, max_length: int = 100) -> dict:
    return {
        "type": 3,
        "name": name,
        "description": description,
        "required": required,
        "max_length": max_length,
    }


BRIEF_COMMAND: dict = {
    "name": "brief",
    "type": 1,
    "description": "Cited summaries of the stored articles, and this channel's daily digest",
    "options": [
        {
            "type": 1,
            "name": "about",
            "description": "A short, cited summary of what the stored articles say about a topic",
            "options": [
                _text(
                    "topic", "A topic name, alias or any words", required=True, max_length=MAX_TOPIC
                ),
                {
                    "type": 5,
                    "name": "share",
                    "description": "Post the brief in the channel (default: only you see it)",
                    "required": False,
                },
            ],
        },
        {"type": 1, "name": "topics", "description": "Known topics and their article counts"},
        {
            "type": 1,
            "name": "status",
            "description": "This channel's digest and the sources' health",
        },
        {
            "type": 1,
            "name": "subscribe",
            "description": "A daily digest in this channel (needs Manage Webhooks)",
            "options": [
                _text("topics", "Topics, separated by spaces (empty: all)", max_length=500),
                _text("time", "When, as HH:MM (24-hour; default 08:00)", max_length=5),
                _text(
                    "timezone", "An Area/City name, e.g. Europe/London (default UTC)", max_length=64
                ),
            ],
        },
        {"type": 1, "name": "unsubscribe", "description": "Stop this channel's daily digest"},
        {"type": 1, "name": "help", "description": "What /brief can do"},
    ],
}


async def register_commands(
    client: httpx.AsyncClient,
    *,
    application_id: str,
    bot_token: str,
    api_url: str = DEFAULT_API_URL,
    guild_id: str | None = None,
) -> list[dict]:
    """Put ``/brief`` on Discord (globally, or in one guild); the commands Discord now has."""
    if not application_id or not bot_token:
        raise ConfigError("set DISCORD_APPLICATION_ID and DISCORD_BOT_TOKEN to register commands")
    base = f"{api_url.rstrip('/')}/applications/{application_id}"
    url = f"{base}/guilds/{guild_id}/commands" if guild_id else f"{base}/commands"
    try:
        response = await client.put(
            url, json=[BRIEF_COMMAND], headers={"Authorization": f"Bot {bot_token}"}
        )
    except httpx.TransportError as exc:
        raise DeliveryError(
            f"cannot reach Discord at {redact_url(api_url)}: {type(exc).__name__}"
        ) from exc
    if response.status_code in (401, 403):
        raise ConfigError(
            f"Discord refused DISCORD_BOT_TOKEN for application {application_id} "
            f"({response.status_code})"
        )
    if response.is_error:
        raise DeliveryError(
            f"Discord refused the command ({response.status_code}): {response.text[:200]}"
        )
    return list(response.json())


def register_slash_commands(environ: Mapping[str, str], *, guild: str | None = None) -> str:
    """Register /brief with Discord (globally or in one guild); the names registered."""
    from bot.settings import load_bot_settings

    settings = load_bot_settings(environ, receive=False)  # sends only

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
