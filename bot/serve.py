"""`digestbot serve`: the wiring of the running bot.

Platforms plug in through the registry (``bot/platforms/``): :func:`renderers`,
:func:`senders` and :func:`extra_routes` ask every registered platform for its part, and one
:class:`~bot.chat.ChatService` answers the chat commands of all of them.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta

from starlette.routing import BaseRoute

from bot.chat import ChatService
from bot.deliver import Renderer, owner_id
from bot.logs import info_held, secrets_filter, set_level
from bot.pacing import SharedPacer
from bot.platforms import Platform, PlatformContext, check_subscriptions, configured, platforms
from bot.platforms import renderers as platform_renderers
from bot.schedule import DigestScheduler
from bot.settings import load_bot_settings, load_serve_env
from bot.sweep import Sender, Timings
from bot.workpool import DEFAULT_MAX_WAIT, WorkPool
from digests.config import Settings
from digests.errors import ConfigError
from digests.sealing import Sealer
from digests.store import Store

log = logging.getLogger(__name__)

# A SQLite file up to this size is read whole for damage when serve starts (about 1 s cold:
# 955 MB took 16 s); a larger one only by `digestbot status --check` (see ready_store).
START_CHECK_BYTES = 64_000_000


def renderers(topics: Collection[str] | None = None) -> dict[str, Renderer]:
    """Digest renderers of every registered platform (``name``, and ``name:thread``); a
    story's feedback buttons name one of ``topics`` (the configured ones; None: any tag)."""
    return platform_renderers(platforms(), topics=topics)


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
    """The `/brief` pool: DIGESTBOT_BRIEF_WORKERS (default 6) run at once, teams in turn; a
    request is admitted when its answer is expected within DIGESTBOT_BRIEF_MAX_WAIT seconds
    (default 2.5) and fewer than DIGESTBOT_BRIEF_QUEUE (default 200) wait; otherwise it is told
    "busy, try again shortly" at once."""
    env = load_serve_env(environ)
    return WorkPool(
        workers=env.brief_workers or 6,
        waiting=200 if env.brief_queue is None else env.brief_queue,
        max_wait=env.brief_max_wait or DEFAULT_MAX_WAIT,
    )


def senders(ctx: PlatformContext) -> dict[str, Sender]:
    """Outbox senders of the registered platforms that can send (a platform left out keeps
    its rows waiting: e.g. Slack without a token)."""
    return {name: s for name, p in platforms().items() if (s := p.sender(ctx)) is not None}


def warn_unsent(core: Settings, sending: Collection[str]) -> None:
    """One warning line per platform that config subscriptions name but this process has no
    sender for (Slack without a token, say): their digests are queued at every slot and wait
    in the outbox, and nothing else said why until delivery was 3 minutes overdue."""
    waiting: dict[str, list[str]] = {}
    for sub in core.subscriptions:
        if sub.platform not in sending:
            waiting.setdefault(sub.platform, []).append(sub.name)
    for name, subs in waiting.items():
        log.warning(
            "subscription(s) %s: %s is not set up in this process (%s); their digests are "
            "queued and wait in the outbox until a serve that can send them runs",
            ", ".join(subs),
            name,
            platforms()[name].setup_hint(),
        )


def team_required(ctx: PlatformContext) -> dict[str, str]:
    """The platforms whose subscriptions must name their workspace here, each with why."""
    return {n: why for n, p in platforms().items() if (why := p.team_required(ctx)) is not None}


def warn_untrusted(store: Store) -> None:
    """One line when no workspace's topic corrections count: a platform serving several
    workspaces and no ``[topics] feedback_workspaces`` (digests/store/topics.py:
    FeedbackTrust)."""
    trust = store.topics.trust()
    if trust.listed is None and trust.several:
        log.warning(
            "topic corrections from chat are off: this bot serves %d workspaces or servers and "
            "[topics] feedback_workspaces in digestbot.toml names none whose corrections count",
            len(trust.known),
        )


def extra_routes(ctx: PlatformContext) -> list[BaseRoute]:
    """HTTP routes of the configured platforms (Slack: ``/slack/events`` and OAuth's,
    Discord: ``/discord/interactions``, Mattermost: ``/mattermost/command``)."""
    return [route for p in configured(ctx).values() for route in p.routes(ctx)]


def _utcnow() -> datetime:
    return datetime.now(UTC)


# Seconds serve's start waits for the platforms' token checks (all at once). Their HTTP
# timeouts bound each read, not the whole answer: a platform or proxy that sends a byte every
# few seconds held the start for as long as it went on.
CREDENTIALS_WAIT = 10.0


