"""The Discord interactions endpoint: ``POST /discord/interactions`` (PING and ``/brief``).

``/brief`` has subcommands like Slack's (``about``, ``help``, ``topics``, ``status``,
``subscribe``, ``unsubscribe``; bot/discord/commands.py does the work); a bare
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
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

import httpx
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.chat import BUSY, ChatService
from bot.discord import DEFAULT_API_URL
from bot.discord.commands import HELP, DiscordCommands
from bot.discord.webhook import retry_after
from bot.guard import fresh_timestamp
from bot.render.discord import NO_MENTIONS, brief_message
from digests.errors import ConfigError, DigestError

log = logging.getLogger(__name__)

PATH = "/discord/interactions"
# Interaction and response types, from Discord's docs ("Interaction Object", "Interaction Response").
PING, APPLICATION_COMMAND = 1, 2
SUB_COMMAND = 1  # application command option type
PONG, CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE = 1, 4, 5
EPHEMERAL = 1 << 6  # message flag: only the user who asked sees it
MAX_TOPIC = 200  # the registered option's max_length; checked again here (requests are data)
_EDIT_ATTEMPTS = 3


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


def interactions_route(config: DiscordInteractions) -> Route:
    """The Starlette route for ``POST /discord/interactions``."""
    key = verify_key(config.public_key)

    async def endpoint(request: Request) -> Response:
        body = await request.body()  # at most the server's BodyLimit
        timestamp = request.headers.get("X-Signature-Timestamp", "")
        if not fresh_timestamp(timestamp, now=config.clock()) or not signature_ok(
            key,
            timestamp=timestamp,
            body=body,
            signature=request.headers.get("X-Signature-Ed25519", ""),
        ):
            return JSONResponse({"error": "invalid request signature"}, status_code=401)
        try:
            interaction = json.loads(body)
        except ValueError:  # not UTF-8 or not JSON
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        if not _well_formed(interaction):
            return JSONResponse({"error": "body is not an interaction"}, status_code=400)
        kind = interaction.get("type")
        if kind == PING:
            return JSONResponse({"type": PONG})
        if kind == APPLICATION_COMMAND and interaction.get("data", {}).get("name") == "brief":
            return _route(config, interaction)
        return JSONResponse({"error": f"unsupported interaction type {kind}"}, status_code=400)

    return Route(PATH, endpoint, methods=["POST"])


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
    member = interaction.get("member") or {}
    try:
        permissions = int(member.get("permissions") or 0)
    except (TypeError, ValueError):
        permissions = 0
    task = BackgroundTask(
        _subcommand, config, config.commands, interaction, name, options, permissions
    )
    return JSONResponse(
        {"type": DEFERRED_CHANNEL_MESSAGE, "data": {"flags": EPHEMERAL}}, background=task
    )


async def _subcommand(
    config: DiscordInteractions,
    commands: DiscordCommands,
    interaction: dict,
    name: str,
    options: dict[str, object],
    permissions: int,
) -> None:
    """Run a store-backed subcommand and put its answer in place of "thinking…"."""
    try:
        content = await commands.run(
            name,
            options,
            channel=str(interaction.get("channel_id") or ""),
            guild=str(interaction["guild_id"]) if interaction.get("guild_id") else None,
            permissions=permissions,
        )
    except DigestError as exc:
        content = f"⚠️ {exc}"
    except Exception:
        log.exception("/brief %s crashed", name)
        content = "Something went wrong; the operator's log has the details."
    app_id = str(interaction.get("application_id") or config.application_id)
    message = {"content": content, "allowed_mentions": NO_MENTIONS}
    await edit_original(config, app_id, str(interaction.get("token", "")), message)


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
    if len(topic) > MAX_TOPIC or any(ord(c) < 32 for c in str(options.get("topic"))):
        return _reply(
            f"A topic is a few words (at most {MAX_TOPIC} characters), no control characters."
        )
    token = str(interaction.get("token", ""))
    app_id = str(interaction.get("application_id") or config.application_id)
    key = f"discord:{interaction.get('id') or token}"  # one interaction
    if not config.chat.admit(key):
        log.warning("/brief refused: %d running, %d waiting (pool full)",
                    config.chat.pool.workers, config.chat.pool.waiting)  # fmt: skip
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
        message = brief_message(await config.chat.brief(key, topic, platform="discord"))
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
