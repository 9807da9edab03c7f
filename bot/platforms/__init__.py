"""Chat platforms behind one interface (errbot's backend idea), and the registry of them.

A :class:`Platform` is everything digestbot knows about one chat service: how a digest and a
brief are rendered, the outbox :class:`~bot.sweep.Sender` that delivers its rows, the HTTP
routes it serves (where it parses its commands into calls of :class:`~bot.chat.ChatService`),
and whether the operator configured it. ``digestbot serve``, ``digest --post``, the scheduler
and the health checks loop over :func:`platforms`; nothing outside ``bot/platforms/<name>/``
names a platform. Adding one is a new folder whose ``__init__.py`` defines ``PLATFORM`` and one
line in ``REGISTRY`` (``bot/platforms/registry.py``).

Rendered messages never carry the outbox key: the sender adds it from the outbox row when it
posts (Slack message metadata, Discord's marker line, Mattermost post props), so one rendering
of a digest serves every subscription of a slot (:mod:`bot.digestcache`).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from bot.platforms.registry import REGISTRY, names
from digests.errors import ConfigError

__all__ = [
    "Connection", "Platform", "PlatformContext", "Problems", "check_subscriptions", "configured",
    "get", "names", "platforms", "renderers",
]  # fmt: skip

if TYPE_CHECKING:
    import httpx
    from starlette.routing import BaseRoute

    from bot.chat import ChatService
    from bot.deliver import Renderer
    from bot.render import RenderedPart
    from bot.settings import BotSettings
    from bot.sweep import Sender, Timings
    from digests.config import Settings, SubscriptionConfig
    from digests.models import Brief, Digest
    from digests.store import Store


@dataclass
class Problems:
    """What the platforms' connections report to the health checks, keyed by platform.

    ``deaf``: retrying cannot help (a rejected token): ``/healthz`` and ``/readyz`` answer 503.
    ``unready``: down for a while and retrying (Slack unreachable): ``/readyz`` answers 503,
    ``/healthz`` 200 with ``ok`` false (a restart would not bring Slack back).
    """

    deaf: dict[str, str] = field(default_factory=dict)
    unready: dict[str, str] = field(default_factory=dict)

    def all(self) -> dict[str, str]:
        """Every problem, by platform (a deaf one wins)."""
        return {**self.unready, **self.deaf}


# A connection the server runs (Platform.connections): entered when the server starts and left
# when it stops; what leaves the bot deaf or not ready goes in the Problems, for the health.
Connection = Callable[[Problems], AbstractAsyncContextManager[None]]


@dataclass(frozen=True)
class PlatformContext:
    """What a platform may use to build its sender and routes: settings (its own read from
    ``environ``), the store, and the process's chat service.

    ``store`` is None while only the settings are checked (:func:`configured`,
    :func:`check_subscriptions`): ``serve`` refuses a missing platform or a bad channel before
    it opens (and migrates) the database."""

    bot: BotSettings
    environ: Mapping[str, str]
    store: Store | None
    chat: ChatService | None = None  # the process's chat service (routes need it)
    timings: Timings = field(default_factory=lambda: _default_timings())
    client: httpx.AsyncClient | None = field(default=None)  # shared HTTP client, if any

    def opened_store(self) -> Store:
        """The store, for senders and routes (built only once ``serve`` has opened it)."""
        if self.store is None:
            raise RuntimeError("the store is not open yet: a settings-only context")
        return self.store


def _default_timings() -> Timings:
    from bot.sweep import DEFAULT_TIMINGS

    return DEFAULT_TIMINGS


class Platform(Protocol):
    """One chat platform: render, send, serve, and whether it is set up."""

    name: str
    threads: bool  # renders a digest as a headline with the stories as replies
    # Posts a developing story's update also as a reply under the message that showed the
    # story before, when that message's platform id is known (its outbox row's remote_id):
    # the sender hands the parent's id to the platform (Slack thread_ts, Mattermost root_id).
    replies: bool

    def configured(self, ctx: PlatformContext) -> bool:
        """The operator set this platform up (its settings are present and valid)."""
        ...

    def setup_hint(self) -> str:
        """What to set to use this platform (for "no chat platform configured")."""
        ...

    def secrets(self, ctx: PlatformContext) -> tuple[str | None, ...]:
        """Its settings that must never reach a log line."""
        ...

    def check_channel(self, channel: str, ctx: PlatformContext) -> None:
        """Raise ConfigError when ``channel`` cannot be one of this platform's destinations."""
        ...

    def check_credentials(self, ctx: PlatformContext) -> None:
        """At ``serve``'s start: raise ConfigError when the platform itself refuses the
        configured credentials (a wrong token). A platform that cannot be reached is no
        error: start-up never needs it."""
        ...

    def subscription_problem(self, sub: SubscriptionConfig) -> tuple[str, str] | None:
        """What is wrong with a subscriptions.toml entry naming this platform, as written
        (checked whenever the config loads, so no setting is read): None, or (key, reason),
        key ``""`` for the entry as a whole (:data:`digests.config.SubscriptionCheck`)."""
        ...

    def check_post(self, channel: str, ctx: PlatformContext) -> None:
        """Raise a one-line DigestError when ``digest --post-to`` cannot post to ``channel``
        now (before :meth:`check_channel`, before any digest is composed): what posting from
        the terminal needs beyond a destination, e.g. a token."""
        ...

    def team_required(self, ctx: PlatformContext) -> str | None:
        """None when a subscription may leave its workspace out; else why it must name one
        (``team_id``: e.g. each workspace's own token posts), as the scheduler's warning
        says it when it skips a config subscription naming none (``{file}`` stands for the
        subscriptions file)."""
        ...

    def unsealed_warning(self, ctx: PlatformContext) -> str | None:
        """The warning ``serve`` logs when ``DIGESTBOT_ENCRYPTION_KEY`` is not set and this
        platform stores secrets of its own (e.g. workspaces' tokens); None: it stores none."""
        ...

    def render_digest(self, digest: Digest, *, thread: bool = False) -> list[RenderedPart]:
        """The digest as validated messages without any outbox key (DeliveryError if not)."""
        ...

    def render_update(self, digest: Digest) -> list[RenderedPart]:
        """A developing story's update (one story, only its new sentences) as a reply in the
        thread of the message that showed the story before; used when ``replies``."""
        ...

    def render_brief(self, brief: Brief) -> dict:
        """A brief as one message of this platform."""
        ...

    def sender(self, ctx: PlatformContext) -> Sender | None:
        """The outbox sender for this platform's rows; None leaves them waiting."""
        ...

    def routes(self, ctx: PlatformContext) -> list[BaseRoute]:
        """HTTP routes this platform serves (commands, interactions)."""
        ...

    def connections(self, ctx: PlatformContext) -> list[Connection]:
        """Long-lived connections the server keeps open on its loop beside the routes (Slack's
        Socket Mode websocket); most platforms have none."""
        ...


