"""The Discord interactions endpoint: ``POST /discord/interactions`` (PING and ``/brief``).

``/brief`` has subcommands like Slack's (``about``, ``help``, ``topics``, ``status``,
``subscribe``, ``unsubscribe``; bot/platforms/discord/commands.py does the work); a bare
``/brief topic:…`` from the older registration still briefs.

Discord's rules (Discord docs, "Interactions → Receiving and Responding"):
every request is signed with Ed25519 over ``X-Signature-Timestamp + raw body`` and must be
refused with 401 when the signature is wrong (Discord sends forged requests on purpose to
check) — and here also when the timestamp is not within 5 minutes of now (Slack's replay rule;
Discord's own example apps check it too), so a captured interaction cannot be replayed later;
a signed body that is not an interaction object is answered 400; PING (type 1) is answered ``{"type": 1}``; the first answer must come within 3 s, so
``/brief`` answers "deferred" (type 5) at once, computes the brief in the chat service's
bounded pool (``bot/chat.py``: the same pool and latency metric as Slack's; a full pool is
answered "busy" at once), and edits the original response through the interaction webhook
(valid for 15 minutes).
``/brief`` answers "deferred" (type 5) at once, computes the brief off the event loop, and
edits the original response through the interaction webhook (valid for 15 minutes).

Checking a request (signature, JSON, outline) runs in a worker thread, not on the event loop:
a 1 MiB body costs that thread, never every other request's answer. An interaction (a command
or a button click) is run once: its id is remembered for the 15 minutes its token lives, in
this process and in the database every replica shares (``store.replays``), so a replayed copy
(same id, a still-fresh signed timestamp) is answered 409 and runs nothing — no second topic
correction is stored — whichever replica it reaches. Option
values are text a person typed: control, bidirectional and zero-width characters are
refused, as on Slack.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot import topic_feedback
from bot.chat import BUSY, ChatService
from bot.command import MAX_TOPIC  # the registered option's max_length; checked again here
from bot.guard import fresh_timestamp
from bot.platforms.discord import DEFAULT_API_URL
from bot.platforms.discord.commands import HELP, MANAGE_WEBHOOKS, DiscordCommands
from bot.platforms.discord.render import NO_MENTIONS
from bot.platforms.discord.webhook import retry_after
from digests.controls import has_controls
from digests.errors import ConfigError, DigestError

log = logging.getLogger(__name__)

PATH = "/discord/interactions"
# Interaction and response types, from Discord's docs ("Interaction Object", "Interaction Response").
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT = 1, 2, 3
SUB_COMMAND = 1  # application command option type
PONG, CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE = 1, 4, 5
EPHEMERAL = 1 << 6  # message flag: only the user who asked sees it
MAX_OPTION = 2000  # no option a person types is longer (a Discord message is 2,000 characters)
INTERACTION_LIFETIME = 15 * 60.0  # seconds an interaction token (and so a replay) is good for
_EDIT_ATTEMPTS = 3
# What every platform refuses (digests/controls.py): C0/C1 controls, zero-width, bidi overrides.
UNSAFE_TEXT = (
    "Options are plain words: control, zero-width and right-to-left override characters "
    "aren't allowed."
)


class SeenInteractions:
    """Interaction ids seen in the last :data:`INTERACTION_LIFETIME` seconds (thread-safe).

    Bounded by the lifetime: only Discord-signed requests with a fresh timestamp get here,
    and ``max_ids`` caps memory whatever arrives (the oldest are forgotten first).
    """

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, max_ids: int = 200_000
    ) -> None:
        self._clock, self._max = clock, max_ids
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, interaction_id: str) -> bool:
        """True the first time ``interaction_id`` is offered within its lifetime."""
        now = self._clock()
        with self._lock:
            while self._seen and (
                len(self._seen) >= self._max
                or next(iter(self._seen.values())) <= now - INTERACTION_LIFETIME
            ):
                self._seen.popitem(last=False)
            if interaction_id in self._seen:
                return False
            self._seen[interaction_id] = now
            return True


@dataclass(frozen=True, slots=True)
class DiscordInteractions:
    """What the endpoint needs: the app's public key and id, the API base, the chat service."""

    public_key: str  # hex, from the Developer Portal's "General Information"
    application_id: str
    chat: ChatService  # briefs: its bounded pool and latency metric
    client: httpx.AsyncClient
    api_url: str = DEFAULT_API_URL
    commands: DiscordCommands | None = None  # topics/status/subscribe/unsubscribe; None: off
    clock: Callable[[], float] = time.time  # unix seconds; checks the signed timestamp
    seen: SeenInteractions = field(default_factory=SeenInteractions)  # replays run nothing
    # The same across replicas: True the first time an id is offered (store.replays).
    first_time: Callable[[str], bool] | None = None


