"""`/brief` text → a :class:`Command`: the one grammar of the chat command on every platform
that takes free text (Slack, Mattermost; Discord's options arrive parsed). Pure and cheap: a
platform parses to answer bad input at once. User text echoed in an error goes through the
platform's ``quote`` (its markup's escaping)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bot.render import echoed
from bot.subscribe import SubscribeRequest, subscribe_request
from digests.config import Topic
from digests.controls import has_controls
from digests.errors import InputError

MAX_TEXT = 2000  # longer command text is refused outright
MAX_TOPIC = 200


@dataclass(frozen=True, slots=True)
class Command:
    """A parsed `/brief` invocation."""

    action: str  # help | topics | subscribe | unsubscribe | status | brief | invalid
    topic: str = ""
    topics: tuple[str, ...] = ()
    hour: int = 8
    minute: int = 0
    timezone: str = "UTC"
    error: str = ""  # for ``invalid``: the reason shown to the user (its echo quoted)
    words: tuple[str, ...] = field(default=(), repr=False)


def parse(text: str, topics: Sequence[Topic] = (), *, quote: Callable[[str], str] = str) -> Command:
    """Parse `/brief` text; bad input becomes ``Command("invalid", error=...)``, the user's
    text in it passed through ``quote`` (the platform's escaping for its markup)."""
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
            f"`{quote(echoed(text))}` aren't allowed.",
        )
    words = tuple(text.split())
    if not words or words[0].lower() in {"help", "-h", "--help", "?"} and len(words) == 1:
        return Command("help")
    head = words[0].lower()
    if head in {"topics", "unsubscribe", "status"} and len(words) == 1:
        return Command(head)
    if head == "subscribe":
        return _subscribe(words[1:], topics, quote)
    topic = " ".join(words)
    if len(topic) > MAX_TOPIC:
        return Command(
            "invalid", error=f"A topic of {len(topic)} characters is too long (max {MAX_TOPIC})."
        )
    return Command("brief", topic=topic)


def _subscribe(
    args: Sequence[str], topics: Sequence[Topic], quote: Callable[[str], str]
) -> Command:
    """``subscribe <topics…> [at HH:MM [Area/City]]``; the checks are bot/subscribe.py's."""
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
        request = subscribe_request(words, topics, time=time, timezone=tz, quote=quote)
    except InputError as exc:
        return Command("invalid", error=str(exc))
    return Command(
        "subscribe",
        topics=request.topics,
        hour=request.hour,
        minute=request.minute,
        timezone=request.timezone,
    )


def subscribe_request_of(command: Command) -> SubscribeRequest:
    """The checked subscribe request a parsed ``subscribe`` command carries."""
    return SubscribeRequest(command.topics, command.hour, command.minute, command.timezone)
