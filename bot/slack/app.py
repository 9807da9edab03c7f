"""The Bolt app factory and its listeners (registered in one place, each thin).

`/brief` acknowledges at once — with the answer itself for help and bad input, empty
otherwise — and a lazy listener does the work off the event loop and answers through
``response_url`` (Slack: ack within 3 s; response_url usable 5 times in 30 minutes).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from slack_bolt.async_app import AsyncApp

from bot.commands_subscribe import first_digest
from bot.metrics import Metrics
from bot.render.slack import SHARE_ACTION, escape_mrkdwn, text_message
from bot.settings import BotSettings
from bot.slack import commands
from bot.slack.home import register_home
from bot.slack.oauth import oauth_settings, register_install_listeners
from bot.slack.sender import configure_client
from bot.workpool import BUSY, WorkPool
from digests.config import Settings
from digests.errors import ConfigError, DigestError
from digests.store import Store
from digests.store.schedules import Subscription

log = logging.getLogger(__name__)


class LiveSchedule(Protocol):
    """What the app needs from the scheduler to apply `/brief subscribe` at once."""

    def schedule(self, sub: Subscription) -> None: ...

    def unschedule(self, name: str) -> None: ...


def create_app(
    settings: BotSettings,
    store: Store,
    core_settings: Settings,
    *,
    schedule: LiveSchedule | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    metrics: Metrics | None = None,
    brief_pool: WorkPool | None = None,
) -> AsyncApp:
    """A Bolt AsyncApp; no network call happens until a request arrives.

    With ``SLACK_BOT_TOKEN`` it serves that one workspace. With ``SLACK_CLIENT_ID`` +
    ``SLACK_CLIENT_SECRET`` instead it serves every workspace that installs it through
    ``/slack/install`` (Bolt's OAuth flow); each request then carries its workspace's token.
    Bolt's Web API client calls ``SLACK_API_URL`` with :func:`~bot.slack.sender.make_client`'s
    timeout and retries (each request's client is a copy of it).
    """
    if not settings.slack_any:
        raise ConfigError(
            "Slack is not configured: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET "
            "(or SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_SIGNING_SECRET)"
        )
    app = AsyncApp(
        signing_secret=settings.slack_signing_secret,
        # The token is handed over and Bolt builds its client with it (configured below). Given
        # a client instead, Bolt falls back to os.environ["SLACK_BOT_TOKEN"] for the missing
        # token and warns at every start that this token "will be unused". OAuth mode: None
        # (each request's token comes from its workspace's installation).
        token=settings.slack_bot_token,
        name="digestbot",
        # Request verification stays on: Bolt answers 401 before any listener runs.
        request_verification_enabled=True,
        oauth_settings=oauth_settings(settings, store) if settings.slack_oauth else None,
    )
    # SLACK_API_URL (also for oauth.v2.access: the OAuth flow shares this client), retries.
    configure_client(app.client, settings)
    single = not settings.slack_oauth
    register_listeners(
        app, store, core_settings, schedule=schedule, clock=clock, single=single, metrics=metrics,
        pool=brief_pool or WorkPool(),
    )  # fmt: skip
    register_home(app, store, single=single, schedule=schedule, clock=clock)
    if settings.slack_oauth:
        register_install_listeners(
            app, store, unschedule=schedule.unschedule if schedule is not None else None
        )
    return app


def register_listeners(
    app: AsyncApp,
    store: Store,
    core: Settings,
    *,
    schedule: LiveSchedule | None,
    clock: Callable[[], datetime],
    single: bool = True,
    metrics: Metrics | None = None,
    pool: WorkPool | None = None,
) -> None:
    """The ``/brief`` command and the share button (Home and installs: their own modules).

    Briefs run in a bounded :class:`~bot.workpool.WorkPool`: beyond its capacity the ack
    itself says "busy, try again shortly" instead of an answer minutes late.

    ``single``: one workspace (bot token). Otherwise each chat subscription is named and
    filtered by the team id of the workspace the command came from.
    """

    pool = pool or WorkPool()

    def _key(command: dict) -> str:  # one invocation: its response_url is unique
        return str(command.get("response_url") or command.get("trigger_id") or id(command))

    async def ack_brief(ack: Any, command: dict) -> None:
        parsed = commands.parse(command.get("text", ""), core.topics)
        if parsed.action == "brief" and not pool.admit(_key(command)):
            log.warning("/brief refused: %d running, %d waiting (pool full)",
                        pool.workers, pool.waiting)  # fmt: skip
            await ack(response_type="ephemeral", **text_message(BUSY))
        elif parsed.action == "help":
            await ack(response_type="ephemeral", **text_message(commands.USAGE))
        elif parsed.action == "invalid":
            await ack(response_type="ephemeral", **text_message(f":warning: {parsed.error}"))
        else:
            await ack()

    async def work_brief(command: dict, respond: Any) -> None:
        parsed = commands.parse(command.get("text", ""), core.topics)
        if parsed.action in {"help", "invalid"}:
            return  # answered in the ack
        if parsed.action == "brief" and not pool.admitted(_key(command)):
            return  # the ack said "busy"
        try:
            message = await _answer(parsed, command)
        except DigestError as exc:
            message = text_message(f":warning: {escape_mrkdwn(str(exc))}")
        except Exception:
            # The log keeps the traceback; the user still hears back instead of silence.
            log.exception("/brief %r failed", command.get("text"))
            message = text_message(
                ":warning: Something went wrong; the operator's log has the details."
            )
        await respond(response_type="ephemeral", replace_original=False, **message)

    async def _answer(parsed: commands.Command, command: dict) -> dict:
        now, channel = clock(), command.get("channel_id", "")
        team = command.get("team_id") or None
        scope = None if single else team  # OAuth: names and lookups are per workspace
        if parsed.action == "brief":
            return await pool.run(_key(command), _brief, parsed.topic, now)
        if parsed.action == "topics":
            return await asyncio.to_thread(commands.run_topics, store, core)
        if parsed.action == "status":
            return await asyncio.to_thread(
                commands.run_status, store, channel=channel, now=now, team=scope
            )
        if parsed.action == "subscribe":
            sub = await asyncio.to_thread(
                commands.run_subscribe, store, parsed, channel=channel, now=now,
                team=team, scoped=not single,
            )  # fmt: skip
            if schedule is not None:
                schedule.schedule(sub)
            return text_message(
                ":white_check_mark: Subscribed.\n"
                f"{commands.describe(sub, now)}\n{first_digest(sub, now)}"
            )
        name = commands.chat_subscription_name(channel, team=scope)  # unsubscribe
        removed = await asyncio.to_thread(store.schedules.remove, name)
        if removed and schedule is not None:
            schedule.unschedule(name)
        if removed:
            return text_message("Unsubscribed: this channel gets no more `/brief` digests.")
        others = await asyncio.to_thread(commands.channel_subscriptions, store, channel, team=scope)
        if others:
            return text_message(
                "This channel's digest comes from the bot's config; ask an operator to remove it."
            )
        return text_message("This channel has no digest subscription.")

    # Right after start-up a brief waits for the first ingest (the scheduler's, if it has one).
    first_ingest = getattr(schedule, "wait_ingested", None)

    def _brief(topic: str, now: datetime) -> dict:
        if first_ingest is not None:
            first_ingest()
        if metrics is None:
            return commands.run_brief(store, core, topic, now=now)
        with metrics.timer("slack"):
            return commands.run_brief(store, core, topic, now=now)

    async def ack_share(ack: Any) -> None:
        await ack()

    async def work_share(body: dict, respond: Any) -> None:
        topic = str((body.get("actions") or [{}])[0].get("value", ""))
        parsed = commands.parse(topic, core.topics)
        if parsed.action != "brief":
            return
        user = (body.get("user") or {}).get("id")
        key = f"share:{body.get('trigger_id') or body.get('response_url') or id(body)}"
        if not pool.admit(key):  # the same bounded pool as /brief
            await respond(response_type="ephemeral", replace_original=False, **text_message(BUSY))
            return
        message = await pool.run(
            key, commands.run_brief, store, core, parsed.topic, now=clock(), share=False,
            shared_by=user,
        )  # fmt: skip
        # in_channel through response_url: works where the bot is not a member, no extra scope.
        await respond(response_type="in_channel", replace_original=False, **message)

    app.command("/brief")(ack=ack_brief, lazy=[work_brief])
    app.action(SHARE_ACTION)(ack=ack_share, lazy=[work_share])