def verify_key(public_key: str) -> VerifyKey:
    """The app's Ed25519 public key, or a ConfigError saying what is wrong with it."""
    try:
        return VerifyKey(bytes.fromhex(public_key.strip()))
    except (ValueError, TypeError) as exc:
        raise ConfigError("DISCORD_PUBLIC_KEY must be the app's 64-hex-digit public key") from exc


def signature_ok(key: VerifyKey, *, timestamp: str, body: bytes, signature: str) -> bool:
    """True when ``signature`` (hex) is the app key's Ed25519 signature of timestamp + body."""
    try:
        key.verify(timestamp.encode() + body, bytes.fromhex(signature))
    except (BadSignatureError, ValueError, TypeError):
        return False
    return True


def _well_formed(interaction: object) -> bool:
    """An interaction's outline: an object whose ``data`` is an object and whose options
    (at any depth: subcommands nest them) are objects with a string ``name``."""
    if not isinstance(interaction, dict):
        return False
    data = interaction.get("data", {})
    return isinstance(data, dict) and _options_well_formed(data.get("options", []))


def _options_well_formed(options: object, depth: int = 0) -> bool:
    if not isinstance(options, list) or depth > 3:  # Discord nests at most group > subcommand
        return False
    return all(
        isinstance(o, dict)
        and isinstance(o.get("name"), str)
        and _options_well_formed(o.get("options", []), depth + 1)
        for o in options
    )


def _checked(
    key: VerifyKey, *, timestamp: str, signature: str, body: bytes, now: float
) -> dict | JSONResponse:
    """The interaction in a signed body, or the response refusing it (runs in a thread)."""
    if not fresh_timestamp(timestamp, now=now) or not signature_ok(
        key, timestamp=timestamp, body=body, signature=signature
    ):
        return JSONResponse({"error": "invalid request signature"}, status_code=401)
    try:
        interaction = json.loads(body)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested beyond reason
        return JSONResponse({"error": "body is not JSON"}, status_code=400)
    if not _well_formed(interaction):
        return JSONResponse({"error": "body is not an interaction"}, status_code=400)
    assert isinstance(interaction, dict)
    if interaction.get("type") == APPLICATION_COMMAND and _unsafe(
        interaction.get("data", {}).get("options", [])
    ):
        return _reply(UNSAFE_TEXT)
    return interaction


def interactions_route(config: DiscordInteractions) -> Route:
    """The Starlette route for ``POST /discord/interactions``."""
    key = verify_key(config.public_key)

    async def endpoint(request: Request) -> Response:
        body = await request.body()  # at most the server's BodyLimit
        checked = await asyncio.to_thread(
            _checked,
            key,
            timestamp=request.headers.get("X-Signature-Timestamp", ""),
            signature=request.headers.get("X-Signature-Ed25519", ""),
            body=body,
            now=config.clock(),
        )
        if isinstance(checked, Response):
            return checked
        interaction = checked
        kind = interaction.get("type")
        if kind == PING:
            return JSONResponse({"type": PONG})
        brief = kind == APPLICATION_COMMAND and interaction.get("data", {}).get("name") == "brief"
        if not (brief or kind == MESSAGE_COMPONENT):
            return JSONResponse({"error": f"unsupported interaction type {kind}"}, status_code=400)
        # A command or a button click runs once: a replayed copy stores no second correction.
        ident = interaction.get("id")
        if ident is not None and not await _first_time(config, str(ident)):
            log.warning("Discord interaction %s replayed: not run again", interaction.get("id"))
            return JSONResponse({"error": "interaction already received"}, status_code=409)
        if brief:
            return _route(config, interaction)
        return _component(config, interaction)

    return Route(PATH, endpoint, methods=["POST"])


