"""`/brief` registration on Discord's API (the stand-in), with a configurable base URL."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bot.platforms.discord.register import register_commands
from digests.errors import ConfigError
from tests.bot.discord_standin import DiscordStandIn, serving


def test_register_puts_the_brief_command_with_its_subcommands() -> None:
    api = DiscordStandIn()

    async def main() -> None:
        async with serving(api.app()) as base, httpx.AsyncClient() as client:
            saved = await register_commands(
                client, application_id="42", bot_token=api.bot_token, api_url=f"{base}/api/"
            )
            again = await register_commands(
                client,
                application_id="42",
                bot_token=api.bot_token,
                api_url=f"{base}/api",
                guild_id="7",
            )
            assert [c["name"] for c in saved] == ["brief"] and [c["name"] for c in again] == [
                "brief"
            ]
            with pytest.raises(ConfigError, match="DISCORD_BOT_TOKEN"):
                await register_commands(
                    client, application_id="42", bot_token="wrong", api_url=f"{base}/api"
                )

    asyncio.run(main())
    first, guild, _ = api.calls_to("PUT", "/applications/42")
    assert first.path == "/api/applications/42/commands"
    assert guild.path == "/api/applications/42/guilds/7/commands"
    assert first.headers["authorization"] == "Bot bot-token"
    [command] = first.json  # bulk overwrite: the whole list, so re-running is idempotent
    subcommands = {o["name"]: o for o in command["options"]}
    assert command["name"] == "brief"
    # Slack's subcommands, each a Discord SUB_COMMAND (type 1); the brief itself is `about`.
    assert set(subcommands) == {"about", "topics", "status", "subscribe", "unsubscribe", "help"}
    assert all(o["type"] == 1 for o in subcommands.values())
    topic = next(o for o in subcommands["about"]["options"] if o["name"] == "topic")
    assert topic["type"] == 3 and topic["required"] is True
    assert {o["name"] for o in subcommands["subscribe"]["options"]} == {
        "topics",
        "time",
        "timezone",
    }


def test_register_needs_an_application_id_and_token() -> None:
    async def main() -> None:
        async with httpx.AsyncClient() as client:
            with pytest.raises(ConfigError):
                await register_commands(client, application_id="", bot_token="t")

    asyncio.run(main())
