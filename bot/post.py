"""`digestbot digest --post-to PLATFORM:CHANNEL` (`--post CHANNEL` / `--post-discord URL`): one
digest, delivered now, to any registered platform.

The same ``deliver_digest`` use case as the scheduler: a run of the CLI's subscription is
claimed, everything since its watermark (plus articles of parts that could never be
delivered) is composed, queued to every destination in one transaction with the watermark,
and sent through the outbox; what is still waiting after ``wait`` seconds `digestbot serve`
sends later.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bot.deliver import DigestTarget, RunResult, deliver_digest
from bot.sweep import Pacer, Sender, Sweeper
from digests.errors import ConfigError, DeliveryError, InputError
from digests.models import OutboxStatus, RunStatus
from digests.store import Store

if TYPE_CHECKING:
    from bot.settings import BotSettings

_WEBHOOK_ID = re.compile(r"/webhooks/(\d+)/")
WAIT_AT_MOST = 30.0  # seconds the CLI itself keeps trying (e.g. a 429); then `serve` takes over


@dataclass(frozen=True, slots=True)
class PostResult:
    """What one `--post` / `--post-discord` did, per destination."""

    result: RunResult
    counts: dict[str, dict[str, int]]  # destination label → parts by status
    errors: dict[str, str]  # destination label → why a part was refused

    def lines(self) -> list[str]:
        """One line per destination for the operator."""
        out = []
        for label, c in self.counts.items():
            total = sum(c.values())
            text = f"{label}: {c.get('sent', 0)}/{total} message(s) sent ({self.result.key})"
            if c.get("dead"):
                text += f", {c['dead']} refused: {self.errors.get(label, 'see the log')}"
            if waiting := c.get("pending", 0) + c.get("sending", 0):
                text += f", {waiting} queued for retry by `digestbot serve`"
            out.append(text)
        return out


def parse_to(value: str) -> tuple[str, str]:
    """``--post-to PLATFORM:CHANNEL`` as (platform, channel); a one-line error when it is not
    one (ConfigError naming the known platforms for an unknown one)."""
    from bot.platforms import get
    from digests.net.util import redact

    name, colon, channel = value.partition(":")
    if not colon or not channel.strip():
        raise InputError(
            f"--post-to takes PLATFORM:CHANNEL (e.g. mattermost:https://chat.example.com/hooks/ID), "
            f"got {redact(value)} "
        )
    get(name)
    return name, channel.strip()


def _destinations(
    slack_channel: str | None, discord_webhook: str | None, to: Sequence[tuple[str, str]]
) -> list[tuple[str, str]]:
    """Every (platform, channel) to post to: ``--post-discord``, ``--post``, then ``--post-to``."""
    given = [("discord", discord_webhook), ("slack", slack_channel), *to]
    return [(name, channel) for name, channel in given if channel is not None]


def check_post(
    environ: Mapping[str, str],
    *,
    slack_channel: str | None,
    discord_webhook: str | None,
    to: Sequence[tuple[str, str]] = (),
) -> BotSettings:
    """The settings to post with, or the one-line error — before any digest is composed.

    Posting only sends: a Slack bot token is enough (no signing secret), a webhook URL
    carries its own token (https, or http to this machine: the rule of subscriptions.toml).
    ``to``: (platform, channel) pairs of ``--post-to``, each checked by its platform.
    """
    from bot.platforms import PlatformContext, get
    from bot.settings import load_bot_settings

    bot = load_bot_settings(environ, receive=False)
    for name, channel in _destinations(slack_channel, discord_webhook, to):
        if name == "discord":  # the --post-discord rule (the URL shown redacted)
            _check_webhook(channel)
        elif name == "slack" and not bot.slack_bot_token:
            raise ConfigError(
                "posting to Slack needs one workspace: set SLACK_BOT_TOKEN "
                "(with OAuth installs, subscribe a channel with /brief subscribe instead)"
            )
        try:
            get(name).check_channel(channel, PlatformContext(bot, environ, None))
        except ConfigError as exc:
            raise ConfigError(f"--post-to {name}: {exc}") from None
    return bot


def _check_webhook(url: str) -> None:
    """InputError unless ``url`` is a channel webhook URL that may carry its token.

    The message is redacted again on its way out (bot/cli/output.py), and a URL runs there to
    the next space: so the URL shown is followed by a space, never by punctuation it would
    swallow, and the form asked for is a path, not a URL whose token part would be hidden.
    """
    from bot.platforms.discord.webhook import is_webhook_url
    from digests.net.util import redact, secret_url_scheme_ok

    try:
        if is_webhook_url(url):
            return
        in_clear = urlsplit(url).scheme == "http" and not secret_url_scheme_ok(url)
    except ValueError as exc:  # not even a URL ("http://[::1")
        raise InputError(f"--post-discord: not a valid URL ({exc})") from None
    shown = redact(url)  # a bare "discord.com/api/webhooks/1/TOKEN" too
    if in_clear:
        raise InputError(
            f"--post-discord {shown} is plain http to another machine: a webhook URL is a "
            "secret, so use https (plain http only to this machine)"
        )
    raise InputError(
        f"--post-discord {shown} is not a channel webhook URL (an https URL ending in "
        "/api/webhooks/ID/TOKEN)"
    )


def post_now(
    store: Store,
    subscription: str,
    *,
    slack_channel: str | None,
    discord_webhook: str | None,
    topics: tuple[str, ...],
    after: datetime | None,
    environ: Mapping[str, str],
    now: Callable[[], datetime],
    owner: str,
    pacer: Pacer | None = None,
    wait: float = WAIT_AT_MOST,
    max_stories: int | None = None,
    upto: int | None = None,
    correctable: Collection[str] | None = None,
    to: Sequence[tuple[str, str]] = (),
) -> PostResult:
    """Deliver the subscription's next digest to the given destinations; DeliveryError if refused.

    ``upto``: only articles stored up to this id (those of the digest the terminal showed)."""

    bot = check_post(environ, slack_channel=slack_channel, discord_webhook=discord_webhook, to=to)
    destinations: list[tuple[str, str]] = []
    labels: dict[tuple[str, str], str] = {}
    for name, channel in _destinations(slack_channel, discord_webhook, to):
        secret = store.sealer.secret_channel(channel)  # a webhook URL: named by platform only
        stored = store.sealer.seal_fixed(channel) if secret else channel  # sealed given a key
        if secret and not store.sealer.enabled:  # queued plain: the next command with a key
            store.plain_secret_written()  # seals it
        destinations.append((name, stored))
        labels[(name, stored)] = name if secret else f"{name} {channel}"
    target = DigestTarget(
        subscription, tuple(destinations), topics=topics, after=after, max_stories=max_stories,
        upto=upto,
    )  # fmt: skip

    async def run() -> RunResult:
        async with AsyncExitStack() as stack:
            import httpx

            from bot.platforms import PlatformContext, get, renderers

            client = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
            ctx = PlatformContext(bot, environ, store, client=client)
            used = {platform: get(platform) for platform, _ in destinations}
            senders: dict[str, Sender] = {}
            for name, platform in used.items():
                if (sender := platform.sender(ctx)) is not None:
                    senders[name] = sender
            sweeper = Sweeper(store, senders, owner=owner, now=now, pacer=pacer)
            return await deliver_digest(
                store, target, now=now, renderers=renderers(used, topics=correctable), sweeper=sweeper,
                owner=owner, wait=wait,
            )  # fmt: skip

    result = asyncio.run(run())
    counts: dict[str, dict[str, int]] = {}
    errors: dict[str, str] = {}
    for dest, key in zip(destinations, result.keys, strict=False):
        label = labels[dest]
        for m in store.outbox.messages(key):
            counts.setdefault(label, {}).setdefault(m.status, 0)
            counts[label][m.status] += 1
            if m.status == OutboxStatus.DEAD and m.last_error:
                errors[label] = m.last_error
    posted = PostResult(result, counts, errors)
    if result.status == RunStatus.FAILED:
        raise DeliveryError(f"digest not posted: {result.error}")
    if errors:  # refused for good (e.g. the webhook is gone): the operator must act
        raise DeliveryError("; ".join(posted.lines()))
    return posted
