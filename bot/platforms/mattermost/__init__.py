"""Mattermost as a :class:`~bot.platforms.Platform`: Markdown digests posted to incoming
webhooks of ``MATTERMOST_URL`` (or through ``/api/v4/posts`` with ``MATTERMOST_BOT_TOKEN``),
and the `/brief` slash command at ``POST /mattermost/command``.

settings.py   MATTERMOST_URL / _COMMAND_TOKEN / _BOT_TOKEN, webhook URLs of that server only
render.py     digest → Markdown posts under 16,383 characters; brief → cited Markdown
sender.py     the outbox sender (webhook; REST with reconciliation)
command.py    the slash command: token check, parse, the chat service, answer or response_url
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.platforms import Connection, PlatformContext
from bot.platforms.mattermost.settings import MattermostSettings, load_mattermost
from digests.errors import ConfigError
from digests.net.util import redact_url

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from bot.render import RenderedPart
    from bot.sweep import Sender
    from digests.config import SubscriptionConfig
    from digests.models import Brief, Digest


class MattermostPlatform:
    """Mattermost: Markdown posts, webhooks or the REST API, a slash command."""

    name = "mattermost"
    threads = False
    # An update is also a reply in the earlier post's thread (root_id) when that post's id is
    # known: posted through the REST API (MATTERMOST_BOT_TOKEN); a webhook post has no id.
    replies = True

    def _settings(self, ctx: PlatformContext) -> MattermostSettings | None:
        return load_mattermost(ctx.environ)

    def configured(self, ctx: PlatformContext) -> bool:
        """``MATTERMOST_URL`` is set (ConfigError when it is not a base URL)."""
        return self._settings(ctx) is not None

    def setup_hint(self) -> str:
        """What to set."""
        return "set MATTERMOST_URL (and MATTERMOST_COMMAND_TOKEN for /brief)"

    def secrets(self, ctx: PlatformContext) -> tuple[str | None, ...]:
        """The command tokens and the bot token."""
        settings = self._settings(ctx)
        if settings is None:
            return ()
        return (*settings.command_tokens, settings.bot_token)

    def check_channel(self, channel: str, ctx: PlatformContext) -> None:
        """An incoming webhook URL on ``MATTERMOST_URL``'s server (other hosts are refused)."""
        settings = self._settings(ctx)
        if settings is None:
            raise ConfigError(
                "a Mattermost webhook needs MATTERMOST_URL set (the server's base URL)"
            )
        if settings.webhook(channel) is None:
            raise ConfigError(
                f"a Mattermost channel is an incoming webhook URL of MATTERMOST_URL "
                f"({settings.url}/hooks/ID), got {redact_url(channel)!r}"
            )

    def check_credentials(self, ctx: PlatformContext) -> None:
        """Nothing checked over the network at start (a wrong token shows at its first use)."""

    def subscription_problem(self, sub: SubscriptionConfig) -> tuple[str, str] | None:
        """None: its channel needs ``MATTERMOST_URL``, checked when ``serve`` starts."""
        return None

    def check_post(self, channel: str, ctx: PlatformContext) -> None:
        """Nothing beyond :meth:`check_channel` (the webhook carries its own secret)."""

    def team_required(self, ctx: PlatformContext) -> str | None:
        """None: a webhook posts without naming a workspace."""
        return None

    def unsealed_warning(self, ctx: PlatformContext) -> str | None:
        """None: it stores no secret of its own (webhook URLs are sealed as every channel)."""
        return None

    def render_digest(self, digest: Digest, *, thread: bool = False) -> list[RenderedPart]:
        """Markdown posts, split between stories under the post limit."""
        from bot.platforms.mattermost.render import digest_parts

        return digest_parts(digest)

    def render_update(self, digest: Digest) -> list[RenderedPart]:
        """A developing story's update as one post (a reply in the earlier post's thread)."""
        from bot.platforms.mattermost.render import update_parts

        return update_parts(digest)

    def render_brief(self, brief: Brief) -> dict:
        """A brief as one Markdown post."""
        from bot.platforms.mattermost.render import brief_text

        return {"text": brief_text(brief)}

    def sender(self, ctx: PlatformContext) -> Sender | None:
        """The webhook / REST sender when ``MATTERMOST_URL`` is set."""
        settings = self._settings(ctx)
        if settings is None:
            return None
        import httpx

        from bot.platforms.mattermost.sender import MattermostSender

        client = ctx.client or httpx.AsyncClient(timeout=ctx.timings.send_timeout)
        store = ctx.opened_store()
        return MattermostSender(
            client, settings, schedules=store.subscriptions, opener=store.sealer.open
        )

    def connections(self, ctx: PlatformContext) -> list[Connection]:
        """None: everything comes over HTTP."""
        return []

    def routes(self, ctx: PlatformContext) -> list[BaseRoute]:
        """``POST /mattermost/command`` when command tokens are set and a chat service runs."""
        settings = self._settings(ctx)
        if settings is not None and not settings.command_tokens:
            log.warning(
                "MATTERMOST_COMMAND_TOKEN is not set: /brief is not answered on Mattermost "
                "(POST /mattermost/command answers 404); digests are posted"
            )
        if settings is None or not settings.command_tokens or ctx.chat is None:
            return []
        import httpx

        from bot.platforms.mattermost.command import command_route

        client = ctx.client or httpx.AsyncClient(timeout=30)  # lives as long as the server
        return [command_route(settings, ctx.chat, client)]


PLATFORM = MattermostPlatform()
