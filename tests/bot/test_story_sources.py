"""A story's sources as a chat reader sees them: "N sources" and then those N, each once.

A story is often several articles of one source (a wire's updates through the day): the
list must name each source once, so that it matches its count, on every platform.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

from bot.platforms.discord import render as discord
from bot.platforms.mattermost import render as mattermost
from bot.platforms.slack import render as slack
from digests.models import Digest, DigestItem, DigestSection, ItemSentence, StoredArticle
from testkit.slack_stub import slack_would_refuse
from tests.conftest import NOW


def _article(i: int, source: str, *, copies: tuple[str, ...] = ()) -> StoredArticle:
    return StoredArticle(
        id=i,
        title=f"Embassy bombing suspects charged, report {i}",
        source=source,
        author=None,
        published=NOW - timedelta(hours=10 - i),
        url=f"https://{source.lower().replace(' ', '')}.example/{i}",
        summary=(f"Sentence {i} about the embassy bombing suspects.",),
        tags=("world",),
        keyphrases=(),
        ingested_at=NOW,
        story=1,
        copy_sources=copies,
    )


def _digest(item: DigestItem) -> Digest:
    ids = (item.article.id, *(a.id for a in item.also))
    return Digest(NOW, (DigestSection("world", (item,)),), ids)


def _one_wire_many_articles() -> DigestItem:
    # Seven articles: five from Associated Press, two from The New York Times, and a copy of
    # one of them that Xinhua carried (stored once): three sources.
    wires = ["Associated Press", "Associated Press", "New York Times", "Associated Press",
             "New York Times", "Associated Press", "Associated Press"]  # fmt: skip
    articles = [_article(i, s) for i, s in enumerate(wires, 1)]
    articles[2] = _article(3, "New York Times", copies=("Xinhua",))
    sentences = tuple(ItemSentence(a.summary[0], a.id) for a in articles[:3])
    return DigestItem(articles[0], tuple(articles[1:]), sentences)


def _sources_line(payload: dict) -> str:
    """The Slack message's one context line that lists a story's sources."""
    [line] = [
        e["text"]
        for b in payload["blocks"]
        if b["type"] == "context"
        for e in b["elements"]
        if "sources" in e["text"]
    ]
    return str(line)


def test_each_source_is_listed_once_and_matches_the_count() -> None:
    item = _one_wire_many_articles()
    assert len(item.sources) == 3
    digest = _digest(item)

    [part] = slack.digest_parts(digest)
    assert slack_would_refuse({"channel": "C1", **part.payload}) is None
    line = _sources_line(part.payload)
    # "3 sources: <url|Associated Press>, <url|New York Times>, Xinhua"
    names = re.findall(r"\|([^>]+)>|, (\w+)$", line)
    assert line.startswith("3 sources: ")
    assert [a or b for a, b in names] == ["Associated Press", "New York Times", "Xinhua"], line

    [message] = [p.payload for p in discord.digest_parts(digest)]
    [field] = message["embeds"][0]["fields"]
    assert field["name"] == "3 sources"
    assert field["value"].count("Associated Press") == 1, field["value"]
    assert field["value"].count("New York Times") == 1 and "Xinhua" in field["value"]

    [post] = [p.payload["text"] for p in mattermost.digest_parts(digest)]
    [also] = [line for line in post.splitlines() if line.startswith("Also: ")]
    # The byline names the lead's source; "Also:" each other source, once.
    assert "Associated Press" not in also, also
    assert also.count("New York Times") == 1 and also.endswith(", Xinhua"), also


def test_a_story_of_many_sources_lists_whole_links_and_counts_the_rest() -> None:
    # 40 sources with long article URLs: the list was cut at the platform's limit in the
    # middle of a link (Slack: an unclosed "<https://…", Discord: "[name](https://…"), and
    # Slack listed 20 of "40 sources" without saying so.
    lead = _article(0, "Source 0")
    others = tuple(
        replace(_article(i, f"Source {i}"), url=f"https://s{i}.example/{'p' * 150}/{i}")
        for i in range(1, 40)
    )
    digest = _digest(DigestItem(lead, others))

    [part] = slack.digest_parts(digest)
    assert slack_would_refuse({"channel": "C1", **part.payload}) is None
    line = _sources_line(part.payload)
    assert line.count("<") == line.count(">")  # every link whole
    shown, more = re.fullmatch(r"40 sources: (.*) and (\d+) more", line).groups()  # type: ignore[union-attr]
    assert len(shown.split(">, <")) + int(more) == 40

    [message] = [p.payload for p in discord.digest_parts(digest)]
    [field] = message["embeds"][0]["fields"]
    assert len(field["value"]) <= discord.MAX_FIELD_VALUE
    shown, more = re.fullmatch(r"(.*) and (\d+) more", field["value"]).groups()  # type: ignore[union-attr]
    links = re.findall(r"\[Source \d+\]\(https://[^)]*\)", shown)
    assert ", ".join(links) == shown and len(links) + int(more) == 40

    [post] = [p.payload["text"] for p in mattermost.digest_parts(digest)]
    [also] = [line for line in post.splitlines() if line.startswith("Also: ")]
    shown, more = re.fullmatch(r"Also: (.*) and (\d+) more", also).groups()  # type: ignore[union-attr]
    links = re.findall(r"\[Source \d+\]\(https://s\d+\.example/[^)]*\)", shown)
    assert ", ".join(links) == shown and len(links) + int(more) == 39  # the lead's in the byline


def test_a_story_of_several_sources_keeps_its_headline_and_byline_on_slack() -> None:
    # The sources line's "3 sources: " once took the place of the headline and byline in
    # the story's section: every story of several sources lost its linked headline.
    item = _one_wire_many_articles()
    [part] = slack.digest_parts(_digest(item))
    [section] = [
        b["text"]["text"]
        for b in part.payload["blocks"]
        if b["type"] == "section" and "embassy bombing suspects." in b["text"]["text"]
    ]
    headline, byline, _ = section.split("\n", 2)
    assert headline == f"*<{item.article.url}|{item.article.title}>*"
    assert byline.startswith("Associated Press · ")
