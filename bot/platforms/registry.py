"""The registry of chat platforms: name → the module whose ``PLATFORM`` implements it.

A leaf module (it imports nothing of the bot), so loading config can check subscription
platforms' names without importing any platform; ``bot.platforms.get`` imports one when
asked, and :func:`subscription_problem` each platform a config subscription names.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from digests.config import SubscriptionConfig

__all__ = ["REGISTRY", "names", "subscription_problem"]

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


def subscription_problem(sub: SubscriptionConfig) -> tuple[str, str] | None:
    """What the platform ``sub`` names finds wrong with it as written (its
    ``subscription_problem``), importing that platform only: the ``check_subscription`` that
    loading config passes to :func:`digests.config.load_settings` (the name is known)."""
    problem: tuple[str, str] | None = importlib.import_module(
        REGISTRY[sub.platform]
    ).PLATFORM.subscription_problem(sub)
    return problem
