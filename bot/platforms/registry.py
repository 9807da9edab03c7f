"""The registry of chat platforms: name → the module whose ``PLATFORM`` implements it.

A leaf module (it imports nothing of the bot), so loading config can check subscription
platforms without importing any platform; ``bot.platforms.get`` imports one when asked.
"""

from __future__ import annotations

__all__ = ["REGISTRY", "names"]

# name → module whose ``PLATFORM`` implements it (imported only when asked for: the Slack
# stack stays out of commands that post nowhere).
REGISTRY: dict[str, str] = {
    "slack": "bot.platforms.slack",
    "discord": "bot.platforms.discord",
    "mattermost": "bot.platforms.mattermost",
}


def names() -> list[str]:
    """Every registered platform's name."""
    return list(REGISTRY)
