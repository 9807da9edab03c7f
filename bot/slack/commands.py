"""`/brief` text → a command, and each subcommand's work (sync: run it off the event loop).

Parsing is pure and cheap, so the ack listener parses to answer bad input at once, and the
lazy listener parses again to do the work. Every reply is built by ``bot.render.slack``;
user text is escaped before it is echoed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.commands_subscribe import SubscribeRequest, subscribe, subscribe_request
from bot.commands_subscribe import describe as shared_describe
from bot.render import counted
from bot.render.slack import brief_message, escape_mrkdwn, text_message
from digests.brief import brief as make_brief
from digests.config import Settings, Topic
from digests.errors import InputError
from digests.store import Store
from digests.store.schedules import Subscription

MAX_TEXT = 2000  # longer command text is refused outright
MAX_TOPIC = 200
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")

USAGE = (
    "*Usage*\n"
    "• `/brief <topic>` — a short, cited summary of what the stored articles say (e.g. `/brief taiwan`)\n"
    "• `/brief topics` — known topics and how many articles each has\n"
    "• `/brief subscribe <topics…> [at HH:MM] [Area/City]` — a daily digest in this channel "
    "(e.g. `/brief subscribe taiwan trade at 08:00 Europe/London`; no topics = all)\n"
    "• `/brief unsubscribe` — stop this channel's digest\n"
    "• `/brief status` — this channel's digest settings\n"
    "• `/brief help` — this message"
)


@dataclass(frozen=True, slots=True)
class Command:
    """A parsed `/brief` invocation."""

    action: str  # help | topics | subscribe | unsubscribe | status | brief | invalid
    topic: str = ""
    topics: tuple[str, ...] = ()
    hour: int = 8
    minute: int = 0
    timezone: str = "UTC"
    error: str = ""  # for ``invalid``: the escaped reason shown to the user
    words: tuple[str, ...] = field(default=(), repr=False)


def parse(text: str, topics: Sequence[Topic] = ()) -> Command:
    """Parse `/brief` text; bad input becomes ``Command("invalid", error=...)``."""
    if len(text) > MAX_TEXT:
        return Command(
            "invalid", error=f"That is {len(text)} characters; keep it under {MAX_TEXT}."
        )
    if _CONTROL.search(text) or any(
        unicodedata.category(c) == "Cc" and c not in "\t\n\r" for c in text
    ):
        return Command(
            "invalid", error="Control characters aren't allowed; type the topic as plain words."
        )
    if "<" in text or ">" in text:
        # Slack sends mentions and links as <...>: a topic is words, never markup.
        return Command(
            "invalid",
            error=f"Topics are plain words; mentions, links and markup like "
            f"`{escape_mrkdwn(_short(text))}` aren't allowed.",
        )
    words = tuple(text.split())
    if not words or words[0].lower() in {"help", "-h", "--help", "?"} and len(words) == 1:
        return Command("help")
    head = words[0].lower()
    if head in {"topics", "unsubscribe", "status"} and len(words) == 1:
        return Command(head)
    if head == "subscribe":
        return _subscribe(words[1:], topics)
    topic = " ".join(words)
    if len(topic) > MAX_TOPIC:
        return Command(
            "invalid", error=f"A topic of {len(topic)} characters is too long (max {MAX_TOPIC})."
        )
    return Command("brief", topic=topic)


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= 60 else flat[:59] + "…"


def _subscribe(args: Sequence[str], topics: Sequence[Topic]) -> Command:
    """``subscribe <topics…> [at HH:MM [Area/City]]``: Slack's syntax; the checks are shared."""
    words = list(args)
    lowered = [w.lower() for w in words]
    time: str | None = None
    tz: str | None = None
    if "at" in lowered:
        i = lowered.index("at")
        rest = words[i + 1 :]
        if not rest:
            return Command(
                "invalid", error="Give the time as `at HH:MM` (24-hour), e.g. `at 08:00`."
            )
        if len(rest) > 2:
            return Command("invalid", error="Put the topics before `at HH:MM [timezone]`.")
        time, tz = rest[0], (rest[1] if len(rest) == 2 else None)
        words = words[:i]
    try:
        request = subscribe_request(words, topics, time=time, timezone=tz, quote=escape_mrkdwn)
    except InputError as exc:
        return Command("invalid", error=str(exc))
    return Command(
        "subscribe",
        topics=request.topics,
        hour=request.hour,
        minute=request.minute,
        timezone=request.timezone,
    )


