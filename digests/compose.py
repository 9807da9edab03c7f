"""Compose stage: new articles → a Digest of stories, grouped by tag, ranked and capped.

One item per story (digests/stories.py assigns articles to stories when they are stored;
articles without a story — stored before stories existed — fall back to near-duplicate
grouping). A story several sources ran gets one summary drawn from all their summaries by
the multi-document engine, each sentence credited to its source. Within a section, stories
that more distinct sources carry come first (``DigestItem.sources``: a syndicated text stored
once counts each site or feed that carried it), then the most recent, then those most about
the section's topic. ``max_stories`` caps the digest: the stories past it are counted in
``Digest.more`` (covered, not shown). :func:`follow_up` turns a story already posted to
the subscription into an update quoting only sentences that are new.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from digests import similar
from digests.models import Digest, DigestItem, DigestSection, ItemSentence, StoredArticle
from digests.multidoc import Source, summarize_sources

_DATED = operator.attrgetter("dated")  # StoredArticle.dated: the article-time rule
OTHER = "other"  # the section of articles no topic matched
_WORDS_PER_SENTENCE = 60  # the word budget of a merged story: its sentence count times this
_MAX_SOURCES = 12  # a story's newest articles summarized (bounded cost for a huge story)


def compose(
    articles: Sequence[StoredArticle],
    *,
    now: datetime,
    topics: Sequence[str] = (),
    max_stories: int | None = None,
) -> Digest:
    """Group ``articles`` into stories, by their strongest tag (within ``topics`` when given).

    Sections with more stories come first; see the module docstring for the order within.
    """
    wanted = set(topics)
    pool = [a for a in articles if not wanted or wanted.intersection(a.tags)]
    ranked: list[tuple[tuple[float, ...], str, DigestItem]] = []
    for copies in _stories(pool):
        first, rest = copies[0], tuple(copies[1:])
        tag = _primary_tag(first, wanted)
        item = DigestItem(first, rest, _story_summary(first, rest))
        strength = sum(tag in a.tags for a in copies)
        newest = max(a.dated for a in copies).timestamp()
        ranked.append(((-len(item.sources), -newest, -strength, first.id), tag, item))
    ranked.sort(key=lambda r: r[0])
    shown = ranked if max_stories is None else ranked[:max_stories]
    sections: dict[str, list[DigestItem]] = defaultdict(list)
    for _, tag, item in shown:
        sections[tag].append(item)
    held = tuple((tag, item) for _, tag, item in ranked[len(shown) :])
    return Digest(
        generated_at=now,
        sections=_sections(sections),
        article_ids=tuple(sorted(a.id for a in pool)),
        more=len(held),
        held=held,
    )


def _sections(by_tag: Mapping[str, Sequence[DigestItem]]) -> tuple[DigestSection, ...]:
    """The non-empty sections, those with more stories first, "other" last."""
    ordered = sorted(by_tag.items(), key=lambda kv: (kv[0] == OTHER, -len(kv[1]), kv[0]))
    return tuple(DigestSection(tag, tuple(items)) for tag, items in ordered if items)


def follow_up(digest: Digest, posted: Mapping[int, Sequence[str]]) -> Digest:
    """``digest`` for a subscription that was already shown some of its stories (story id →
    the sentences shown): those come back as updates quoting only sentences not shown before
    (a near-duplicate counts as shown); a story with nothing new is left out (its articles
    stay covered: nothing delivered is posted again), and the next story past the cap
    (:attr:`Digest.held`) with something new takes its place. Held stories are checked in
    rank order only until the places are filled; those left are counted in ``more``."""
    if not posted:
        return digest

    def updated(item: DigestItem) -> DigestItem | None:
        before = posted.get(item.story, ()) if item.story is not None else ()
        if not before:
            return item
        # Every sentence of every source of the story is a candidate, so an update can
        # quote a new article even when the summary's first picks were shown before.
        new = tuple(
            s
            for s in (*item.sentences, *_all_sentences(item))
            if not any(similar.near_duplicate(s.text, p) for p in before)
        )
        new = tuple(dict((s.text, s) for s in new).values())[: max(1, len(item.sentences))]
        return DigestItem(item.article, item.also, new, update=True) if new else None

    sections: dict[str, list[DigestItem]] = {s.tag: [] for s in digest.sections}
    room = sum(len(s.items) for s in digest.sections)
    for section in digest.sections:
        sections[section.tag] += [i for i in map(updated, section.items) if i is not None]
    # The held stories (ranked below every story shown) fill the free places in rank order,
    # each checked only when it could take one: a digest may hold thousands past its cap.
    free = room - sum(map(len, sections.values()))
    taken = 0
    while free > 0 and taken < len(digest.held):
        tag, item = digest.held[taken]
        taken += 1
        if (i := updated(item)) is not None:
            sections.setdefault(tag, []).append(i)
            free -= 1
    # The rest, never checked, are "+N more": past the cap and not shown (one may have nothing
    # new for this subscription). Those found with nothing new are not counted, so a digest
    # with nothing new at all still shows nothing: the rest is empty unless places were filled.
    rest = digest.held[taken:]
    return Digest(digest.generated_at, _sections(sections), digest.article_ids, len(rest), rest)


def updated_stories(digest: Digest) -> list[int]:
    """The stories ``digest`` shows as updates (:func:`follow_up`)."""
    items = (i for s in digest.sections for i in s.items)
    return sorted({i.story for i in items if i.update and i.story is not None})


def with_story_sources(digest: Digest, sources: Mapping[int, Sequence[str]]) -> Digest:
    """``digest`` with each update carrying its story's named sources (story id → those of
    all its stored articles) as :attr:`DigestItem.story_sources`: its own articles are only
    the new ones."""

    def whole(item: DigestItem) -> DigestItem:
        story = item.story
        if not item.update or story is None or story not in sources:
            return item
        return replace(item, story_sources=tuple(sources[story]))

    sections = tuple(replace(s, items=tuple(map(whole, s.items))) for s in digest.sections)
    return replace(digest, sections=sections)


def _all_sentences(item: DigestItem) -> list[ItemSentence]:
    """The summary sentences of a story's sources, newest source first."""
    copies = sorted((item.article, *item.also), key=lambda a: (a.dated, a.id), reverse=True)
    return [ItemSentence(s, a.id) for a in copies for s in a.summary]


