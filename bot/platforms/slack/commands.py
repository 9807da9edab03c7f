"""`/brief` text → a command, and each subcommand's work (sync: run it off the event loop).

Parsing is pure and cheap, so the ack listener parses to answer bad input at once, and the
lazy listener parses again to do the work. Every reply is built by ``bot.platforms.slack.render``;
user text is escaped before it is echoed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.chat import Status, TopicCount
from bot.controls import has_controls
from bot.platforms.slack.render import escape_mrkdwn, text_message
from bot.render import counted
from bot.subscribe import SubscribeRequest, subscribe_request
from bot.subscribe import describe as shared_describe
from digests.config import Topic
from digests.errors import InputError
from digests.store import Store
from digests.store.subscriptions import Subscription

MAX_TEXT = 2000  # longer command text is refused outright
MAX_TOPIC = 200

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
    if has_controls(text):
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
    subs = store.subscriptions.for_channel("slack", channel)
    return [s for s in subs if s.team_id == team] if team else subs


def describe(sub: Subscription, now: datetime) -> str:
    """One mrkdwn line about a subscription: topics, schedule, next run."""
    return shared_describe(sub, now, quote=escape_mrkdwn)


def subscribe_request_of(command: Command) -> SubscribeRequest:
    """The checked subscribe request a parsed ``subscribe`` command carries."""
    return SubscribeRequest(command.topics, command.hour, command.minute, command.timezone)


def topics_message(counts: Sequence[TopicCount]) -> dict:
    """Known topics with their article counts (:meth:`bot.chat.ChatService.topics`)."""
    if not counts:
        return text_message("No topics are configured (config/topics.toml).")
    lines = [f"• `{escape_mrkdwn(t.name)}` — {counted(t.articles, 'article')}" for t in counts]
    return text_message("*Topics*\n" + "\n".join(lines))


def status_message(status: Status, now: datetime) -> dict:
    """This channel's subscriptions, with their next run, and the health of the sources."""
    if status.subscriptions:
        text = "*Digests for this channel*\n" + "\n".join(
            describe(s, now) for s in status.subscriptions
        )
    else:
        text = "This channel has no digest. Start one with `/brief subscribe <topics…>`."
    sources = status.sources.lines(bold=lambda t: f"*{t}*", quote=escape_mrkdwn, warn=":warning:")
    return text_message(f"{text}\n\n" + "\n".join(sources))