def get(name: str) -> Platform:
    """The platform called ``name``; ConfigError naming the known ones otherwise."""
    module = REGISTRY.get(name)
    if module is None:
        raise ConfigError(f"unknown platform {name!r}; known: {', '.join(REGISTRY)}")
    platform: Platform = importlib.import_module(module).PLATFORM
    return platform


def platforms() -> dict[str, Platform]:
    """Every registered platform by name."""
    return {name: get(name) for name in REGISTRY}


def configured(ctx: PlatformContext) -> dict[str, Platform]:
    """The platforms the operator set up; ConfigError saying what to set when there is none."""
    out = {name: p for name, p in platforms().items() if p.configured(ctx)}
    if not out:
        hints = "; ".join(f"{n}: {p.setup_hint()}" for n, p in platforms().items())
        raise ConfigError(f"no chat platform configured ({hints})")
    return out


def check_subscriptions(core: Settings, ctx: PlatformContext) -> None:
    """Refuse config subscriptions naming an unknown platform or a channel it cannot take."""
    for sub in core.subscriptions:
        try:
            get(sub.platform).check_channel(sub.channel, ctx)
        except ConfigError as exc:
            raise ConfigError(f"subscription {sub.name}: {exc}") from None


def renderers(
    by_name: Mapping[str, Platform], *, topics: Collection[str] | None
) -> dict[str, Renderer]:
    """The digest renderers the delivery use case takes: ``name`` for each platform, and for
    those that render threads ``name:thread`` (a subscription's ``thread`` setting), and for
    those that reply ``name:update`` (a developing story's reply in its earlier thread). ``topics``: the
    configured topics, the only tags a story's feedback buttons may name (None: any tag); a
    digest whose ``correctable`` is set already keeps it (empty: a workspace whose topic
    corrections do not count, ``bot/deliver.py``)."""
    correctable = None if topics is None else frozenset(topics)

    def given(render: Renderer) -> Renderer:  # a digest that says what it offers keeps it
        return lambda digest: render(
            digest
            if digest.correctable is not None
            else dataclasses.replace(digest, correctable=correctable)
        )

    out: dict[str, Renderer] = {}
    for name, platform in by_name.items():
        out[name] = given(functools.partial(platform.render_digest, thread=False))
        if platform.threads:
            out[f"{name}:thread"] = given(functools.partial(platform.render_digest, thread=True))
        if platform.replies:
            out[f"{name}:update"] = given(platform.render_update)
    return out
