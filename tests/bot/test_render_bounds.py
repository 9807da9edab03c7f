"""What an article cannot do to a chat message however long its parts are: a huge URL or a
paragraph-long name never cuts a link in half nor pushes the story's summary out, on every
platform (checked against the stand-ins' and each platform's own limits)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from starlette.applications import Starlette

from bot.chat import ChatService
from bot.platforms.discord import render as discord
from bot.platforms.discord.commands import DiscordCommands
from bot.platforms.mattermost import render as mattermost
from bot.platforms.mattermost.command import command_route
from bot.platforms.mattermost.settings import load_mattermost
from bot.platforms.slack import commands as slack_commands
from bot.platforms.slack import render as slack
from bot.platforms.slack.commands import topics_message
from digests.config import Settings, Topic
from digests.models import (
    Brief,
    BriefSentence,
    Digest,
    DigestItem,
    DigestSection,
    ItemSentence,
    StoredArticle,
)
from digests.store import Store
from testkit.slack_stub import slack_would_refuse
from tests.conftest import NOW

HUGE_URL = "https://x/" + "a" * 3000
SUMMARY = "The ministry confirmed the figures on Tuesday."


def _article(i: int = 1, **changes: object) -> StoredArticle:
    a = StoredArticle(
        id=i,
        title=f"Ministry confirms the figures, report {i}",
        source=f"Source {i}",
        author=None,
        published=NOW - timedelta(hours=i),
        url=f"https://news.example/{i}",
        summary=(SUMMARY,),
        tags=("world",),
        keyphrases=(),
        ingested_at=NOW,
        story=1,
    )
    return replace(a, **changes)  # type: ignore[arg-type]


def _digest(item: DigestItem) -> Digest:
    return Digest(NOW, (DigestSection("world", (item,)),), (item.article.id,))


def _credited(lead: StoredArticle) -> DigestItem:
    """A story of two sources: each sentence credited to its source by name."""
    other = _article(2)
    sentences = (ItemSentence(SUMMARY, lead.id), ItemSentence("A second sentence.", other.id))
    return DigestItem(lead, (other,), sentences)


CASES = {
    "huge headline URL": DigestItem(_article(url=HUGE_URL)),
    "huge source name": DigestItem(_article(source="S" * 5000)),
    "huge author name": DigestItem(_article(author="A" * 5000)),
    "huge name in a credit": _credited(_article(source="S" * 5000)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_huge_url_or_name_never_cuts_a_link_nor_pushes_the_summary_out(case: str) -> None:
    digest = _digest(CASES[case])

    [part] = slack.digest_parts(digest)
    assert slack_would_refuse({"channel": "C1", **part.payload}) is None
    section = next(b for b in part.payload["blocks"] if b["type"] == "section")["text"]["text"]
    assert SUMMARY in section, section[-200:]
    assert section.count("<") == section.count(">")  # every link whole
    assert "x/aaaa" not in section  # the headline is shown unlinked
    assert "S" * 101 not in section and ("S" * 5000 not in case or "S" * 90 in section)

    [message] = [p.payload for p in discord.digest_parts(digest)]
    discord.validate_message(message)
    [embed] = message["embeds"]
    assert len(embed.get("url", "")) <= 2048  # Discord: "Must be 2048 or fewer in length"
    assert SUMMARY in embed["description"]
    assert "S" * 101 not in str(embed) and "A" * 101 not in str(embed)
    assert "…" in str(embed) or case == "huge headline URL"

    [post] = [p.payload["text"] for p in mattermost.digest_parts(digest)]
    assert len(post) <= mattermost.MAX_POST and SUMMARY in post
    assert "x/aaaa" not in post
    assert "S" * 201 not in post and "A" * 201 not in post


def test_a_brief_citing_a_huge_url_keeps_its_sentences_and_whole_links() -> None:
    a = _article(url=HUGE_URL)
    sentences = tuple(
        BriefSentence(f"Sentence {i} about the figures.", a.id, a.title, "S" * 500, HUGE_URL)
        for i in range(3)
    )
    brief = Brief("figures", sentences, (a,))

    message = slack.brief_message(brief)
    assert slack_would_refuse({"channel": "C1", **message}) is None
    texts = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]
    texts += [e["text"] for b in message["blocks"] if b["type"] == "context" for e in b["elements"]]
    assert all(t.count("<") == t.count(">") for t in texts), texts
    assert all(f"Sentence {i} about the figures. [1]" in "\n".join(texts) for i in range(3))

    embed = discord.brief_message(brief)["embeds"][0]
    discord.validate_message({"content": "", "embeds": [embed]})
    assert all(f"Sentence {i} about the figures." in embed["description"] for i in range(3))
    [sources] = embed["fields"]
    assert re.fullmatch(
        r"1\. S{1,100}… — Ministry confirms the figures, report 1", sources["value"]
    )

    text = mattermost.brief_text(brief)
    assert "x/aaaa" not in text and text.count("Sentence") == 3


# -- /brief topics: the list of configured topics -------------------------------------------

TOPIC_LINE = re.compile(r"[•*] `topic-\d{3}-[a-z-]+` — \d+ articles?")


def _shown_and_more(lines: list[str]) -> tuple[list[str], int]:
    """The topic lines shown, each whole, and how many the last line counts."""
    *shown, last = lines
    more = re.fullmatch(r"… and (\d+) more topics", last)
    assert more, last
    bad = [line for line in shown if not TOPIC_LINE.fullmatch(line)]
    assert not bad, bad[:3]  # no line cut
    return shown, int(more.group(1))


def test_a_long_topic_list_shows_whole_lines_and_counts_the_rest(
    store: Store, settings: Settings
) -> None:
    # 300 topics with long names and aliases: Slack's one section was cut at 3,000 characters
    # in the middle of a line, Discord's content at 2,000 and Mattermost's post at 16,000.
    topics = tuple(
        Topic(name=f"topic-{i:03d}-{'word-' * 10}end", aliases=(f"alias {i}", f"other {i}"))
        for i in range(300)
    )
    chat = ChatService(store, settings.model_copy(update={"topics": topics}))

    async def main() -> tuple[dict, str, str]:
        counts = await chat.topics()
        mm = load_mattermost(
            {"MATTERMOST_URL": "https://mm.example", "MATTERMOST_COMMAND_TOKEN": "t"}
        )
        assert mm is not None
        async with httpx.AsyncClient() as client:
            discord_answer = await DiscordCommands(chat, client, "http://d.example").run(
                "topics", {}, channel="c1", guild=None, permissions=0
            )
            app = Starlette(routes=[command_route(mm, chat, client)])
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bot") as bot:
                form = {"token": "t", "channel_id": "c1", "user_id": "u1", "text": "topics"}
                answer = await bot.post("/mattermost/command", data=form)
        return topics_message(counts), discord_answer, answer.json()["text"]

    slack_message, discord_text, mattermost_text = asyncio.run(main())

    assert slack_would_refuse({"channel": "C1", **slack_message}) is None
    sections = [b["text"]["text"] for b in slack_message["blocks"]]
    lines = "\n".join(sections).splitlines()
    assert lines[0] == "*Topics*"
    shown, more = _shown_and_more(lines[1:])
    assert len(shown) + more == 300 and len(sections) > 1  # split across sections

    assert len(discord_text) <= 2000
    head, *lines = discord_text.splitlines()
    shown, more = _shown_and_more(lines)
    assert head == "**Topics**" and len(shown) + more == 300

    assert len(mattermost_text) <= mattermost.MAX_POST
    head, *lines = mattermost_text.splitlines()
    assert head == "**Topics**"
    if not lines[-1].startswith("…"):  # all of them fit in one post
        assert [TOPIC_LINE.fullmatch(line) is not None for line in lines] == [True] * 300
    else:
        shown, more = _shown_and_more(lines)
        assert len(shown) + more == 300


# -- cuts between characters as a reader sees them (grapheme clusters) ----------------------

FLAG, FAMILY, ACCENTED = "\U0001f1ec\U0001f1e7", "👨\u200d👩\u200d👧", "e\u0301"


def _halves(text: str) -> list[str]:
    """The clusters of ``text`` that hold part of a flag, a family emoji or an accented e
    but are not the whole of it (a cut inside one shows as half a character)."""
    import regex

    parts = ("\U0001f1ec", "\U0001f1e7", "👨", "👩", "👧", "\u200d", "\u0301")
    return [
        c
        for c in regex.findall(r"\X", text)
        if any(p in c for p in parts) and c not in (FLAG, FAMILY, ACCENTED)
    ]


@pytest.mark.parametrize("unit", [FLAG, FAMILY, ACCENTED], ids=["flag", "zwj", "combining"])
@pytest.mark.parametrize("offset", range(5))
def test_a_cut_never_splits_a_flag_an_emoji_sequence_or_an_accent(unit: str, offset: int) -> None:
    # A headline past each platform's limit, its cut landing at every place in the unit.
    title = "x" * offset + unit * 400
    digest = _digest(DigestItem(_article(title=title, source=title)))

    [part] = slack.digest_parts(digest)
    texts = [b["text"]["text"] for b in part.payload["blocks"] if "text" in b]
    assert all(not _halves(t) for t in texts), [_halves(t) for t in texts]
    header = slack.brief_message(Brief(title, (), (), suggestions=()))["text"]
    assert not _halves(header)

    [message] = [p.payload for p in discord.digest_parts(digest)]
    embed = message["embeds"][0]
    labels = [b["label"] for row in message["components"] for b in row["components"]]
    for text in (embed["title"], embed["footer"]["text"], *labels):
        assert not _halves(text), _halves(text)

    [post] = [p.payload["text"] for p in mattermost.digest_parts(digest)]
    assert not _halves(post), _halves(post)

    # A topic a user typed, echoed back shortened (60) when it is not known.
    answer = slack_commands.parse("subscribe " + title.replace(" ", ""), ())
    assert answer.error and not _halves(answer.error), answer.error
