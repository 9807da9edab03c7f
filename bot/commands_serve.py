"""`digestbot serve` and `digestbot digest --post CHANNEL`: the wiring of the running bot.

Platforms plug in through three dicts built here: renderers (platform → digest messages),
senders (platform → outbox Sender) and extra HTTP routes. Discord adds its entries to
:func:`renderers`, :func:`senders` and :func:`extra_routes`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from slack_sdk.web.async_client import AsyncWebClient
from starlette.routing import BaseRoute

from bot.commands_discord import discord_routes, discord_sender
from bot.deliver import Sender, deliver
from bot.render.discord import digest_messages as discord_digest_messages
from bot.render.slack import digest_messages
from bot.schedule import DigestScheduler, Renderer
from bot.settings import BotSettings, load_bot_settings
from bot.slack.sender import SlackSender, make_client
from digests.config import Settings
from digests.errors import ConfigError
from digests.models import Digest
from digests.store import Store


def renderers() -> dict[str, Renderer]:
    """Digest renderers by platform."""
    return {
        "slack": lambda digest, key: digest_messages(digest, key=key),
        "discord": discord_digest_messages,
    }


def senders(
    bot: BotSettings,
    *,
    slack_client: AsyncWebClient | None = None,
    store: Store | None = None,
) -> dict[str, Sender]:
    """Outbox senders for the configured platforms (a platform left out keeps its rows waiting)."""
    out: dict[str, Sender] = {}
    if bot.slack:
        out["slack"] = SlackSender(slack_client or make_client(bot))
    elif bot.slack_oauth and store is not None:
        from bot.slack.oauth import WorkspaceTokens

        # Many workspaces: each row is posted with its own workspace's token.
        assert bot.slack_client_id
        tokens = WorkspaceTokens(store, bot.slack_client_id)
        out["slack"] = SlackSender(slack_client or make_client(bot), tokens=tokens)
    if store is not None:  # Discord webhooks carry their own token: no setting needed
        out["discord"] = discord_sender(bot, store)
    return out


def extra_routes(bot: BotSettings, store: Store, core: Settings) -> list[BaseRoute]:
    """HTTP routes of other platforms (Discord mounts ``/discord/interactions`` here)."""
    return discord_routes(bot, store, core)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def owner_id() -> str:
    """Who claims runs in the database: host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def run_serve(core: Settings, environ: Mapping[str, str]) -> None:
    """Start the bot: HTTP server (or Slack Socket Mode), scheduler and outbox sender."""
    from bot.metrics import Metrics, metered
    from bot.server import create_server_app, serve
    from bot.slack.app import create_app

    bot = load_bot_settings(environ)
    logging.getLogger("bot").setLevel(logging.INFO)  # runs, retries and failures go to the log
    store = Store.open(core.database_url)
    metrics = Metrics(store)
    client = make_client(bot) if bot.slack_any else None  # one client: Bolt and the sender
    send = metered(senders(bot, slack_client=client, store=store), metrics, clock=_utcnow)
    scheduler = DigestScheduler(
        store, core, renderers=renderers(), senders=send, owner=owner_id(),
        on_poll=metrics.poll_done,
    )  # fmt: skip
    slack_app = socket_mode = None
    if bot.slack_any:
        slack_app = create_app(bot, store, core, client=client, schedule=scheduler, metrics=metrics)
        if bot.socket_mode:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            socket_mode = functools.partial(AsyncSocketModeHandler, slack_app, bot.slack_app_token)
    app = create_server_app(
        store,
        slack_app=None if socket_mode else slack_app,
        scheduler=scheduler,
        extra_routes=extra_routes(bot, store, core),
        socket_mode=socket_mode,
        metrics=metrics,
    )
    serve(app, host=bot.host, port=bot.port)


def post_slack(
    store: Store,
    digest: Digest,
    channel: str,
    *,
    environ: Mapping[str, str],
    now: Callable[[], datetime],
) -> str:
    """Queue ``digest`` for a Slack channel in the outbox, send it now; a one-line report."""
    bot = load_bot_settings(environ)
    if not bot.slack:
        raise ConfigError(
            "--post needs one Slack workspace: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET "
            "(with OAuth installs, subscribe a channel with /brief subscribe instead)"
        )
    key = f"adhoc:{channel}:{min(digest.article_ids)}-{max(digest.article_ids)}"
    parts = digest_messages(digest, key=key)
    # Same key for the same articles: posting twice in a row queues (and sends) nothing new.
    queued = store.outbox.enqueue(key, parts, platform="slack", channel=channel, now=now())
    report = asyncio.run(deliver(store, senders(bot), now=now))
    rows = store.outbox.messages(key)
    sent = sum(r.status == "sent" for r in rows)
    line = f"slack {channel}: {sent}/{len(rows)} message(s) sent ({key}"
    line += ", already queued)" if not queued else ")"
    if report.retried or report.dead:
        line += f"; {report.retried} to retry, {report.dead} failed — `digestbot serve` retries"
    return line
