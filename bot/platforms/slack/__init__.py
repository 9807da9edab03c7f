"""Slack as a :class:`~bot.platforms.Platform`: Block Kit digests (optionally threads), the
``chat.postMessage`` sender, configured by ``SLACK_BOT_TOKEN`` or OAuth installs.

The Bolt app is built by ``app.py``; its routes (``/slack/events``, OAuth) come through
:meth:`SlackPlatform.routes` like every platform's, and in Socket Mode ``bot/serve.py`` hands
the server the handler of ``routes.py`` (its lifecycle runs on the server's loop). Its
listeners only parse and render, the chat service answers.

app.py         the Bolt app factory: listeners for `/brief`, buttons, App Home, installs
routes.py      the app's HTTP routes (events, OAuth install / redirect) or Socket Mode handler
commands.py    `/brief` subcommands: parse (length, control characters, markup), then the work
home.py        the App Home tab's listener; home_view.py renders its Block Kit view
oauth.py       OAuth installs: installation and state stores on our engine, workspace tokens
sender.py      SlackSender: outbox rows → ``chat.postMessage`` (no library re-POST)
render.py      digest / brief → validated Block Kit messages
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from bot.platforms import Connection, PlatformContext
from bot.render import RenderedPart
from digests.errors import ConfigError
from digests.models import Brief, Digest

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient
    from starlette.routing import BaseRoute

    from bot.settings import BotSettings
    from bot.sweep import Sender
    from digests.config import SubscriptionConfig
    from digests.store import Store

log = logging.getLogger(__name__)
_TEAM_ID = re.compile(r"T[A-Z0-9]{1,31}")  # a Slack workspace id (team_id columns are 32 wide)


def slack_sender(
    bot: BotSettings,
    store: Store | None,
    *,
    client: AsyncWebClient | None = None,
    timeout: float = 20.0,
) -> Sender | None:
    """The outbox sender for ``slack`` rows: one workspace's token, or (OAuth installs) each
    row's workspace's token; None when Slack is not set up. Posts go through their own client:
    no library re-POST (see bot/platforms/slack/sender.py). With ``store``, a channel the bot
    can no longer post to pauses its subscriptions."""
    from bot.platforms.slack.sender import SlackSender, make_sender_client

    schedules = store.subscriptions if store is not None else None
    if bot.slack_bot_token:  # sending needs only the token (serve checks the secret)
        return SlackSender(client or make_sender_client(bot, timeout=timeout), schedules=schedules)
    if bot.slack_oauth and store is not None:
        from bot.platforms.slack.oauth import WorkspaceTokens

        assert bot.slack_client_id
        tokens = WorkspaceTokens(store, bot.slack_client_id)
        return SlackSender(
            client or make_sender_client(bot, timeout=timeout), tokens=tokens, schedules=schedules
        )
    return None


# auth.test's answers for a token Slack will never accept (api.slack.com/methods/auth.test)
REFUSED_TOKEN = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
)


def check_bot_token(bot: BotSettings, *, timeout: float = 5.0) -> None:
    """Raise ConfigError when Slack refuses ``SLACK_BOT_TOKEN`` (a mistyped or wrong token).

    Without this check ``serve`` started, answered ``/healthz``, refused every digest part for
    good (``invalid_auth``) and told ``/brief`` users that digestbot "is not installed". A
    Slack that does not answer (or answers anything else) is logged and start-up goes on, as
    before: Bolt and the sender report it when they need Slack.
    """
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    quiet = logging.Logger("slack auth.test")  # slack_sdk logs a failed call at ERROR itself
    quiet.setLevel(logging.CRITICAL + 1)
    client = WebClient(
        token=bot.slack_bot_token,
        base_url=bot.slack_api_url,
        timeout=int(timeout),
        logger=quiet,
        retry_handlers=[],  # one look: unreachable is no error here
    )
    try:
        client.auth_test()
    except SlackApiError as exc:
        error = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
        if error in REFUSED_TOKEN:
            raise ConfigError(
                f"SLACK_BOT_TOKEN was refused by Slack ({error}): set it to the app's Bot User "
                "OAuth Token (xoxb-…, on the app's OAuth & Permissions page), or reinstall the "
                "app to the workspace"
            ) from None
        log.info("SLACK_BOT_TOKEN not checked at start: auth.test answered %s", error)
    except Exception as exc:  # noqa: BLE001 — unreachable (refused, DNS, timeout): not our call
        log.info("SLACK_BOT_TOKEN not checked at start: Slack unreachable (%s)", type(exc).__name__)


class SlackPlatform:
    """Slack: Block Kit rendering (``bot/platforms/slack/render.py``) and ``SlackSender``."""

    name = "slack"
    threads = True
    replies = True

    def configured(self, ctx: PlatformContext) -> bool:
        """A bot token + signing secret, or OAuth installs."""
        return ctx.bot.slack_any

    def setup_hint(self) -> str:
        """What to set."""
        return (
            "set SLACK_BOT_TOKEN + SLACK_SIGNING_SECRET (or SLACK_CLIENT_ID + "
            "SLACK_CLIENT_SECRET + SLACK_SIGNING_SECRET for OAuth installs)"
        )

    def secrets(self, ctx: PlatformContext) -> tuple[str | None, ...]:
        """Tokens and the signing secret."""
        bot = ctx.bot
        return (
            bot.slack_bot_token, bot.slack_signing_secret, bot.slack_app_token,
            bot.slack_client_secret,
        )  # fmt: skip

    def check_channel(self, channel: str, ctx: PlatformContext) -> None:
        """A channel id or name: not a URL."""
        if channel.startswith(("http://", "https://")):
            raise ConfigError("a Slack channel is a channel id such as C0123ABCD, not a URL")

    def check_credentials(self, ctx: PlatformContext) -> None:
        """``SLACK_BOT_TOKEN`` checked with ``auth.test`` (OAuth installs: no token to check)."""
        if ctx.bot.slack_bot_token:
            check_bot_token(ctx.bot)

    def subscription_problem(self, sub: SubscriptionConfig) -> tuple[str, str] | None:
        """A workspace, when named, is a Slack team id."""
        if sub.team_id is not None and not _TEAM_ID.fullmatch(sub.team_id):
            return "team_id", f"must be a Slack workspace id such as T0123ABCD, got {sub.team_id!r}"
        return None

    def check_post(self, channel: str, ctx: PlatformContext) -> None:
        """Posting from the terminal takes one workspace's bot token (OAuth installs have a
        token per workspace, and a channel names none)."""
        if not ctx.bot.slack_bot_token:
            raise ConfigError(
                "posting to Slack needs one workspace: set SLACK_BOT_TOKEN "
                "(with OAuth installs, subscribe a channel with /brief subscribe instead)"
            )

    def team_required(self, ctx: PlatformContext) -> str | None:
        """With OAuth installs a subscription posts with its workspace's token."""
        if not ctx.bot.slack_oauth:
            return None
        return (
            "with OAuth installs (SLACK_CLIENT_ID) a Slack subscription in {file} must name the "
            'workspace to post with, e.g. team_id = "T0123ABCD"'
        )

    def unsealed_warning(self, ctx: PlatformContext) -> str | None:
        """OAuth installs store each workspace's bot token."""
        if not ctx.bot.slack_oauth:
            return None
        return (
            "OAuth installs are on but DIGESTBOT_ENCRYPTION_KEY is not set: workspaces' bot "
            "tokens are stored in plain text (see README, 'Security notes')"
        )

    def render_digest(self, digest: Digest, *, thread: bool = False) -> list[RenderedPart]:
        """Block Kit messages; with ``thread`` a headline whose replies are the stories."""
        from bot.platforms.slack.render import digest_parts, thread_parts

        return thread_parts(digest) if thread else digest_parts(digest)

    def render_update(self, digest: Digest) -> list[RenderedPart]:
        """A developing story's update as one reply in its earlier thread."""
        from bot.platforms.slack.render import update_parts

        return update_parts(digest)

    def render_brief(self, brief: Brief) -> dict:
        """A brief as a Block Kit message."""
        from bot.platforms.slack.render import brief_message

        return brief_message(brief)

    def sender(self, ctx: PlatformContext) -> Sender | None:
        """``SlackSender`` with the configured token(s)."""
        return slack_sender(ctx.bot, ctx.store, timeout=ctx.timings.send_timeout)

    def routes(self, ctx: PlatformContext) -> list[BaseRoute]:
        """The Bolt app's ``POST /slack/events`` (and, with OAuth installs, ``GET
        /slack/install`` and ``GET /slack/oauth_redirect``) when Slack is set up and a chat
        service runs; none in Socket Mode (a connection instead: :meth:`connections`)."""
        if not self.configured(ctx) or ctx.chat is None or ctx.bot.socket_mode:
            return []
        from bot.platforms.slack.routes import bolt_app, bolt_routes

        return bolt_routes(bolt_app(ctx), signing_secret=ctx.bot.slack_signing_secret)

    def connections(self, ctx: PlatformContext) -> list[Connection]:
        """Socket Mode's websocket, when Slack is set up with ``SLACK_APP_TOKEN`` and a chat
        service runs."""
        if not self.configured(ctx) or ctx.chat is None or not ctx.bot.socket_mode:
            return []
        from bot.platforms.slack.routes import socket_mode

        return [socket_mode(ctx)]


PLATFORM = SlackPlatform()
