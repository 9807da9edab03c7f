"""``POST /mattermost/command``: the `/brief` slash command of Mattermost.

Mattermost posts the form fields ``token``, ``team_id``, ``channel_id``, ``user_id``,
``command``, ``text``, ``response_url``, ... (docs, "Custom slash commands"). The token is
checked first, constant-time against every ``MATTERMOST_COMMAND_TOKEN``: a wrong or missing
one is answered 401 and nothing else happens. The text is parsed by the same rule as Slack's
(``bot.command.parse``: length, control characters, markup) and the work is the chat
service's: ``/brief <topic>`` runs in its bounded pool (full: "busy" at once) and is timed by
its brief-latency metric. A brief ready within :data:`ANSWER_WITHIN` seconds is the answer
itself (ephemeral); a slower one is acknowledged and posted, when it is done, to the
``response_url`` on the configured server (``settings.reply_url``: the URL itself, or the
command webhook it names when Mattermost built it on another address). Without one the
answer waits at most ``MATTERMOST_COMMAND_WAIT`` seconds (``settings.command_wait``), then
says the brief took too long, and the brief's work is cancelled if it has not started; no
wait is longer than that setting, which is kept below the server's own timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from urllib.parse import parse_qs

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.chat import BUSY, ChatService
from bot.command import parse
from bot.platforms.mattermost.render import brief_text, escape, in_code, lines_text
from bot.platforms.mattermost.settings import MattermostSettings
from bot.render import counted
from bot.subscribe import describe
from digests.errors import DigestError
from digests.models import Brief

log = logging.getLogger(__name__)

PATH = "/mattermost/command"
ANSWER_WITHIN = 2.0  # seconds a brief may take to be the command's own answer
# Without a usable response_url the brief can only be the answer itself. Mattermost waits for
# it OutgoingIntegrationRequestsTimeout seconds (default 30, admin-configurable) and then shows
# the user a timeout: the answer waits settings.command_wait (MATTERMOST_COMMAND_WAIT, set
# under that), then says so in words (the brief is dropped: cancelled unless running).
TOO_SLOW = (
    "⏳ This brief is taking longer than Mattermost waits for an answer, and this command "
    "gave no reply address (response_url) to post it to later. Try again in a moment."
)
HELP = (
    "**/brief** — news digests and cited summaries\n"
    "* `/brief <topic>` — a short, cited summary (e.g. `/brief taiwan`)\n"
    "* `/brief topics` — known topics and how many articles each has\n"
    "* `/brief status` — this channel's digests and the sources' health\n"
    "* `/brief help` — this message\n"
    "Digests come from subscriptions in `config/subscriptions.toml` (platform "
    '`"mattermost"`, channel: an incoming webhook URL).'
)


def _answer(text: str, *, in_channel: bool = False) -> JSONResponse:
    kind = "in_channel" if in_channel else "ephemeral"
    return JSONResponse({"response_type": kind, "text": text})


def _fields(body: bytes, content_type: str) -> dict[str, str]:
    """The command's fields: a form (what Mattermost posts) or a JSON object; {} if neither."""
    try:
        if content_type.startswith("application/json"):
            data = json.loads(body)
            if not isinstance(data, dict):
                return {}
            return {str(k): v for k, v in data.items() if isinstance(v, str)}
        return {k: v[0] for k, v in parse_qs(body.decode(), max_num_fields=64).items()}
    except (UnicodeDecodeError, ValueError):
        return {}


def command_route(
    settings: MattermostSettings, chat: ChatService, client: httpx.AsyncClient
) -> Route:
    """The Starlette route for ``POST /mattermost/command``."""

    async def endpoint(request: Request) -> Response:
        form = _fields(await request.body(), request.headers.get("content-type", ""))
        if not settings.token_ok(form.get("token", "")):
            return JSONResponse({"error": "invalid command token"}, status_code=401)
        parsed = parse(form.get("text", ""), chat.core.topics, quote=in_code)
        if parsed.action == "invalid":
            return _answer(f"⚠️ {parsed.error}")
        if parsed.action == "help":
            return _answer(HELP)
        if parsed.action in {"subscribe", "unsubscribe"}:
            return _answer(
                "On Mattermost, digests are set up by the operator: a subscription in "
                '`config/subscriptions.toml` with `platform = "mattermost"` and this '
                "channel's incoming webhook URL."
            )
        try:
            if parsed.action == "topics":
                counts = await chat.topics()
                if not counts:
                    return _answer("No topics are configured (config/topics.toml).")
                lines = [
                    f"* `{t.name}` — {counted(t.articles, 'article')}"
                    + (f" {escape(t.note)}" if t.note else "")
                    for t in counts
                ]
                return _answer(lines_text(["**Topics**", *lines], noun="topics"))
            if parsed.action == "status":
                return _answer(await _status(chat))
        except DigestError as exc:
            return _answer(f"⚠️ {escape(str(exc))}")
        return await _brief(request, form, parsed.topic)

    async def _brief(request: Request, form: dict[str, str], topic: str) -> Response:
        key = f"mattermost:{form.get('trigger_id') or form.get('response_url') or id(request)}"
        if not chat.admit(key):
            return _answer(f"⏳ {BUSY}")
        job = asyncio.ensure_future(_made(key, topic))
        reply_to = settings.reply_url(form.get("response_url", ""))  # this server only
        wait = min(ANSWER_WITHIN, settings.command_wait) if reply_to else settings.command_wait
        done, _ = await asyncio.wait({job}, timeout=wait)
        if done:
            return _answer(job.result())
        if not reply_to:  # nowhere to post it later: a brief not started yet never runs
            job.cancel()
            chat.release(key)
            return _answer(TOO_SLOW)
        return JSONResponse(
            {
                "response_type": "ephemeral",
                "text": f"Working on a brief about **{escape(topic)}**…",
            },
            background=BackgroundTask(_follow_up, job, reply_to),
        )

    async def _made(key: str, topic: str) -> str:
        try:
            brief: Brief = await chat.brief(key, topic, platform="mattermost")
        except DigestError as exc:
            return f"⚠️ Could not brief that: {escape(str(exc))}"
        except Exception:
            log.exception("/brief %r crashed", topic)
            return "⚠️ Something went wrong; the operator's log has the details."
        return brief_text(brief)  # what PLATFORM.render_brief posts

    async def _follow_up(job: asyncio.Future[str], url: str) -> None:
        text = await job
        with contextlib.suppress(httpx.HTTPError):
            response = await client.post(url, json={"response_type": "ephemeral", "text": text})
            if response.is_error:
                log.warning("Mattermost refused the /brief follow-up: %s", response.status_code)
            return
        log.warning("the /brief follow-up could not reach Mattermost")

    return Route(PATH, endpoint, methods=["POST"])


async def _status(chat: ChatService) -> str:
    # A Mattermost subscription names a webhook, not a channel id: list them all.
    status = await chat.status(
        lambda: [s for s in chat.store.subscriptions.all() if s.platform == "mattermost"]
    )
    now = chat.clock()
    head = ["**Mattermost digests**"]
    # The cron is a code span, where Markdown's backslash escapes show as typed.
    lines = [describe(s, now, quote=escape, code=in_code) for s in status.subscriptions]
    head += lines or ["None yet."]
    sources = status.sources.lines(bold=lambda t: f"**{t}**", quote=escape, warn="⚠️")
    return lines_text([*head, "", *sources])
