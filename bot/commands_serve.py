"""`digestbot serve`: the wiring of the running bot.

Platforms plug in through three dicts built here: renderers (platform → digest messages),
senders (platform → outbox Sender) and extra HTTP routes. Discord adds its entries to
:func:`renderers`, :func:`senders` and :func:`extra_routes`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from slack_sdk.web.async_client import AsyncWebClient
from starlette.routing import BaseRoute

from bot.commands_discord import discord_routes, discord_sender
from bot.deliver import Renderer, owner_id
from bot.logs import secrets_filter, set_level
from bot.pacing import SharedPacer
from bot.render.discord import digest_parts as discord_digest_parts
from bot.render.slack import digest_parts as slack_digest_parts
from bot.render.slack import thread_parts as slack_thread_parts
from bot.render.slack import update_parts as slack_update_parts
from bot.schedule import DigestScheduler
from bot.settings import BotSettings, load_bot_settings, load_serve_env
from bot.slack.sender import SlackSender, make_sender_client
from bot.sweep import DEFAULT_TIMINGS, Sender, Timings
from bot.workpool import WorkPool
from digests.config import Settings
from digests.errors import ConfigError
from digests.store import Store


def renderers() -> dict[str, Renderer]:
    """Digest renderers by platform: validated messages, each with its article ids."""
    return {
        "slack": lambda digest, key: slack_digest_parts(digest, key=key),
        # subscriptions with thread = true: a headline, the stories as replies in its thread
        "slack:thread": lambda digest, key: slack_thread_parts(digest, key=key),
        # a developing story: its update also as a reply in the earlier story's thread
        "slack:update": lambda digest, key: slack_update_parts(digest, key=key),
        "discord": discord_digest_parts,
    }


def delivery_timings(environ: Mapping[str, str]) -> Timings:
    """Outbox timings; DIGESTBOT_SEND_TIMEOUT / _OUTBOX_LEASE / _OUTBOX_SWEEP / _RETRY_BASE
    (seconds) scale them, e.g. for fault-injection runs."""
    env = load_serve_env(environ)
    given = {
        "send_timeout": env.send_timeout,
        "lease": env.outbox_lease,
        "sweep_every": env.outbox_sweep,
        "backoff_base": env.retry_base,
    }
    values = {k: v for k, v in given.items() if v is not None}
    timings = Timings(**values)
    if timings.lease <= timings.send_timeout:
        raise ConfigError("DIGESTBOT_OUTBOX_LEASE must be longer than DIGESTBOT_SEND_TIMEOUT")
    return timings


def brief_pool(environ: Mapping[str, str]) -> WorkPool:
    """The `/brief` pool; DIGESTBOT_BRIEF_WORKERS (default 6) run at once, DIGESTBOT_BRIEF_QUEUE
    (default 14) wait; beyond that a request is told "busy, try again shortly" at once."""
    env = load_serve_env(environ)
    sizes = {"workers": 6, "waiting": 14}
    if env.brief_workers is not None:
        sizes["workers"] = env.brief_workers
    if env.brief_queue is not None:
        sizes["waiting"] = env.brief_queue
    return WorkPool(**sizes)


def senders(
    bot: BotSettings,
    *,
    slack_client: AsyncWebClient | None = None,
    store: Store | None = None,
    timings: Timings = DEFAULT_TIMINGS,
) -> dict[str, Sender]:
    """Outbox senders for the configured platforms (a platform left out keeps its rows waiting).

    Slack posts go through their own client: no library re-POST (see bot/slack/sender.py).
    """
    out: dict[str, Sender] = {}
    if bot.slack:
        out["slack"] = SlackSender(
            slack_client or make_sender_client(bot, timeout=timings.send_timeout)
        )
    elif bot.slack_oauth and store is not None:
        from bot.slack.oauth import WorkspaceTokens

        # Many workspaces: each row is posted with its own workspace's token.
        assert bot.slack_client_id
        tokens = WorkspaceTokens(store, bot.slack_client_id)
        out["slack"] = SlackSender(
            slack_client or make_sender_client(bot, timeout=timings.send_timeout), tokens=tokens
        )
    if store is not None:  # Discord webhooks carry their own token: no setting needed
        out["discord"] = discord_sender(bot, store)
    return out


def extra_routes(
    bot: BotSettings, store: Store, core: Settings, *, schedule: DigestScheduler | None = None
) -> list[BaseRoute]:
    """HTTP routes of other platforms (Discord mounts ``/discord/interactions`` here)."""
    return discord_routes(bot, store, core, schedule=schedule)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def run_serve(core: Settings, environ: Mapping[str, str]) -> None:
    """Start the bot: HTTP server (or Slack Socket Mode), scheduler and outbox sender."""
    from bot.metrics import Metrics, metered
    from bot.server import create_server_app, serve
    from bot.slack.app import create_app

    bot = load_bot_settings(environ)
    secrets_filter().add(
        bot.slack_bot_token,
        bot.slack_signing_secret,
        bot.slack_app_token,
        bot.slack_client_secret,
        bot.discord_bot_token,
    )
    set_level(logging.INFO, "uvicorn")  # runs, retries and failures go to the log
    store = Store.open(core.database_url)
    store.articles.story_window = timedelta(days=core.story_window_days)
    metrics = Metrics(store)
    timings = delivery_timings(environ)
    send = metered(senders(bot, store=store, timings=timings), metrics, clock=_utcnow)
    scheduler = DigestScheduler(
        store, core, renderers=renderers(), senders=send, owner=owner_id(),
        on_poll=metrics.poll_done, timings=timings,
        pacer=SharedPacer(store),  # 1 msg/s per channel across replicas (store.pacing)
        slack_team_required=bot.slack_oauth,  # a Slack digest posts with its workspace's token
    )  # fmt: skip
    slack_app = socket_mode = None
    if bot.slack_any:
        slack_app = create_app(
            bot, store, core, schedule=scheduler, metrics=metrics,
            brief_pool=brief_pool(environ),
        )  # fmt: skip
        if bot.socket_mode:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            socket_mode = functools.partial(AsyncSocketModeHandler, slack_app, bot.slack_app_token)
    app = create_server_app(
        store,
        slack_app=None if socket_mode else slack_app,
        slack_signing_secret=bot.slack_signing_secret,
        scheduler=scheduler,
        extra_routes=extra_routes(bot, store, core, schedule=scheduler),
        socket_mode=socket_mode,
        metrics=metrics,
        max_body_bytes=bot.max_request_bytes,
        body_timeout=bot.request_timeout,
    )
    serve(app, host=bot.host, port=bot.port, request_timeout=bot.request_timeout)