def check_credentials(
    active: Collection[Platform], ctx: PlatformContext, *, wait: float = CREDENTIALS_WAIT
) -> None:
    """Each platform's ``check_credentials`` (a refused token: its ConfigError), all at once,
    waited for ``wait`` seconds in all. A check still running then is left to end by itself
    (a daemon thread) and serve starts, as when the platform is unreachable."""
    failed: dict[str, BaseException] = {}

    def check(platform: Platform) -> None:
        try:
            platform.check_credentials(ctx)
        except BaseException as exc:  # noqa: BLE001 — raised again in serve's thread below
            failed[platform.name] = exc

    threads = [
        (p, threading.Thread(target=check, args=(p,), name=f"check {p.name}", daemon=True))
        for p in active
    ]
    for _, thread in threads:
        thread.start()
    deadline = time.monotonic() + wait
    for platform, thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
        if platform.name in failed:
            raise failed[platform.name]
        if thread.is_alive():
            log.warning("%s: bot token not checked at start: no answer within %.0f s",
                        platform.name, wait)  # fmt: skip


def ready_store(store: Store, *, check_bytes: int = START_CHECK_BYTES) -> None:
    """serve's start-up work on the opened store, bounded whatever its size.

    A SQLite file up to ``check_bytes`` is read whole for damage (``PRAGMA quick_check``:
    about a second cold at the default); a damaged one is one line and exit 1, not a
    traceback later. A larger one is not read whole at every start (16 s cold for 955 MB):
    one log line says so and names ``digestbot status --check``, which reads it on demand.
    With a key, the secrets are sealed as every command seals them (:meth:`Store.seal_pending`:
    one row read once a pass ran with these keys; a keyless write of a secret drops that
    marker, so the full pass runs again only when something is left to seal).
    """
    if not store.check_integrity(max_bytes=check_bytes):
        size = store.file_size() or 0
        log.info(
            "database file %s (%d MB) not read whole for damage at start (over %d MB); "
            "`digestbot status --check` reads it", store.engine.url.database,
            size // 1_000_000, check_bytes // 1_000_000,
        )  # fmt: skip
    sealed = store.seal_pending()  # rows from before the key, or from the previous key
    if sealed:
        log.info("sealed %d stored secret(s) with DIGESTBOT_ENCRYPTION_KEY", sealed)


def run_serve(core: Settings, environ: Mapping[str, str]) -> None:
    """Start the bot: HTTP server (or Slack Socket Mode), scheduler and outbox sender.

    The log is at INFO from the start, so what the start does is said (a token not checked,
    secrets sealed, a file too large to read whole: at WARNING's level these lines were
    dropped), but held until the port is known free, so a start refused is one line."""
    set_level(logging.INFO, "uvicorn")  # runs, retries and failures go to the log
    with info_held() as release:
        _run_serve(core, environ, on_listen=release)


def _run_serve(
    core: Settings, environ: Mapping[str, str], *, on_listen: Callable[[], None]
) -> None:
    from bot.metrics import Metrics, metered
    from bot.server import create_server_app, serve

    bot = load_bot_settings(environ)
    timings = delivery_timings(environ)
    # Settings first: a missing platform or a bad channel is refused before the database is
    # opened (created, migrated) at all.
    ctx = PlatformContext(bot, environ, None, timings=timings)
    active = configured(ctx)  # ConfigError saying what to set when there is none
    check_subscriptions(core, ctx)
    check_credentials(active.values(), ctx)  # a token refused: one line, nothing opened
    store = Store.open(core.database_url, sealer=Sealer.from_settings(core))
    ready_store(store)
    ctx = dataclasses.replace(ctx, store=store)
    secrets_filter().add(
        bot.metrics_token,
        *core.encryption_keys,
        *(secret for p in platforms().values() for secret in p.secrets(ctx)),
    )
    if not store.sealer.enabled:  # what a platform stores of its own (Slack's OAuth installs:
        for platform in platforms().values():  # tokens) is in clear
            if (warning := platform.unsealed_warning(ctx)) is not None:
                log.warning("%s", warning)
    store.articles.story_window = timedelta(days=core.story_window_days)
    store.topics.feedback_workspaces = core.feedback_workspaces
    warn_untrusted(store)
    metrics = Metrics(store, timings=timings, clock=_utcnow)
    outbox_senders = senders(ctx)
    warn_unsent(core, outbox_senders)
    send = metered(outbox_senders, metrics, clock=_utcnow)
    scheduler = DigestScheduler(
        store, core, renderers=renderers([t.name for t in core.topics]), senders=send, owner=owner_id(),
        on_poll=metrics.poll_done, timings=timings,
        pacer=SharedPacer(store),  # 1 msg/s per channel across replicas (store.pacing)
        team_required=team_required(ctx),  # e.g. Slack's OAuth installs: each workspace's token
    )  # fmt: skip
    # One chat service for every platform: one /brief pool, one latency metric.
    chat = ChatService(store, core, pool=brief_pool(environ), metrics=metrics, schedule=scheduler)
    ctx = dataclasses.replace(ctx, chat=chat)
    app = create_server_app(
        store,
        scheduler=scheduler,
        extra_routes=extra_routes(ctx),
        connections=[c for p in active.values() for c in p.connections(ctx)],
        metrics=metrics,
        max_body_bytes=bot.max_request_bytes,
        body_timeout=bot.request_timeout,
        operator_token=bot.metrics_token,
    )
    serve(
        app,
        host=bot.host,
        port=bot.port,
        request_timeout=bot.request_timeout,
        on_stop=scheduler.request_stop,  # a signal during start-up ends its wait at once
        on_listen=on_listen,
    )
