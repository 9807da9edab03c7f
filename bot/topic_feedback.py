"""Reader corrections of topic tags from chat: "Not #topic" and "More like this".

Each digest story on Slack and Discord carries both buttons; their value names the story's
lead article and the topic (:func:`button_value`). :func:`record` checks the value (a
configured topic, a stored article), stores the correction of each article of the story the
reader saw (the digest's articles of it; for "Not #topic" those carrying the topic; at most
12: ``Topics.add_story_feedback``) with who gave it and from which workspace (a second
identical click by the same user stores nothing), and answers in one line. The tags and the
model are shared by every workspace the bot serves: only a workspace whose corrections count
(``[topics] feedback_workspaces``, else the deployment's own when it has one:
``Topics.trust``) stores one, and only its digests carry the buttons. Whether the
clicking user may change topics is the platform's check (Slack: a member of the workspace
that owns the channel, as for ``/brief subscribe``; Discord: the Manage Webhooks permission,
as for ``/brief subscribe``). The correction takes
effect at the next refit of the topics (digests/refit.py), which a correction makes due
(serve's topics job runs every ``TOPICS_EVERY`` seconds).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime

from digests.config import Settings
from digests.errors import InputError
from digests.models import StoredArticle
from digests.store import Store

NOT_ACTION = "topic_not"  # Slack action ids (Discord custom ids start with the same words)
MORE_ACTION = "topic_more"
KINDS = {NOT_ACTION: "not", MORE_ACTION: "more"}
# A click from a workspace whose corrections do not count ([topics] feedback_workspaces).
NOT_ENABLED = "Topic corrections from this workspace are not enabled by this digestbot's operator."
# A click on an old digest whose article was removed since (the store was reset or pruned).
GONE = "This story is no longer stored, so its topics can't be corrected from here."
_VALUE = re.compile(r"^(\d{1,18}):([a-z0-9][a-z0-9-]{0,62})$")


def feedback_topic(
    article: StoredArticle, tag: str | None, correctable: Collection[str] | None
) -> str | None:
    """The topic a story's buttons correct: the tag it is filed under, else its strongest tag,
    of those a reader may correct (``correctable``: the configured topics; None: any); None:
    no buttons (the "other" section, or a story carrying only a source's own tags)."""
    allowed = [t for t in article.tags if correctable is None or t in correctable]
    if tag is not None and tag in allowed:
        return tag
    return allowed[0] if allowed else None


def button_value(article_id: int, topic: str) -> str:
    """What a feedback button carries: ``"<article id>:<topic>"``."""
    return f"{article_id}:{topic}"


def parse_value(value: object) -> tuple[int, str]:
    """The article id and topic of a button value (InputError when it is not one)."""
    match = _VALUE.match(str(value or ""))
    if not match:
        raise InputError("this button's value is not an article and a topic")
    return int(match.group(1)), match.group(2)


def record(
    store: Store,
    core: Settings,
    *,
    action: str,
    value: object,
    user: str,
    workspace: str,
    platform: str,
    now: datetime,
) -> str:
    """Store one correction; the confirmation to show the user (InputError for bad input).

    Only a workspace whose corrections count (``Topics.trust``, which counts the clicking
    workspace among its platform's) stores one: the tags and the model are shared by every
    workspace the bot serves."""
    kind = KINDS.get(action)
    if kind is None:
        raise InputError(f"unknown feedback action {action!r}")
    if not workspace:
        raise InputError("the click names no workspace")
    if not store.topics.trust(also=((platform, workspace),)).allows(workspace):
        return NOT_ENABLED
    article_id, topic = parse_value(value)
    if topic not in {t.name for t in core.topics}:
        raise InputError(f"#{topic} is not a configured topic")
    if not user:
        raise InputError("the click names no user")
    try:
        covered, stored = store.topics.add_story_feedback(
            article_id,
            topic,
            kind,
            user_id=user,
            workspace=workspace,
            platform=platform,
            now=now,
        )
    except InputError as exc:  # the kind is checked above: the article is gone
        raise InputError(GONE) from exc
    # "More like this" makes the story a labelled example of the topic (as `examples` in
    # topics.toml): the words say that, not a promise of more stories.
    story = "this story" if len(covered) == 1 else f"this story ({len(covered)} articles)"
    said = f"{story} is not #{topic}" if kind == "not" else f"{story} is an example of #{topic}"
    if not stored:  # a second click: the first is what counts
        return f"Already noted: {said}."
    from bot.schedule import TOPICS_EVERY  # serve's topics job: the refit a correction makes due

    when = f"within {TOPICS_EVERY // 60} minutes"
    return f"Noted: {said}. The topics learn from it at their next refit, {when}."