async def _first_time(config: DiscordInteractions, ident: str) -> bool:
    """This process's memory first (free), then the database every replica shares."""
    if not config.seen.first_time(ident):
        return False
    if config.first_time is None:
        return True
    return await asyncio.to_thread(config.first_time, ident)


def _unsafe(options: list) -> bool:
    """Whether any option (at any depth) is text too long or with characters Slack refuses."""
    for option in options:
        value = option.get("value")
        if isinstance(value, str) and (len(value) > MAX_OPTION or has_controls(value)):
            return True
        if _unsafe(option.get("options") or []):
            return True
    return False


def _options(interaction: dict) -> dict[str, object]:
    return {o.get("name"): o.get("value") for o in interaction.get("data", {}).get("options", [])}


def _route(config: DiscordInteractions, interaction: dict) -> Response:
    """``/brief <subcommand>``; a bare ``/brief topic:…`` (registered before subcommands) briefs."""
    first = (interaction.get("data", {}).get("options") or [{}])[0]
    if first.get("type") != SUB_COMMAND:
        return _brief(config, interaction, _options(interaction))
    name = str(first.get("name", ""))
    options = {o.get("name"): o.get("value") for o in first.get("options") or []}
    if name == "about":
        return _brief(config, interaction, options)
    if name == "help":
        return _reply(HELP)
    if config.commands is None:
        return _reply("Only `/brief about` and `/brief help` are available on this bot.")
    commands = config.commands
    return _deferred(
        config, interaction, lambda: _subcommand(commands, interaction, name, options),
        what=f"/brief {name}",
    )  # fmt: skip


def _permissions(interaction: dict) -> int:
    """The member's permission bits in this channel (0 when absent or malformed)."""
    try:
        return int((interaction.get("member") or {}).get("permissions") or 0)
    except (TypeError, ValueError):
        return 0


def _deferred(
    config: DiscordInteractions,
    interaction: dict,
    work: Callable[[], Awaitable[str]],
    *,
    what: str,
) -> JSONResponse:
    """Answer "thinking…" (ephemeral) at once; ``work``'s text replaces it when done (a
    DigestError is said in one line, anything else is logged)."""

    async def finish() -> None:
        try:
            content = await work()
        except DigestError as exc:
            content = f"⚠️ {exc}"
        except Exception:
            log.exception("%s crashed", what)
            content = "Something went wrong; the operator's log has the details."
        app_id = str(interaction.get("application_id") or config.application_id)
        message = {"content": content, "allowed_mentions": NO_MENTIONS}
        await edit_original(config, app_id, str(interaction.get("token", "")), message)

    return JSONResponse(
        {"type": DEFERRED_CHANNEL_MESSAGE, "data": {"flags": EPHEMERAL}},
        background=BackgroundTask(finish),
    )


async def _subcommand(
    commands: DiscordCommands,
    interaction: dict,
    name: str,
    options: dict[str, object],
) -> str:
    """A store-backed subcommand's answer."""
    return await commands.run(
        name,
        options,
        channel=str(interaction.get("channel_id") or ""),
        guild=str(interaction["guild_id"]) if interaction.get("guild_id") else None,
        permissions=_permissions(interaction),
    )


def _component(config: DiscordInteractions, interaction: dict) -> Response:
    """A digest story's "Not #topic" / "More like this" button (bot/topic_feedback.py).

    Only who may manage the channel's subscription (Manage Webhooks, as for `/brief
    subscribe`) may change topics; the answer is ephemeral, to the clicking user only.
    """
    custom_id = str(interaction.get("data", {}).get("custom_id") or "")
    action, _, value = custom_id.partition(":")
    if action not in topic_feedback.KINDS:
        return _reply("This button is not one of digestbot's.")
    if config.commands is None:
        return _reply("Topic feedback is not available on this bot.")
    if not interaction.get("guild_id") or not _permissions(interaction) & MANAGE_WEBHOOKS:
        return _reply("Changing this channel's topics needs the Manage Webhooks permission.")
    user = str(((interaction.get("member") or {}).get("user") or {}).get("id") or "")
    guild = str(interaction.get("guild_id") or "")
    return _deferred(
        config, interaction,
        lambda: config.chat.feedback(
            action=action, value=value, user=user, workspace=guild, platform="discord"
        ),
        what=f"topic feedback {action}",
    )  # fmt: skip


