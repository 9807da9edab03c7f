"""Chat `subscribe`, one rule for Slack and Discord: what a channel asked for, and its row.

Each front end reads its own syntax (Slack: ``/brief subscribe taiwan at 08:00 Europe/London``
as text; Discord: ``topics`` / ``time`` / ``timezone`` options) and hands the pieces to
:func:`subscribe_request`, which checks the topics, the time and the timezone the same way for
both. :func:`subscribe` then writes the channel's subscription: a daily cron at that time, and
a new subscription starts at the newest article (its first digest is news, not the archive).
:func:`describe` is the one line both platforms show about a subscription.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from apscheduler.triggers.cron import CronTrigger

from bot.render import echoed
from digests.brief import find_topic
from digests.config import Topic, validate_timezone
from digests.errors import ConfigError, InputError
from digests.store import Store
from digests.store.subscriptions import Subscription

DEFAULT_HOUR, DEFAULT_MINUTE, DEFAULT_TIMEZONE = 8, 0, "UTC"
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_KNOWN_SHOWN = 20  # topics listed when one is unknown


@dataclass(frozen=True, slots=True)
class SubscribeRequest:
    """A checked `subscribe`: topic names (empty = all), a daily time and its timezone."""

    topics: tuple[str, ...] = ()
    hour: int = DEFAULT_HOUR
    minute: int = DEFAULT_MINUTE
    timezone: str = DEFAULT_TIMEZONE

    @property
    def cron(self) -> str:
        """The daily crontab line for this time."""
        return f"{self.minute} {self.hour} * * *"


def _plain(text: str) -> str:
    return text


def subscribe_request(
    words: Sequence[str],
    topics: Sequence[Topic],
    *,
    time: str | None = None,
    timezone: str | None = None,
    quote: Callable[[str], str] = _plain,
) -> SubscribeRequest:
    """Check what a channel asked for; InputError with the message to show when it is wrong.

    ``words`` are topic names or aliases (``all`` or none: every topic); ``time`` is
    ``HH:MM`` (24-hour, default 08:00); ``timezone`` an IANA name (default UTC). ``quote``
    escapes user text echoed in a message (Slack: mrkdwn).
    """
    hour, minute, tz = DEFAULT_HOUR, DEFAULT_MINUTE, DEFAULT_TIMEZONE
    if time is not None and time.strip():
        match = _TIME.match(time.strip())
        if not match:
            raise InputError("Give the time as HH:MM (24-hour), e.g. `08:00`.")
        hour, minute = int(match.group(1)), int(match.group(2))
    if timezone is not None and timezone.strip():
        try:
            tz = validate_timezone(timezone.strip())
        except ConfigError:
            raise InputError(
                f"Unknown timezone `{quote(echoed(timezone))}`; use a name like `Europe/London`."
            ) from None
    names: list[str] = []
    unknown: list[str] = []
    for word in words:
        if word.lower() == "all":
            continue
        topic = find_topic(word, topics)
        if topic:
            names.append(topic.name)
        else:
            unknown.append(word)
    if unknown:
        known = ", ".join(f"`{quote(t.name)}`" for t in topics[:_KNOWN_SHOWN])
        raise InputError(
            f"Unknown topic {', '.join(f'`{quote(echoed(u))}`' for u in unknown)}. "
            f"Known topics: {known or 'none configured'}."
        )
    return SubscribeRequest(tuple(dict.fromkeys(names)), hour, minute, tz)


def subscribe(
    store: Store,
    request: SubscribeRequest,
    *,
    name: str,
    platform: str,
    channel: str,
    now: datetime,
    team_id: str | None = None,
    limit: int | None = None,
) -> Subscription:
    """Create or update the chat subscription ``name``; a new one starts at the newest article.

    ``team_id`` is the workspace (Slack) or server (Discord) the channel belongs to; it may
    have at most ``limit`` chat subscriptions (one team cannot crowd out the others' digests).
    """
    if not channel:
        raise InputError("this command must be used in a channel")
    existing = store.subscriptions.get(name)
    full = limit is not None and team_id and store.subscriptions.count_for_team(team_id) >= limit
    if existing is None and full:
        raise InputError(
            f"this workspace already has {limit} digest subscriptions, the most allowed; "
            "remove one with `/brief unsubscribe` in its channel, or ask the operator to "
            "raise DIGESTBOT_TEAM_SUBSCRIPTIONS"
        )
    return store.subscriptions.upsert(
        name,
        platform=platform,
        channel=channel,
        topics=request.topics,
        cron=request.cron,
        timezone=request.timezone,
        origin="chat",
        now=now,
        # A new subscription starts at the newest article: its first digest is news, not the
        # archive. An existing one keeps its watermark (nothing is skipped or repeated).
        watermark=None if existing else store.articles.latest_id(),
        team_id=team_id,
    )


def next_run(sub: Subscription, now: datetime) -> datetime | None:
    """When the subscription's next digest is due after ``now`` (None: never)."""
    trigger = CronTrigger.from_crontab(sub.cron, timezone=sub.timezone)
    upcoming: datetime | None = trigger.get_next_fire_time(None, now)
    return upcoming


def describe(
    sub: Subscription,
    now: datetime,
    *,
    quote: Callable[[str], str] = _plain,
    code: Callable[[str], str] | None = None,
) -> str:
    """One line about a subscription: topics, schedule, next run (``quote``: escape for markup;
    ``code``: for the cron inside a code span, where a markup's escapes may show, default
    ``quote``)."""
    upcoming = next_run(sub, now)
    topics = ", ".join(f"#{quote(t)}" for t in sub.topics) or "all topics"
    state = "" if sub.enabled else f" (paused: {quote(sub.disabled_reason or 'disabled')})"
    nxt = f"next {upcoming:%a %d %b %H:%M %Z}" if upcoming and sub.enabled else "not scheduled"
    cron = (code or quote)(sub.cron)
    return f"• {topics} — `{cron}` {quote(sub.timezone)}, {nxt} [{sub.origin}]{state}"


def first_digest(sub: Subscription, now: datetime) -> str:
    """When the first digest comes and what it holds: the line under "Subscribed."."""
    upcoming = next_run(sub, now)
    if upcoming is None or not sub.enabled:
        return "No digest is scheduled."
    return (
        f"The first digest comes {upcoming:%a %d %b at %H:%M %Z}, with the articles stored "
        "from now on (when nothing new has come in, nothing is posted)."
    )
