"""`digestbot digest --post-to PLATFORM:CHANNEL` (`--post CHANNEL` / `--post-discord URL`): one
digest, delivered now, to any registered platform.

Every destination is a (platform, channel) pair checked by its platform (``check_post``, then
``check_channel``): nothing here names a platform. The older options are spelled out by the
command line (``bot/cli/digest.py``) as the pairs they stand for.

The same ``deliver_digest`` use case as the scheduler: a run of the CLI's subscription is
claimed, everything since its watermark (plus articles of parts that could never be
delivered) is composed, queued to every destination in one transaction with the watermark,
and sent through the outbox; what is still waiting after ``wait`` seconds `digestbot serve`
sends later.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bot.deliver import DigestTarget, RunResult, deliver_digest
from bot.sweep import Pacer, Sender, Sweeper
from digests.errors import ConfigError, DeliveryError, InputError
from digests.models import OutboxStatus, RunStatus
from digests.store import Store

if TYPE_CHECKING:
    from bot.settings import BotSettings

WAIT_AT_MOST = 30.0  # seconds the CLI itself keeps trying (e.g. a 429); then `serve` takes over


@dataclass(frozen=True, slots=True)
class PostResult:
    """What one `--post-to` (`--post`, `--post-discord`) did, per destination."""

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


def check_post(environ: Mapping[str, str], *, to: Sequence[tuple[str, str]]) -> BotSettings:
    """The settings to post with, or the one-line error — before any digest is composed.

    ``to``: the (platform, channel) pairs to post to, each checked by its platform: first
    what posting from here needs (``check_post``: e.g. a token, the channel's own form), then
    whether the channel can be one of its destinations (``check_channel``). Posting only
    sends, so the settings are loaded as for sending (no signing secret needed).
    """
    from bot.platforms import PlatformContext, get
    from bot.settings import load_bot_settings

    bot = load_bot_settings(environ, receive=False)
    for name, channel in to:
        platform, ctx = get(name), PlatformContext(bot, environ, None)
        platform.check_post(channel, ctx)
        try:
            platform.check_channel(channel, ctx)
        except ConfigError as exc:
            raise ConfigError(f"--post-to {name}: {exc}") from None
    return bot


def post_now(
    store: Store,
    subscription: str,
    *,
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
    """Deliver the subscription's next digest to ``to``'s (platform, channel) pairs (none: the
    terminal's only); DeliveryError if refused.

    ``upto``: only articles stored up to this id (those of the digest the terminal showed)."""

    bot = check_post(environ, to=to)
    destinations: list[tuple[str, str]] = []
    labels: dict[tuple[str, str], str] = {}
    plain_secret = False
    for name, channel in to:
        secret = store.sealer.secret_channel(channel)  # a webhook URL: named by platform only
        stored = store.sealer.seal_fixed(channel) if secret else channel  # sealed given a key
        if secret and not store.sealer.enabled:  # queued plain: the next command with a key
            store.plain_secret_written()  # seals it
            plain_secret = True
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

    try:
        result = asyncio.run(run())
    finally:
        if plain_secret:  # and again once queued: a keyed pass that read the outbox before
            store.plain_secret_written()  # the parts were queued must not say "sealed"
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