def _reply(text: str) -> JSONResponse:
    """An immediate ephemeral answer (bad input): no deferral needed."""
    return JSONResponse(
        {
            "type": CHANNEL_MESSAGE,
            "data": {"content": text, "flags": EPHEMERAL, "allowed_mentions": NO_MENTIONS},
        }
    )


def _brief(config: DiscordInteractions, interaction: dict, options: dict[str, object]) -> Response:
    topic = " ".join(str(options.get("topic") or "").split())
    if not topic:
        return _reply("Give a topic, e.g. `/brief about topic:taiwan`.")
    if len(topic) > MAX_TOPIC or has_controls(str(options.get("topic"))):
        return _reply(
            f"A topic is a few words (at most {MAX_TOPIC} characters), no control characters."
        )
    token = str(interaction.get("token", ""))
    app_id = str(interaction.get("application_id") or config.application_id)
    key = f"discord:{interaction.get('id') or token}"  # one interaction
    team = f"discord:{interaction.get('guild_id') or interaction.get('channel_id') or ''}"
    if not config.chat.admit(key, team):  # servers in turn, admitted by expected wait
        log.warning("/brief refused for %s: answer expected in %.1f s (over %.1f s)",
                    team, config.chat.pool.expected_wait(team), config.chat.pool.max_wait)  # fmt: skip
        return _reply(f"⏳ {BUSY}")
    public = options.get("share") is True
    return JSONResponse(
        {"type": DEFERRED_CHANNEL_MESSAGE, "data": {} if public else {"flags": EPHEMERAL}},
        background=BackgroundTask(_answer, config, app_id, token, topic, key),
    )


async def _answer(
    config: DiscordInteractions, app_id: str, token: str, topic: str, key: str
) -> None:
    """Make the brief in the chat service's pool and put it in place of "thinking…"."""
    try:
        from bot.platforms.discord import PLATFORM  # the platform renders its briefs

        message = PLATFORM.render_brief(await config.chat.brief(key, topic, platform="discord"))
    except DigestError as exc:  # a user-facing failure: say it in one line
        log.info("brief %r failed: %s", topic, exc)
        message = {"content": f"Could not brief that: {exc}", "allowed_mentions": NO_MENTIONS}
    except Exception:
        log.exception("brief %r crashed", topic)
        message = {
            "content": "Something went wrong making that brief; the operator's log has details.",
            "allowed_mentions": NO_MENTIONS,
        }
    await edit_original(config, app_id, token, message)


async def edit_original(
    config: DiscordInteractions, app_id: str, token: str, message: dict
) -> None:
    """PATCH the interaction's original response, honouring a 429's ``retry_after`` briefly."""
    path = f"/webhooks/{quote(app_id, safe='')}/{quote(token, safe='')}/messages/@original"
    url = config.api_url.rstrip("/") + path
    for attempt in range(1, _EDIT_ATTEMPTS + 1):
        try:
            response = await config.client.patch(url, json=message)
        except httpx.TransportError:
            log.warning("editing /brief response failed (attempt %d)", attempt, exc_info=True)
            if attempt == _EDIT_ATTEMPTS:
                raise
            await asyncio.sleep(attempt)
            continue
        if response.status_code == 429 and attempt < _EDIT_ATTEMPTS:
            # The interaction token lives 15 min; a short wait is well inside that.
            await asyncio.sleep(min(retry_after(response), 10.0))
            continue
        if response.is_error:
            log.error(
                "Discord refused the /brief edit: %s %s", response.status_code, response.text[:300]
            )
        return
