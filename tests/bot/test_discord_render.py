"""Discord rendering: every message within Discord's limits, nothing from an article can ping."""

from __future__ import annotations

from datetime import timedelta

from bot.platforms.discord import render as r
from digests.models import Brief, BriefSentence, Digest, DigestItem, DigestSection, StoredArticle
from tests.conftest import NOW


def _article(
    i: int,
    *,
    title: str | None = None,
    summary: tuple[str, ...] | None = None,
    tags: tuple[str, ...] = ("taiwan",),
    url: str | None = None,
) -> StoredArticle:
    return StoredArticle(
        id=i,
        title=title or f"Story number {i}",
        source=f"Wire {i % 7}",
        author="A. Reporter",
        published=NOW - timedelta(hours=i),
        url=url or f"https://news.example/{i}",
        summary=summary or (f"First sentence of story {i}.", "Second sentence."),
        tags=tags,
        keyphrases=(),
        ingested_at=NOW,
    )


def _digest(items_per_tag: dict[str, list[StoredArticle]]) -> Digest:
    sections = tuple(
        DigestSection(tag, tuple(DigestItem(a) for a in arts))
        for tag, arts in items_per_tag.items()
    )
    ids = tuple(sorted(a.id for arts in items_per_tag.values() for a in arts))
    return Digest(generated_at=NOW, sections=sections, article_ids=ids)


def _assert_within_limits(message: dict) -> None:
    assert len(message["content"]) <= r.MAX_CONTENT
    assert len(message["embeds"]) <= r.MAX_EMBEDS
    assert sum(r.embed_size(e) for e in message["embeds"]) <= r.MAX_EMBED_TOTAL
    assert message["allowed_mentions"] == {"parse": []}
    for e in message["embeds"]:
        assert len(e.get("title", "")) <= r.MAX_TITLE
        assert len(e.get("description", "")) <= r.MAX_DESCRIPTION
        assert len(e.get("author", {}).get("name", "")) <= r.MAX_AUTHOR
        assert len(e.get("footer", {}).get("text", "")) <= r.MAX_FOOTER
        assert len(e.get("fields", [])) <= r.MAX_FIELDS
        for f in e.get("fields", []):
            assert len(f["name"]) <= r.MAX_FIELD_NAME and len(f["value"]) <= r.MAX_FIELD_VALUE


def test_a_large_digest_is_split_within_every_limit_and_loses_no_story() -> None:
    huge = " ".join(["A very long sentence about semiconductors and shipping lanes."] * 80)
    arts = {
        "taiwan": [_article(i, title="T" * 400, summary=(huge,)) for i in range(1, 31)],
        "trade": [_article(i, tags=("trade",)) for i in range(31, 71)],
    }
    digest = _digest(arts)
    also = DigestItem(_article(99), tuple(_article(100 + k) for k in range(60)))
    digest = Digest(NOW, (*digest.sections, DigestSection("chips", (also,))), digest.article_ids)
    messages = [p.payload for p in r.digest_parts(digest)]
    assert len(messages) > 7  # 71 stories cannot fit in 7 × 10 embeds
    for message in messages:
        _assert_within_limits(message)
    titles = [e["title"] for m in messages for e in m["embeds"]]
    assert len(titles) == 71 and titles[-1] == "Story number 99"
    assert all(t.endswith("…") for t in titles[:30])  # 400-char titles were cut to fit
    # Each part names itself: "part i/n", and the sender adds the digest key (it reconciles
    # by it); the rendering itself names no key, so one rendering serves every run.
    for i, message in enumerate(messages, start=1):
        assert f"part {i}/{len(messages)}" in message["content"]
        posted = r.with_key(message, "morning:2026-11-23")
        assert "morning:2026-11-23" in posted["content"] and "morning" not in message["content"]
        assert f"part {i}/{len(messages)}" in posted["content"]
        _assert_within_limits(posted)
    assert "News digest" in messages[0]["content"] and "#taiwan (30)" in messages[0]["content"]
    assert [e["author"]["name"] for e in messages[0]["embeds"]][0] == "#taiwan"


def test_an_empty_digest_renders_nothing() -> None:
    assert [p.payload for p in r.digest_parts(Digest(NOW, (), ()))] == []


def test_article_text_cannot_ping_or_format() -> None:
    evil = _article(
        1,
        title="**Breaking** @everyone <@&123> [click](https://evil.example)",
        summary=("@here see <#42> and ||spoiler|| `code` # heading", "- not a list"),
        url="javascript:alert(1)",
    )
    [message] = [p.payload for p in r.digest_parts(_digest({"taiwan": [evil]}))]
    [embed] = message["embeds"]
    text = embed["title"] + embed["description"]
    assert "@everyone" not in text and "@here" not in text
    # Every "<" is escaped: Discord shows "<@&123>" as text, not as a role mention.
    assert "\\<@&123\\>" in text and "\\<#42\\>" in text
    assert text.count("<") == text.count("\\<")
    assert "\\*\\*Breaking" in embed["title"] and "\\[click\\]" in embed["title"]
    assert "\\|\\|spoiler" in embed["description"] and "\n\\- not a list" in embed["description"]
    assert "url" not in embed  # only http(s) links are linked


def test_brief_message_cites_each_sentence_and_lists_sources() -> None:
    a, b = _article(1), _article(2, url="https://news.example/a b)c")
    brief = Brief(
        topic="taiwan",
        sentences=(
            BriefSentence("Taiwan said @everyone something.", 1, a.title, a.source, a.url),
            BriefSentence("Another source added more.", 2, b.title, b.source, b.url),
            BriefSentence("The first source again.", 1, a.title, a.source, a.url),
        ),
        articles=(a, b),
    )
    message = r.brief_message(brief)
    _assert_within_limits(message)
    [embed] = message["embeds"]
    lines = embed["description"].split("\n")
    assert lines[0].endswith("[\\[1\\]](https://news.example/1)")
    assert lines[1].endswith("[\\[2\\]](https://news.example/a%20b%29c)")  # link stays whole
    assert lines[2].endswith("(https://news.example/1)")
    assert "@\u200beveryone" in lines[0]
    assert embed["fields"][0]["name"] == "Sources" and "Wire 2" in embed["fields"][0]["value"]


def test_a_long_brief_keeps_whole_lines_within_the_description_limit() -> None:
    sentences = tuple(
        BriefSentence("x" * 390 + f" {i}.", i, f"T{i}", "S", f"https://n.example/{i}")
        for i in range(20)
    )
    message = r.brief_message(Brief("chips", sentences, ()))
    _assert_within_limits(message)
    assert all(line.endswith(")") for line in message["embeds"][0]["description"].split("\n"))


def test_an_empty_brief_suggests_topics() -> None:
    message = r.brief_message(Brief("tiawan", (), (), suggestions=("taiwan",)))
    assert "tiawan" in message["content"] and "`taiwan`" in message["content"]
    assert message["embeds"] == [] and message["allowed_mentions"] == {"parse": []}


def test_a_story_two_articles_of_one_source_ran_counts_one_source() -> None:
    # Articles 1 and 8 are both "Wire 1": the field said "1 sources".
    item = DigestItem(_article(1), also=(_article(8),))
    digest = Digest(
        generated_at=NOW, sections=(DigestSection("taiwan", (item,)),), article_ids=(1, 8)
    )
    [part] = r.digest_parts(digest)
    names = [f["name"] for e in part.payload["embeds"] for f in e.get("fields", [])]
    assert "1 source" in names and "1 sources" not in names, names
