"""Discord as a :class:`~bot.platforms.Platform`: embed digests posted to channel webhooks,
the ``/discord/interactions`` endpoint (``/brief`` through the chat service), configured by
``DISCORD_PUBLIC_KEY`` + ``DISCORD_APPLICATION_ID`` (webhooks alone need no setting).

webhook.py        DiscordWebhookSender: outbox messages → channel webhooks (429, 404, reconcile)
interactions.py   POST /discord/interactions: Ed25519 check, PING, deferred `/brief`
commands.py       `/brief` subcommands (topics, status, subscribe, unsubscribe) and their work
register.py       put the `/brief` application command on Discord's API
render.py         digest / brief → validated webhook messages of embeds
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bot.platforms import Connection, PlatformContext
from bot.render import RenderedPart
from digests.errors import ConfigError, InputError
from digests.models import Brief, Digest

DEFAULT_API_URL = "https://discord.com/api/v10"
log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import httpx
    from starlette.routing import BaseRoute

    from bot.platforms.discord.webhook import DiscordWebhookSender
    from bot.settings import BotSettings
    from bot.sweep import Sender
    from digests.config import SubscriptionConfig
    from digests.store import Store


def discord_sender(
    bot: BotSettings, store: Store, *, client: httpx.AsyncClient | None = None
) -> DiscordWebhookSender:
    """The outbox sender for ``discord`` rows; webhooks carry their own token, so always on."""
    import httpx

    from bot.platforms.discord.webhook import DiscordWebhookSender

    return DiscordWebhookSender(
        client or httpx.AsyncClient(timeout=30),
        schedules=store.subscriptions,
        api_url=bot.discord_api_url,
        bot_token=bot.discord_bot_token,
        opener=store.sealer.open,
        application_id=bot.discord_application_id,
    )


def check_bot_token(api_url: str, token: str, *, timeout: float = 5.0) -> None:
    """Raise ConfigError when Discord refuses the bot token (401: mistyped, or reset in the
    Developer Portal since). Without this a wrong token showed only at a ``/brief subscribe``
    or a reconcile. Any other answer, or none, is logged and start-up goes on."""
    import httpx

    try:
        answer = httpx.get(
            f"{api_url.rstrip('/')}/users/@me",
            headers={"Authorization": f"Bot {token}"},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        log.info("DISCORD_BOT_TOKEN not checked at start: Discord unreachable (%s)",
                 type(exc).__name__)  # fmt: skip
        return
    if answer.status_code == 401:
        raise ConfigError(
            "DISCORD_BOT_TOKEN was refused by Discord (401 Unauthorized): set it to the bot's "
            "token (Developer Portal, your application, Bot, Reset Token)"
        )
    if answer.status_code != 200:
        log.info("DISCORD_BOT_TOKEN not checked at start: /users/@me answered %d",
                 answer.status_code)  # fmt: skip


class DiscordPlatform:
    """Discord: embeds (``bot/platforms/discord/render.py``), webhooks, interactions."""

    name = "discord"
    threads = False
    replies = False  # an update links the earlier message instead

    def configured(self, ctx: PlatformContext) -> bool:
        """Interactions are set up (webhook delivery needs nothing and is always on)."""
        return ctx.bot.discord

    def setup_hint(self) -> str:
        """What to set."""
        return "set DISCORD_PUBLIC_KEY + DISCORD_APPLICATION_ID"

    def secrets(self, ctx: PlatformContext) -> tuple[str | None, ...]:
        """The bot token (webhook URLs are redacted wherever they are logged)."""
        return (ctx.bot.discord_bot_token,)

    def check_channel(self, channel: str, ctx: PlatformContext) -> None:
        """A channel webhook URL."""
        from bot.platforms.discord.webhook import is_webhook_url

        if not is_webhook_url(channel):
            raise ConfigError(
                "a Discord channel is its webhook URL (https://discord.com/api/webhooks/ID/TOKEN)"
            )

    def check_credentials(self, ctx: PlatformContext) -> None:
        """``DISCORD_BOT_TOKEN``, when set, checked with ``GET /users/@me``."""
        if ctx.bot.discord_bot_token:
            check_bot_token(ctx.bot.discord_api_url, ctx.bot.discord_bot_token)

    def subscription_problem(self, sub: SubscriptionConfig) -> tuple[str, str] | None:
        """A webhook URL that may carry its token (https, or http to this machine: the URL
        itself is checked when ``serve`` starts), and no workspace (the webhook has its own)."""
        from digests.net.util import secret_url_scheme_ok

        try:
            if not secret_url_scheme_ok(sub.channel):
                return "", (
                    "a discord channel is its webhook URL (https://..., or http:// to this machine)"
                )
        except ValueError as exc:  # not even a URL ("http://[::1")
            return "", str(exc)
        if sub.team_id is not None:
            return "", "team_id is for Slack subscriptions (a Discord webhook has its own)"
        return None

    def check_post(self, channel: str, ctx: PlatformContext) -> None:
        """InputError unless ``channel`` is a channel webhook URL that may carry its token
        (https, or http to this machine: the rule of subscriptions.toml). The messages name
        ``--post-discord``, the option a webhook was first given with.

        The message is redacted again on its way out (bot/cli/output.py), and a URL runs
        there to the next space: so the URL shown is followed by a space, never by
        punctuation it would swallow, and the form asked for is a path, not a URL whose token
        part would be hidden.
        """
        from bot.platforms.discord.webhook import is_webhook_url
        from digests.net.util import redact, secret_url_scheme_ok

        try:
            if is_webhook_url(channel):
                return
            in_clear = urlsplit(channel).scheme == "http" and not secret_url_scheme_ok(channel)
        except ValueError as exc:  # not even a URL ("http://[::1")
            raise InputError(f"--post-discord: not a valid URL ({exc})") from None
        shown = redact(channel)  # a bare "discord.com/api/webhooks/1/TOKEN" too
        if in_clear:
            raise InputError(
                f"--post-discord {shown} is plain http to another machine: a webhook URL is a "
                "secret, so use https (plain http only to this machine)"
            )
        raise InputError(
            f"--post-discord {shown} is not a channel webhook URL (an https URL ending in "
            "/api/webhooks/ID/TOKEN)"
        )

    def team_required(self, ctx: PlatformContext) -> str | None:
        """None: a webhook posts without naming a workspace."""
        return None

    def unsealed_warning(self, ctx: PlatformContext) -> str | None:
        """None: it stores no secret of its own (webhook URLs are sealed as every channel)."""
        return None

    def render_digest(self, digest: Digest, *, thread: bool = False) -> list[RenderedPart]:
        """Webhook messages of embeds, one per story."""
        from bot.platforms.discord.render import digest_parts

        return digest_parts(digest)

    def render_update(self, digest: Digest) -> list[RenderedPart]:
        """A developing story's update (no threads here: rendered as a digest)."""
        return self.render_digest(digest)

    def render_brief(self, brief: Brief) -> dict:
        """A brief as one embed."""
        from bot.platforms.discord.render import brief_message

        return brief_message(brief)

    def sender(self, ctx: PlatformContext) -> Sender | None:
        """The webhook sender (always: a webhook subscription may exist without interactions)."""
        return discord_sender(ctx.bot, ctx.opened_store(), client=ctx.client)

    def connections(self, ctx: PlatformContext) -> list[Connection]:
        """None: everything comes over HTTP."""
        return []

    def routes(self, ctx: PlatformContext) -> list[BaseRoute]:
        """``POST /discord/interactions`` when interactions are set up and a chat service runs."""
        if not self.configured(ctx) or ctx.chat is None:
            return []
        import httpx

        from bot.platforms.discord.commands import DiscordCommands
        from bot.platforms.discord.interactions import DiscordInteractions, interactions_route

        client = ctx.client or httpx.AsyncClient(timeout=30)  # lives as long as the server
        bot, store = ctx.bot, ctx.opened_store()
        config = DiscordInteractions(
            public_key=bot.discord_public_key or "",
            application_id=bot.discord_application_id or "",
            chat=ctx.chat,
            client=client,
            api_url=bot.discord_api_url,
            commands=DiscordCommands(ctx.chat, client, bot.discord_api_url, bot.discord_bot_token),
            first_time=lambda ident: store.replays.first_time(
                f"discord:{ident}", now=datetime.now(UTC)
            ),
        )
        return [interactions_route(config)]


PLATFORM = DiscordPlatform()