def _stories(pool: Sequence[StoredArticle]) -> list[list[StoredArticle]]:
    """The articles of each story, earliest first; unassigned ones grouped as near-duplicates."""
    by_story: dict[int, list[StoredArticle]] = defaultdict(list)
    loose: list[StoredArticle] = []
    for a in pool:
        if a.story is not None:
            by_story[a.story].append(a)
        else:
            loose.append(a)
    groups = list(by_story.values())
    texts = [f"{a.title}. {' '.join(a.summary)}" for a in loose]
    groups += [[loose[i] for i in cluster] for cluster in similar.group(texts)]
    return [sorted(g, key=lambda a: (a.dated, a.id)) for g in groups]


def _story_summary(
    first: StoredArticle, rest: tuple[StoredArticle, ...]
) -> tuple[ItemSentence, ...]:
    own = tuple(ItemSentence(s, first.id) for s in first.summary)
    if not rest:
        return own
    # The first report and the newest ones: a long-running story stays bounded.
    copies = (first, *rest[-(_MAX_SOURCES - 1) :])
    n = max(len(a.summary) for a in copies)
    sources = [
        Source(key=a.id, text="\n\n".join(a.summary), title=a.title, published=a.dated)
        for a in copies
    ]
    cited = summarize_sources(sources, words=_WORDS_PER_SENTENCE * n, sentences=n)
    return tuple(ItemSentence(c.text, copies[c.source].id) for c in cited) or own


def _primary_tag(article: StoredArticle, wanted: set[str]) -> str:
    for name in article.tags:  # stored strongest first
        if not wanted or name in wanted:
            return name
    return OTHER
