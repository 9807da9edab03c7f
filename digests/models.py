"""The nouns that flow between stages. All frozen: a stage returns new values, never mutates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class RunStatus(StrEnum):
    """Where a digest run (one subscription, one slot) stands; stored as its value."""

    CLAIMED = "claimed"  # a process holds the slot and is composing it
    QUEUED = "queued"  # its messages are in the outbox, the watermark moved
    EMPTY = "empty"  # nothing new: nothing queued, the slot is done
    SKIPPED = "skipped"  # another run or process owns it (or it cannot run here)
    FAILED = "failed"  # it could not be rendered: the watermark stayed
    LOST = "lost"  # another replica took it over before it was queued


class OutboxStatus(StrEnum):
    """Where an outbox message stands; stored as its value."""

    PENDING = "pending"  # waiting for its turn (or its retry time)
    SENDING = "sending"  # claimed; after a lapse, its outcome is unknown
    SENT = "sent"
    DEAD = "dead"  # refused for good; its articles wait for the next digest
    CARRIED = "carried"  # dead, and its articles were handed to a later digest


class SourceKind(StrEnum):
    """What a configured source is."""

    FOLDER = "folder"
    FEED = "feed"
    PAGE = "page"
    URL = "url"  # given once on the command line; what it is is found by fetching


@dataclass(frozen=True, slots=True)
class RawDocument:
    """Bytes as a source delivered them, before any cleaning.

    ``kind`` is one of ``txt`` (browser-style page text dump), ``html``, ``md``, ``json``.
    ``hints`` carry metadata a source already knows (a feed entry's title, date, tags ...):
    extraction prefers what it finds in the page and falls back to the hints.
    """

    locator: str  # file path or URL: where it came from, shown in messages
    kind: str
    content: bytes
    url: str | None = None
    hints: dict[str, object] = field(default_factory=dict)
    # The file it is one document of several of (a JSON Lines line, a collection's article):
    # that file's failures are reported together (digests.ingest.document.FailureLimit).
    part_of: str | None = None
    # What to read instead if this yields no article, or less text than it does: a feed
    # entry's own text, for the article page it links to (digests.ingest.pipeline.process).
    fallback: RawDocument | None = None


@dataclass(frozen=True, slots=True)
class Article:
    """A cleaned article: metadata plus the body text (paragraphs separated by blank lines)."""

    title: str
    body: str
    source: str | None = None
    author: str | None = None
    published: datetime | None = None  # timezone-aware UTC when known
    url: str | None = None
    page_tags: tuple[str, ...] = ()
    locator: str = ""


@dataclass(frozen=True, slots=True)
class Summary:
    """An extractive summary: sentences quoted from the article, in article order."""

    sentences: tuple[str, ...]
    algorithm: str


@dataclass(frozen=True, slots=True)
class StoredArticle:
    """An article as the store holds it, with its summary and topic tags."""

    id: int
    title: str
    source: str | None
    author: str | None
    published: datetime | None
    url: str | None
    summary: tuple[str, ...]
    tags: tuple[str, ...]
    keyphrases: tuple[str, ...]
    ingested_at: datetime
    body: str = ""
    story: int | None = None  # the story (event) it belongs to (digests/stories.py)
    # Other sources that carried the same text (a syndicated copy is stored once, as this
    # article): distinct, first seen first, its own source left out.
    copy_sources: tuple[str, ...] = ()

    @property
    def dated(self) -> datetime:
        """The article's time: when it was published, else when it was stored. The one rule
        (its SQL twin is :data:`digests.store.schema.article_time`)."""
        return self.published or self.ingested_at


@dataclass(frozen=True, slots=True)
class ItemSentence:
    """One sentence of a story's summary and the article (of the story's copies) it quotes."""

    text: str
    article_id: int


@dataclass(frozen=True, slots=True)
class DigestItem:
    """One story in a digest; ``also`` lists other sources that ran the same story.

    ``sentences`` is the story's summary drawn from all its sources, each sentence credited
    (for a single source: that article's summary).
    """

    article: StoredArticle
    also: tuple[StoredArticle, ...] = ()
    sentences: tuple[ItemSentence, ...] = ()
    # A story already posted to this subscription: ``sentences`` are only what is new.
    update: bool = False
    earlier: str | None = None  # the platform id of the message that showed it before
    # An update: the named sources of every stored article of the story (those shown before
    # too, as `digestbot stories` names them); empty: not known (the digest's own articles').
    story_sources: tuple[str, ...] = ()

    @property
    def story(self) -> int | None:
        return self.article.story

    @property
    def sources(self) -> tuple[str, ...]:
        """The distinct sources carrying the story: its articles' first (first seen first),
        then :attr:`copy_sources`. Their number ranks the story in its section."""
        return self._article_sources + self.copy_sources

    @property
    def copy_sources(self) -> tuple[str, ...]:
        """The sources that carried only a copy of one of the story's texts (stored once, as
        that article), not already among its articles' sources."""
        own = set(self._article_sources)
        names = (n for a in (self.article, *self.also) for n in a.copy_sources)
        return tuple(dict.fromkeys(n for n in names if n and n not in own))

    @property
    def named_sources(self) -> tuple[str, ...]:
        """:attr:`sources` without the headlines standing in for articles whose source is not
        known (a file dropped in the inbox may name none): what a list of sources can show."""
        names = (a.source for a in (self.article, *self.also))
        return tuple(dict.fromkeys(n for n in names if n)) + self.copy_sources

    @property
    def whole_story_sources(self) -> tuple[str, ...]:
        """The story's named sources: for an update, those of every stored article of it (the
        ones shown before too), else :attr:`named_sources` (this digest's articles')."""
        return tuple(dict.fromkeys((*self.story_sources, *self.named_sources)))

    @property
    def _article_sources(self) -> tuple[str, ...]:
        names = (a.source or a.title for a in (self.article, *self.also))
        return tuple(dict.fromkeys(n for n in names if n))

    def source_of(self, sentence: ItemSentence) -> StoredArticle:
        """The copy a sentence quotes."""
        for a in (self.article, *self.also):
            if a.id == sentence.article_id:
                return a
        return self.article