def chat_subscription_name(channel: str, *, team: str | None = None) -> str:
    """The name of the subscription a Slack channel manages with `/brief subscribe`.

    With OAuth installs the name carries the workspace: a channel shared between two
    workspaces (Slack Connect) has one id but is two subscriptions.
    """
    return f"slack-chat:{team}:{channel}" if team else f"slack-chat:{channel}"


def channel_subscriptions(
    store: Store, channel: str, *, team: str | None = None
) -> list[Subscription]:
    """The Slack subscriptions posting to ``channel`` (``team``: only that workspace's)."""
    subs = store.schedules.for_channel("slack", channel)
    return [s for s in subs if s.team_id == team] if team else subs


def describe(sub: Subscription, now: datetime) -> str:
    """One mrkdwn line about a subscription: topics, schedule, next run."""
    return shared_describe(sub, now, quote=escape_mrkdwn)


def run_brief(
    store: Store,
    core: Settings,
    topic: str,
    *,
    now: datetime,
    share: bool = True,
    shared_by: str | None = None,
) -> dict:
    """The Block Kit message answering `/brief <topic>`."""
    result = make_brief(store, topic, topics=core.topics, now=now, sentences=core.brief_sentences)
    return brief_message(result, shareable=share, shared_by=shared_by)


def run_topics(store: Store, core: Settings) -> dict:
    """Known topics with their article counts."""
    counts = store.articles.tag_counts()
    if not core.topics:
        return text_message("No topics are configured (config/topics.toml).")
    lines = [
        f"• `{escape_mrkdwn(t.name)}` — {counted(counts.get(t.name, 0), 'article')}"
        for t in core.topics
    ]
    return text_message("*Topics*\n" + "\n".join(lines))


def run_subscribe(
    store: Store,
    command: Command,
    *,
    channel: str,
    now: datetime,
    team: str | None = None,
    scoped: bool = False,
) -> Subscription:
    """Create or update this channel's chat subscription (the rule: bot/commands_subscribe.py).

    ``team`` is stored on the row (whose token posts it); ``scoped``: the name carries it too.
    """
    request = SubscribeRequest(command.topics, command.hour, command.minute, command.timezone)
    return subscribe(
        store,
        request,
        name=chat_subscription_name(channel, team=team if scoped else None),
        platform="slack",
        channel=channel,
        now=now,
        team_id=team,
    )


def run_status(store: Store, *, channel: str, now: datetime, team: str | None = None) -> dict:
    """This channel's subscriptions, with their next run, and the health of the sources."""
    subs = channel_subscriptions(store, channel, team=team)
    if subs:
        text = "*Digests for this channel*\n" + "\n".join(describe(s, now) for s in subs)
    else:
        text = "This channel has no digest. Start one with `/brief subscribe <topics…>`."
    return text_message(f"{text}\n\n{describe_sources(store)}")


def describe_sources(store: Store) -> str:
    """mrkdwn lines on source health: how many are fine, and each failing one with its error."""
    states = store.sources.all()
    failing = [s for s in states if s.consecutive_failures]
    lines = [f"*Sources*: {len(states) - len(failing)} of {len(states)} healthy"]
    for s in failing:
        error = escape_mrkdwn((s.last_error or "unknown error")[:200])
        lines.append(
            f"• :warning: {escape_mrkdwn(s.name)} — {counted(s.consecutive_failures, 'failure')} in a row: {error}"
        )
    return "\n".join(lines)
