"""`/brief` text → a command, and each subcommand's work (sync: run it off the event loop).

Parsing is pure and cheap, so the ack listener parses to answer bad input at once, and the
lazy listener parses again to do the work. Every reply is built by ``bot.platforms.slack.render``;
user text is escaped before it is echoed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot import command
from bot.chat import Status, TopicCount
from bot.command import Command
from bot.platforms.slack.render import escape_mrkdwn, lines_message, listed, text_message
from bot.render import counted
from bot.subscribe import describe as shared_describe
from bot.subscribe import next_run
from digests.config import Topic
from digests.store import Store
from digests.store.subscriptions import Subscription

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
# Its `text` fallback (notifications, screen readers): the commands in one plain line.
USAGE_SUMMARY = (
    "/brief commands: /brief TOPIC (a cited summary), /brief topics, /brief subscribe TOPICS "
    "[at HH:MM] [Area/City], /brief unsubscribe, /brief status, /brief help"
)


def typed(text: str) -> str:
    """Slash-command text as the user typed it: Slack sends a typed &, < and > as &amp;, &lt;
    and &gt; (its own markup — mentions, links — stays ``<…>``, refused by the parser)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def parse(text: str, topics: Sequence[Topic] = ()) -> Command:
    """Parse `/brief` text (``bot.command.parse``), echoing bad input escaped for mrkdwn."""
    return command.parse(text, topics, quote=escape_mrkdwn)


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


def digest_summary(sub: Subscription, now: datetime) -> str:
    """A subscription in a plain line (escaped): its topics and its next digest."""
    topics = ", ".join(f"#{escape_mrkdwn(t)}" for t in sub.topics) or "all topics"
    if not sub.enabled:
        return f"{topics}, paused"
    upcoming = next_run(sub, now)
    return f"{topics}, next digest {upcoming:%a %d %b %H:%M %Z}" if upcoming else topics


def topics_message(counts: Sequence[TopicCount]) -> dict:
    """Known topics with their article counts (:meth:`bot.chat.ChatService.topics`); its
    fallback names them by count (``Topics: taiwan (120), trade (85) and 6 more``). A source
    tag carries its mark (``(source tag: wire)``) in both."""
    if not counts:
        return text_message("No topics are configured (config/topics.toml).")

    def mark(t: TopicCount) -> str:
        return f" {escape_mrkdwn(t.note)}" if t.note else ""

    lines = [
        f"• `{escape_mrkdwn(t.name)}` — {counted(t.articles, 'article')}{mark(t)}" for t in counts
    ]
    ranked = sorted(counts, key=lambda t: -t.articles)  # stable: configuration order in a tie
    fallback = listed(
        "Topics", [f"{escape_mrkdwn(t.name)} ({t.articles:,}){mark(t)}" for t in ranked]
    )
    return lines_message("*Topics*", lines, noun="topics", fallback=fallback)


def status_message(status: Status, now: datetime) -> dict:
    """This channel's subscriptions, with their next run, and the health of the sources."""
    subs = status.subscriptions
    if subs:
        text = "*Digests for this channel*\n" + "\n".join(describe(s, now) for s in subs)
        more = f" (and {len(subs) - 1} more)" if len(subs) > 1 else ""
        said = f"Digest for this channel: {digest_summary(subs[0], now)}{more}."
    else:
        text = "This channel has no digest. Start one with `/brief subscribe <topics…>`."
        said = "This channel has no digest."
    health = status.sources
    failing = len(health.failing) + health.more_failing
    said += f" Sources: {health.healthy} of {health.total} healthy" + (
        f", {failing} failing." if failing else "."
    )
    sources = health.lines(bold=lambda t: f"*{t}*", quote=escape_mrkdwn, warn=":warning:")
    return text_message(f"{text}\n\n" + "\n".join(sources), fallback=said)