@dataclass(frozen=True, slots=True)
class DigestSection:
    """The items of one tag, under its header."""

    tag: str
    items: tuple[DigestItem, ...]


@dataclass(frozen=True, slots=True)
class Digest:
    """Articles new since a watermark, grouped by tag."""

    generated_at: datetime
    sections: tuple[DigestSection, ...]
    article_ids: tuple[int, ...]  # every article the digest covers (the new watermark)
    more: int = 0  # stories past the digest's cap (max_stories), covered but not shown
    # Those stories with their tags, best first: what takes the place of a story that
    # :func:`digests.compose.follow_up` leaves out (nothing new to say).
    held: tuple[tuple[str, DigestItem], ...] = ()
    # The tags a reader may correct from chat ("Not #topic"): the configured topics, set by
    # the chat renderers (bot.platforms.renderers); None: any tag. A source's own tag is not
    # one (nothing learns it).
    correctable: frozenset[str] | None = None

    @property
    def empty(self) -> bool:
        return not self.article_ids


@dataclass(frozen=True, slots=True)
class BriefSentence:
    """One sentence of a brief and the article it quotes."""

    text: str
    article_id: int
    title: str
    source: str | None
    url: str | None
    published: datetime | None = None


@dataclass(frozen=True, slots=True)
class Brief:
    """A cited multi-source answer about a topic; empty sentences means nothing stored."""

    topic: str
    sentences: tuple[BriefSentence, ...]
    articles: tuple[StoredArticle, ...]
    suggestions: tuple[str, ...] = ()  # known topics close in spelling, when nothing matched
    words: int | None = None  # the word budget asked for (None: a sentence count)
    known_topics: tuple[str, ...] = ()  # no close one: the topics with articles, busiest first


@dataclass(frozen=True, slots=True)
class Tagging:
    """Topic tags (with how often each was mentioned) and automatic keyphrases."""

    tags: tuple[tuple[str, int], ...]  # (topic name, mentions), strongest first
    keyphrases: tuple[str, ...] = ()
    # The tags its source declares (its ``tags`` in sources.toml or `sources add`), and that
    # source's name: stored as such, no re-tag takes them off (digests/refit.py).
    declared: tuple[str, ...] = ()
    declared_by: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.tags)


@dataclass(frozen=True, slots=True)
class ProcessedArticle:
    """An article through extract → summarize → tag, ready for the store."""

    article: Article
    summary: Summary
    tagging: Tagging
    sentences: tuple[str, ...]  # every body sentence, for briefs
    # The story profile (digests/stories.py), made with the rest; empty: made when stored.
    profile: dict[str, float] = field(default_factory=dict)
    # Which of its terms are names (digests/stories.py: terms); None: found when stored.
    names: frozenset[str] | None = None
