"""A fourth chat platform, "toy", made of this one file: a test registers it with one line in
``REGISTRY`` (``bot/platforms/registry.py``), as a real one is, and everything else (the
command line's ``--post-to``, config subscriptions, the scheduler, the outbox) must take it
as it is. Its sender keeps what it was given in :data:`SENT` (posts are this platform's
whole world: there is no service to stand in for).

Its rules, one per platform hook, each set by an environment variable of its own:
``TOY_TOKEN`` is needed to post from the terminal (``check_post``); a channel is a name in
capitals (``check_channel``, and as subscriptions.toml is read: ``subscription_problem``); with ``TOY_WORKSPACES`` set a subscription must name its
workspace (``team_required``) and its tokens are stored (``unsealed_warning``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.platforms import Connection, PlatformContext
from bot.render import RenderedPart
from digests.errors import ConfigError
from digests.models import Brief, Digest

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from bot.sweep import Sender
    from digests.config import SubscriptionConfig
    from digests.store.outbox import OutboxMessage

_CHANNEL = re.compile(r"[A-Z]{1,20}")
SENT: list[tuple[str, dict]] = []  # (channel, payload) of every post, in order


class ToySender:
    """Posts are kept in :data:`SENT`; a post's id is its place there."""

    platform = "toy"

    async def send(self, message: OutboxMessage) -> str | None:
        SENT.append((message.channel, message.payload))
        return str(len(SENT))

    async def find_sent(self, message: OutboxMessage) -> str | None:
        return None  # a send here always has a known outcome


class ToyPlatform:
    name = "toy"
    threads = False
    replies = False

    def configured(self, ctx: PlatformContext) -> bool:
        return "TOY_TOKEN" in ctx.environ

    def setup_hint(self) -> str:
        return "set TOY_TOKEN"

    def secrets(self, ctx: PlatformContext) -> tuple[str | None, ...]:
        return (ctx.environ.get("TOY_TOKEN"),)

    def check_channel(self, channel: str, ctx: PlatformContext) -> None:
        if not _CHANNEL.fullmatch(channel):
            raise ConfigError(f"a toy channel is a name in capitals, got {channel!r}")

    def subscription_problem(self, sub: SubscriptionConfig) -> tuple[str, str] | None:
        if not _CHANNEL.fullmatch(sub.channel):
            return "channel", f"a toy channel is a name in capitals, got {sub.channel!r}"
        return None

    def check_credentials(self, ctx: PlatformContext) -> None:
        """Nothing to ask a toy server at start."""

    def check_post(self, channel: str, ctx: PlatformContext) -> None:
        if "TOY_TOKEN" not in ctx.environ:
            raise ConfigError("posting to toy needs TOY_TOKEN")

    def team_required(self, ctx: PlatformContext) -> str | None:
        if "TOY_WORKSPACES" not in ctx.environ:
            return None
        return "with TOY_WORKSPACES a toy subscription in {file} must name its team_id"

    def unsealed_warning(self, ctx: PlatformContext) -> str | None:
        return "toy tokens are stored in plain text" if "TOY_WORKSPACES" in ctx.environ else None

    def render_digest(self, digest: Digest, *, thread: bool = False) -> list[RenderedPart]:
        if digest.empty:
            return []
        return [RenderedPart({"articles": list(digest.article_ids)}, digest.article_ids)]

    def render_update(self, digest: Digest) -> list[RenderedPart]:
        return self.render_digest(digest)

    def render_brief(self, brief: Brief) -> dict:
        return {"topic": brief.topic}

    def sender(self, ctx: PlatformContext) -> Sender | None:
        return ToySender() if self.configured(ctx) else None

    def routes(self, ctx: PlatformContext) -> list[BaseRoute]:
        return []

    def connections(self, ctx: PlatformContext) -> list[Connection]:
        return []


PLATFORM = ToyPlatform()
