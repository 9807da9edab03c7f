"""The Bolt app factory and its listeners (registered in one place, each thin).

`/brief` acknowledges at once — with the answer itself for help and bad input, empty
otherwise — and a lazy listener does the work off the event loop and answers through
``response_url`` (Slack: ack within 3 s; response_url usable 5 times in 30 minutes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
from slack_bolt import BoltResponse
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot import topic_feedback
from bot.chat import ChatService, LiveSchedule
from bot.command import Command, subscribe_request_of
from bot.metrics import Metrics
from bot.platforms.slack import commands
from bot.platforms.slack.guard import RECEIVED_AT
from bot.platforms.slack.home import register_home
from bot.platforms.slack.oauth import oauth_settings, register_install_listeners
from bot.platforms.slack.render import SHARE_ACTION, brief_message, escape_mrkdwn, text_message
from bot.platforms.slack.sender import configure_client
from bot.settings import BotSettings
from bot.subscribe import first_digest
from bot.workpool import BUSY, WorkPool
from digests.config import Settings
from digests.errors import ConfigError, DigestError
from digests.store import Store

log = logging.getLogger(__name__)

SLACK_UNREACHABLE = (
    ":warning: digestbot cannot reach Slack just now, so it cannot answer. "
    "Please try again in a minute."
)
NOT_INSTALLED = (
    ":warning: digestbot is not installed in this workspace (any more), so it cannot answer. "
    "A workspace admin can add it again from the bot's install page."
)
TOKEN_REFUSED = (  # one workspace (SLACK_BOT_TOKEN): the token is the operator's to fix
    ":warning: Slack refused digestbot's bot token, so it cannot answer. "
    "digestbot's operator needs to set SLACK_BOT_TOKEN to the app's Bot User OAuth Token again."
)


def create_app(
    settings: BotSettings,
    store: Store,
    core_settings: Settings,
    *,
    schedule: LiveSchedule | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    metrics: Metrics | None = None,
    brief_pool: WorkPool | None = None,
    chat: ChatService | None = None,
) -> AsyncApp:
    """A Bolt AsyncApp; no network call happens until a request arrives.

    With ``SLACK_BOT_TOKEN`` it serves that one workspace. With ``SLACK_CLIENT_ID`` +
    ``SLACK_CLIENT_SECRET`` instead it serves every workspace that installs it through
    ``/slack/install`` (Bolt's OAuth flow); each request then carries its workspace's token.
    Bolt's Web API client calls ``SLACK_API_URL`` with :func:`~bot.platforms.slack.sender.configure_client`'s
    timeout and retries (each request's client is a copy of it). ``chat``: the process's
    chat service (default: one over ``brief_pool`` and ``metrics``).
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
        # Instead of Bolt's stock "installation is no longer available" text. With one
        # workspace's token, a refused authorization is that token's fault, not an uninstall.
        user_facing_authorize_error_message=(
            NOT_INSTALLED if settings.slack_oauth else TOKEN_REFUSED
        ),
    )
    # SLACK_API_URL (also for oauth.v2.access: the OAuth flow shares this client), retries.
    configure_client(app.client, settings)
    single = not settings.slack_oauth
    chat = chat or ChatService(
        store, core_settings, pool=brief_pool, metrics=metrics, schedule=schedule, clock=clock
    )
    register_listeners(app, chat, single=single)
    register_home(app, store, single=single, schedule=schedule, clock=clock)
    register_error_handler(app)
    if settings.slack_oauth:
        register_install_listeners(
            app, store, unschedule=schedule.unschedule if schedule is not None else None
        )
    return app


def register_error_handler(app: AsyncApp) -> None:
    """Answer a request politely when the Slack Web API cannot be reached, instead of a 500.

    Bolt's one-workspace authorization calls ``auth.test`` on every request until one call
    succeeds (its result is then kept), before any listener runs; unreachable (refused,
    unresolvable, timed out), that call raises and Bolt would answer 500 with a traceback in
    the log. Such a failure — there or in a listener's own API call — is one warning line
    (the traceback with ``-v``): a slash command is told to try again shortly (an ephemeral
    answer in the HTTP response itself, which needs no API), anything else gets 503 (Slack
    retries events). Any other error keeps Bolt's behaviour: the traceback logged, 500.
    """

    async def on_error(error: Exception, body: dict) -> BoltResponse | None:
        if not isinstance(error, (aiohttp.ClientError, TimeoutError)):
            log.error("Slack request failed: %s", error, exc_info=error)
            return None  # Bolt answers 500
        command = body.get("command")
        what = command or (body.get("event") or {}).get("type") or body.get("type") or "request"
        text = str(error).strip()
        reason = f"{type(error).__name__}: {text}" if text else type(error).__name__
        verbose = log.isEnabledFor(logging.DEBUG)
        if command:
            log.warning("Slack API unreachable (%s): %s asked to try again", reason, what,
                        exc_info=error if verbose else None)  # fmt: skip
            message = {"response_type": "ephemeral", **text_message(SLACK_UNREACHABLE)}
            return BoltResponse(status=200, body=message)
        log.warning("Slack API unreachable (%s): %s answered 503", reason, what,
                    exc_info=error if verbose else None)  # fmt: skip
        return BoltResponse(status=503, body="")

    app.error(on_error)


ANSWER_TIMEOUT = 30  # seconds for one response_url post (Bolt's respond: slack_sdk's default)
Answer = Callable[..., Awaitable[None]]  # answer(respond, **message): post it to response_url


class Answers:
    """The answers at ``response_url`` of the requests under way, over one HTTP session.

    Bolt's ``respond`` opens an aiohttp session of its own for every answer: a connector, a
    DNS lookup, a TCP (with Slack, TLS) connection, then closes it all, on the event loop that
    acks (100 answered `/brief`: 3.4 s of the loop's 9 busy seconds, the acks 2.3 s;
    docs/lab/perf.md). Here a session is opened when the first request of a
    burst starts its work and closed when the last one has answered: the answers in between
    reuse its connections (keep-alive), and nothing stays open while the bot is idle or
    stopping. The message and its target are Bolt's (``respond``'s URL, proxy and TLS
    context); slack_sdk's webhook client sends it with its usual retry of a failed connection.
    """

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._users = 0

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[Answer]:
        """``answer(respond, **message)`` for one request, sharing the session of the others
        under way."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=ANSWER_TIMEOUT)
            )
        session = self._session
        self._users += 1

        async def answer(respond: AsyncRespond, **message: Any) -> None:
            if respond.response_url is None:
                await respond(**message)  # Bolt's own error: no response_url here
                return
            hook = AsyncWebhookClient(
                url=respond.response_url, session=session, timeout=ANSWER_TIMEOUT,
                proxy=respond.proxy, ssl=respond.ssl,
            )  # fmt: skip
            await hook.send(**message)

        try:
            yield answer
        finally:
            self._users -= 1
            if self._users == 0 and self._session is session:
                self._session = None
                await session.close()


def register_listeners(app: AsyncApp, chat: ChatService, *, single: bool = True) -> None:
    """The ``/brief`` command and the share button (Home and installs: their own modules).

    Slack only parses and renders here; what a command means is :class:`~bot.chat.ChatService`.
    Briefs run in its bounded pool: beyond its capacity the ack itself says "busy, try again
    shortly" instead of an answer minutes late.

    ``single``: one workspace (bot token). Otherwise each chat subscription is named and
    filtered by the team id of the workspace the command came from.
    """
    from bot.platforms.slack import PLATFORM  # the platform renders its briefs

    core, store = chat.core, chat.store
    answers = Answers()  # the response_url posts share a session while requests are under way

    async def _parse(command: dict) -> Command:
        text = commands.typed(command.get("text", ""))
        # A subscription may name a topic or any source's tag (read now: `sources add --tags`
        # may have added one since serve started); other commands need only the topics.
        subscribing = text.lower().split()[:1] == ["subscribe"]
        return commands.parse(text, await chat.subscribable() if subscribing else core.topics)

    def _key(command: dict) -> str:  # one invocation: its response_url is unique
        return str(command.get("response_url") or command.get("trigger_id") or id(command))

    async def ack_brief(ack: Any, command: dict, context: Any) -> None:
        parsed = await _parse(command)
        team = str(command.get("team_id") or "")  # teams are served in turn
        arrived = context.get(RECEIVED_AT) if hasattr(context, "get") else None
        waited = time.monotonic() - arrived if isinstance(arrived, float) else 0.0
        if parsed.action == "brief" and not chat.admit(_key(command), team, waited=waited):
            log.warning("/brief refused for %s: answer expected in %.1f s (over %.1f s)",
                        team or "?", chat.pool.expected_wait(team), chat.pool.max_wait)  # fmt: skip
            await ack(response_type="ephemeral", **text_message(BUSY))
        elif parsed.action == "help":
            usage = text_message(commands.USAGE, fallback=commands.USAGE_SUMMARY)
            await ack(response_type="ephemeral", **usage)
        elif parsed.action == "invalid":
            await ack(response_type="ephemeral", **text_message(f":warning: {parsed.error}"))
        else:
            await ack()

    async def work_brief(command: dict, respond: Any) -> None:
        parsed = await _parse(command)
        if parsed.action in {"help", "invalid"}:
            return  # answered in the ack
        if parsed.action == "brief" and not chat.admitted(_key(command)):
            return  # the ack said "busy"
        async with answers.session() as answer:
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
            await answer(respond, response_type="ephemeral", replace_original=False, **message)

    async def _answer(parsed: Command, command: dict) -> dict:
        now, channel = chat.clock(), command.get("channel_id", "")
        team = command.get("team_id") or None
        scope = None if single else team  # OAuth: names and lookups are per workspace
        if parsed.action == "brief":
            brief = await chat.brief(_key(command), parsed.topic, platform="slack")
            return PLATFORM.render_brief(brief)
        if parsed.action == "topics":
            return commands.topics_message(await chat.topics())
        if parsed.action == "status":
            status = await chat.status(
                lambda: commands.channel_subscriptions(store, channel, team=scope)
            )
            return commands.status_message(status, now)
        if parsed.action == "subscribe":
            sub = await chat.subscribe(
                subscribe_request_of(parsed),
                name=commands.chat_subscription_name(channel, team=scope),
                platform="slack", channel=channel, team_id=team,
            )  # fmt: skip
            return text_message(
                ":white_check_mark: Subscribed.\n"
                f"{commands.describe(sub, now)}\n{first_digest(sub, now)}",
                fallback=f"Subscribed: {commands.digest_summary(sub, now)}.",
            )
        name = commands.chat_subscription_name(channel, team=scope)  # unsubscribe
        if await chat.unsubscribe(name) is not None:
            return text_message("Unsubscribed: this channel gets no more `/brief` digests.")
        others = await asyncio.to_thread(commands.channel_subscriptions, store, channel, team=scope)
        if others:
            return text_message(
                "This channel's digest comes from the bot's config; ask an operator to remove it."
            )
        return text_message("This channel has no digest subscription.")

    async def ack_share(ack: Any) -> None:
        await ack()

    async def work_share(body: dict, respond: Any) -> None:
        topic = str((body.get("actions") or [{}])[0].get("value", ""))
        parsed = commands.parse(topic, core.topics)
        if parsed.action != "brief":
            return
        user = (body.get("user") or {}).get("id")
        key = f"share:{body.get('trigger_id') or body.get('response_url') or id(body)}"
        team = str((body.get("team") or {}).get("id") or "")
        async with answers.session() as answer:
            if not chat.admit(key, team):  # the same bounded pool as /brief
                busy = text_message(BUSY)
                await answer(respond, response_type="ephemeral", replace_original=False, **busy)
                return
            brief = await chat.brief(key, parsed.topic, platform="slack")
            message = brief_message(brief, shareable=False, shared_by=user)
            # in_channel through response_url: works where the bot is not a member, no scope.
            await answer(respond, response_type="in_channel", replace_original=False, **message)

    async def ack_feedback(ack: Any) -> None:
        await ack()

    async def work_feedback(body: dict, respond: Any) -> None:
        action = (body.get("actions") or [{}])[0]
        user = body.get("user") or {}
        team = str((body.get("team") or {}).get("id") or "")
        # Who may change topics is who may manage the channel's subscription: a member of the
        # workspace the channel belongs to (as for `/brief subscribe`); a user from another
        # organisation in a shared channel (Slack Connect) carries another team id. In an
        # Enterprise Grid org a user's team_id is the org's (E…), the workspace's org too.
        grid = str((body.get("team") or {}).get("enterprise_id") or "")
        user_team = str(user.get("team_id") or team)
        if not team or user_team not in {team, grid} - {""}:
            text = ":no_entry: Only members of this workspace can change this channel's topics."
        else:
            try:
                text = await chat.feedback(
                    action=str(action.get("action_id")), value=action.get("value"),
                    user=str(user.get("id") or ""), workspace=team, platform="slack",
                )  # fmt: skip
            except DigestError as exc:
                text = f":warning: {escape_mrkdwn(str(exc))}"
        await respond(response_type="ephemeral", replace_original=False, **text_message(text))

    app.command("/brief")(ack=ack_brief, lazy=[work_brief])
    app.action(SHARE_ACTION)(ack=ack_share, lazy=[work_share])
    for action_id in topic_feedback.KINDS:
        app.action(action_id)(ack=ack_feedback, lazy=[work_feedback])
