"""Register the ``/brief`` application command with Discord (``digestbot discord register``).

Uses the bulk-overwrite endpoint (``PUT /applications/{id}/commands``, or the guild variant
for instant updates while testing): it is idempotent, so running it twice changes nothing.
Discord's docs: "Interactions → Application Commands → Bulk Overwrite Global Application Commands".
"""

from __future__ import annotations

import httpx

from bot.discord import DEFAULT_API_URL
from bot.discord.interactions import MAX_TOPIC
from digests.errors import ConfigError, DeliveryError
from digests.netutil import redact_url

# Option types from Discord's docs: 3 = STRING, 5 = BOOLEAN; command type 1 = CHAT_INPUT.
BRIEF_COMMAND: dict = {
    "name": "brief",
    "type": 1,
    "description": "A short, cited summary of what the stored articles say about a topic",
    "options": [
        {
            "type": 3,
            "name": "topic",
            "description": "A topic name, alias or any words",
            "required": True,
            "max_length": MAX_TOPIC,
        },
        {
            "type": 5,
            "name": "share",
            "description": "Post the brief in the channel (default: only you see it)",
            "required": False,
        },
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
