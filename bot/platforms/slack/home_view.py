"""The App Home tab (views.publish), built with slack_sdk.models: subscriptions, digests, sources.

A Home tab holds at most 100 blocks (Slack's views reference); the lists here are capped so
the view always fits, with a line saying how many were left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.platforms.slack.render import escape_mrkdwn
from bot.render import counted, shorten
from digests.net.util import redact
from digests.store.runs import RecentRun
from digests.store.sources import SourceState
from digests.store.subscriptions import Subscription

PAUSE_ACTION = "home_pause"
RESUME_ACTION = "home_resume"
MAX_VIEW_BLOCKS = 100  # Slack: a Home tab view holds up to 100 blocks
SHOWN_SUBSCRIPTIONS = 40  # one block each
SHOWN_RUNS = 10
SHOWN_SOURCES = 10
_ERROR_CHARS = 200
_TEXT_CHARS = 3000


@dataclass(frozen=True, slots=True)
class HomeSubscription:
    """A subscription as the Home tab shows it: with its next run (None when paused)."""

    subscription: Subscription
    next_run: datetime | None


def _when(value: datetime | None) -> str:
    return value.strftime("%a %d %b %H:%M %Z") if value else "—"


def _section(text: str, accessory: ButtonElement | None = None) -> SectionBlock:
    return SectionBlock(
        text=MarkdownTextObject(text=shorten(text, _TEXT_CHARS)), accessory=accessory
    )


def _more(count: int, shown: int, what: str) -> list[Block]:
    if count <= shown:
        return []
    return [ContextBlock(elements=[MarkdownTextObject(text=f"…and {count - shown} more {what}")])]


def _subscription(entry: HomeSubscription) -> SectionBlock:
    sub = entry.subscription
    topics = ", ".join(f"#{escape_mrkdwn(t)}" for t in sub.topics) or "all topics"
    lines = [
        f"*<#{escape_mrkdwn(sub.channel)}>* — {topics}",
        f"`{escape_mrkdwn(sub.cron)}` {escape_mrkdwn(sub.timezone)}",
    ]
    if sub.enabled:
        lines.append(f"Next run: {_when(entry.next_run)}")
        button = ButtonElement(
            text=PlainTextObject(text="Pause"), action_id=PAUSE_ACTION, value=sub.name[:2000]
        )
    else:
        reason = escape_mrkdwn((sub.disabled_reason or "paused")[:_ERROR_CHARS])
        lines.append(f":double_vertical_bar: Paused: {reason}")
        button = ButtonElement(
            text=PlainTextObject(text="Resume"),
            action_id=RESUME_ACTION,
            value=sub.name[:2000],
            style="primary",
        )
    return _section("\n".join(lines), accessory=button)


def home_view(
    subscriptions: Sequence[HomeSubscription],
    runs: Sequence[RecentRun],
    sources: Sequence[SourceState],
) -> dict:
    """The Home tab: this workspace's subscriptions (pause/resume), latest digests, failing sources."""
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text="digestbot"))]
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="Digests in your channels. Start one with `/brief subscribe <topics…>` "
                    "in a channel; `/brief help` lists every command."
                )
            ]
        )
    )
    blocks += [DividerBlock(), _section("*Subscriptions*")]
    if subscriptions:
        blocks += [_subscription(e) for e in subscriptions[:SHOWN_SUBSCRIPTIONS]]
        blocks += _more(len(subscriptions), SHOWN_SUBSCRIPTIONS, "subscriptions")
    else:
        blocks.append(_section("No digest goes to this workspace yet."))

    blocks += [DividerBlock(), _section("*Latest digests*")]
    if runs:
        lines = [
            f"• <#{escape_mrkdwn(r.channel)}> — {_when(r.scheduled_for)}"
            + (f", {r.articles} article{'s' if r.articles != 1 else ''}" if r.articles else "")
            for r in runs[:SHOWN_RUNS]
        ]
        blocks.append(_section("\n".join(lines)))
    else:
        blocks.append(_section("No digest has been posted yet."))

    failing = [s for s in sources if s.consecutive_failures]
    blocks += [DividerBlock(), _section("*Sources*")]
    healthy = len(sources) - len(failing)
    summary = f"{healthy} of {len(sources)} healthy"
    if failing:
        lines = [summary] + [
            f"• :warning: {escape_mrkdwn(redact(s.name))} — "
            f"{counted(s.consecutive_failures, 'failure')} in a row: "
            f"{escape_mrkdwn(redact(s.last_error or 'unknown error')[:_ERROR_CHARS])}"
            for s in failing[:SHOWN_SOURCES]
        ]
        blocks.append(_section("\n".join(lines)))
        blocks += _more(len(failing), SHOWN_SOURCES, "failing sources")
    else:
        blocks.append(_section(summary))
    assert len(blocks) <= MAX_VIEW_BLOCKS  # the caps above guarantee it
    return View(type="home", blocks=blocks).to_dict()
