"""The App Home tab: published on ``app_home_opened``, with working pause/resume buttons.

Everything shown belongs to the workspace the event came from (its team id); with a single
bot token, subscriptions that name no workspace (config files) are that workspace's too.
The view is published with the request's client, which Bolt gave that workspace's token.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.platforms.slack.home_view import (
    PAUSE_ACTION,
    RESUME_ACTION,
    SHOWN_RUNS,
    HomeSubscription,
    home_view,
)
from bot.schedule import trigger_for
from digests.store import Store
from digests.store.subscriptions import Subscription

log = logging.getLogger(__name__)
PAUSED_FROM_HOME = "paused from the App Home"


def _next_run(sub: Subscription, now: datetime) -> datetime | None:
    return trigger_for(sub).get_next_fire_time(None, now) if sub.enabled else None


def team_subscriptions(store: Store, team_id: str | None, *, single: bool) -> list[Subscription]:
    """The Slack subscriptions of one workspace (``single``: plus those naming none)."""
    subs = store.subscriptions.for_team(team_id) if team_id else []
    if single:
        subs += store.subscriptions.for_team(None)
    return subs


def build_home(store: Store, team_id: str | None, *, single: bool, now: datetime) -> dict:
    """The Home view of one workspace, as of ``now``."""
    subs = team_subscriptions(store, team_id, single=single)
    entries = [HomeSubscription(s, _next_run(s, now)) for s in subs]
    runs = store.runs.recent_runs([s.name for s in subs], limit=SHOWN_RUNS)
    return home_view(entries, runs, store.sources.all())


def register_home(
    app: AsyncApp,
    store: Store,
    *,
    single: bool,
    schedule: Any | None,
    clock: Callable[[], datetime],
) -> None:
    """``app_home_opened`` and the Home tab's pause/resume buttons."""

    async def publish(client: Any, user: str, team_id: str | None) -> None:
        view = await asyncio.to_thread(build_home, store, team_id, single=single, now=clock())
        await client.views_publish(user_id=user, view=view)

    async def opened(event: dict, context: Any, client: Any) -> None:
        if event.get("tab", "home") != "home":
            return  # the Messages tab
        await publish(client, event["user"], context.team_id)

    async def toggle(ack: Any, body: dict, action: dict, context: Any, client: Any) -> None:
        await ack()
        name = str(action.get("value", ""))
        subs = await asyncio.to_thread(team_subscriptions, store, context.team_id, single=single)
        if name not in {s.name for s in subs}:
            # A stale view, or a value that names another workspace's subscription.
            log.warning("home: %s pressed on %r, not a subscription of team %s",
                        action.get("action_id"), name, context.team_id)  # fmt: skip
        elif action.get("action_id") == PAUSE_ACTION:
            await asyncio.to_thread(store.subscriptions.disable, name, PAUSED_FROM_HOME)
            if schedule is not None:
                schedule.unschedule(name)
        else:
            await asyncio.to_thread(store.subscriptions.enable, name)
            fresh = await asyncio.to_thread(store.subscriptions.get, name)
            if schedule is not None and fresh is not None:
                schedule.schedule(fresh)
        await publish(client, (body.get("user") or {}).get("id", ""), context.team_id)

    app.event("app_home_opened")(opened)
    app.action(PAUSE_ACTION)(toggle)
    app.action(RESUME_ACTION)(toggle)
