"""Delivery experiments: numbered articles, and which of them a Slack channel shows."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime

from digests.store import Store
from testkit.articles import make_processed
from testkit.slack_stub import SlackStub

_TITLE = re.compile(r"Acceptance story (\d+)\b")


def add_articles(store: Store, numbers: range) -> None:
    """Articles titled "Acceptance story N"; odd ones tagged, every third matching no topic."""
    for n in numbers:
        tags = () if n % 3 == 0 else (("taiwan", 3),)
        body = f"Event{n} unique{n} words{n} happened in place{n}. Officials{n} said more{n}."
        store.articles.add(
            make_processed(f"Acceptance story {n} about thing{n}", body, tags=tags),
            now=datetime.now(UTC),
        )


def shown(stub: SlackStub, channel: str) -> Counter[int]:
    """How often each story appears in the channel, read from the posted blocks themselves."""
    counts: Counter[int] = Counter()
    for message in stub.posted(channel):
        for block in message.get("blocks") or []:
            if block.get("type") == "section":
                counts.update(int(n) for n in _TITLE.findall(block["text"]["text"]))
    return counts
