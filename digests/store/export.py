"""Streaming exports: every stored article (``digestbot articles``) and story (``digestbot stories``).

Both walk the table by id in pages (keyset pagination: ``id > last ORDER BY id LIMIT n``), so a
million rows are never in memory and no connection stays open between pages; with ``since``
they walk the ids the date's index finds instead (held sorted, 8 bytes each), so a week costs a
week, not a pass over every row ever stored. Each page's tags
(articles) or sources and article counts (stories) come from one extra query. An article's
duplicate documents (the same text from other files or URLs) are read alongside, in pages of
their own; a story counts them as articles, and their sources as its sources.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Row,
    Select,
    exists,
    func,
    select,
    tuple_,
    union_all,
)

from digests.store.schema import article_tags, articles, as_utc, documents, stories

PAGE = 1000


def articles_rows(
    engine: Engine,
    *,
    since: datetime | None = None,
    topics: Sequence[str] = (),
    story: int | None = None,
    page: int = PAGE,
) -> Iterator[dict[str, Any]]:
    """Every stored article, oldest id first: id, locator, url, title, source, published,
    tags (strongest first), story.

    An article whose text also came from other places (the same file twice, a syndicated
    copy) is stored once; after its own line each copy gets a line with the same id and the
    copy's locator and source (the article's, for a copy recorded before its source was
    kept), so every input is found by where it came from.

    ``since`` keeps articles dated (published, else stored) at or after it; ``topics`` those
    tagged with any of them; ``story`` the members of that story (a story merged into another names
    the one it became).
    """
    cols = (
        articles.c.id,
        articles.c.locator,
        articles.c.url,
        articles.c.title,
        articles.c.source,
        articles.c.published,
        articles.c.story_id,
    )
    query = select(*cols)
    window = None
    if since is not None:
        dated = func.coalesce(articles.c.published, articles.c.ingested_at) >= since
        query = query.where(dated)
        window = select(articles.c.id).where(dated)  # by ix_articles_dated
    if topics:
        query = query.where(_tagged(topics))
    if story is not None:
        query = query.where(articles.c.story_id == _current_story(engine, story))
    for rows in _pages(engine, query, articles.c.id, page, _tags, window):
        # The page's copies stream alongside it (both in id order): however many files hold
        # one text, memory holds a page of them.
        copies = _copies(engine, [int(r.id) for r, _ in rows], page)
        copy = next(copies, None)
        for r, tags in rows:
            published = as_utc(r.published)
            row = {
                "id": int(r.id),
                "locator": r.locator,
                "url": r.url,
                "title": r.title,
                "source": r.source,
                "published": published.isoformat() if published else None,
                "tags": tags,
                # An article not (yet) assigned is a story of its own: no shared key.
                "story": int(r.story_id) if r.story_id is not None else None,
            }
            yield row
            while copy is not None and copy[0] == row["id"]:
                # The same text found at another place, under that place's name.
                yield {**row, "locator": copy[1], "source": copy[2] or row["source"]}
                copy = next(copies, None)


def stories_rows(
    engine: Engine,
    *,
    since: datetime | None = None,
    topics: Sequence[str] = (),
    page: int = PAGE,
) -> Iterator[dict[str, Any]]:
    """Every live story with an article, oldest id first: id, headline, articles (count),
    sources, first_seen, last_seen. ``since`` keeps stories seen at or after it; ``topics``
    those with an article tagged with any of them.

    ``articles`` counts the lines ``articles_rows(story=id)`` gives: each article, and each
    copy of its text found at another place; ``sources`` names the sources of both.
    """
    query = select(
        stories.c.id,
        stories.c.headline,
        stories.c.first_seen,
        stories.c.last_seen,
    ).where(stories.c.merged_into.is_(None))
    window = None
    if since is not None:
        query = query.where(stories.c.last_seen >= since)
        window = select(stories.c.id).where(stories.c.last_seen >= since)  # ix_stories_last_seen
    # A story whose articles are all gone (its one file changed into another event's report)
    # lists nothing: it is left out, not shown with 0 articles under a headline no longer stored.
    members = select(articles.c.id).where(articles.c.story_id == stories.c.id)
    if topics:
        # Each story's articles (by story), then each one's tags (by article): joined the
        # other way, SQLite read every row of the topic's tag for every story (50 s for
        # `stories --topic` over 50,000 articles, where the whole list took 6 s).
        members = members.where(_tagged(topics))
    query = query.where(exists(members))
    pages = _pages(engine, query, stories.c.id, page, _sources, window)
    for r, counted in chain.from_iterable(pages):
        first, latest = as_utc(r.first_seen), as_utc(r.last_seen)
        yield {
            "id": int(r.id),
            "headline": r.headline,
            "articles": counted.count,
            "sources": counted.sources,
            "first_seen": first.isoformat() if first else None,
            "last_seen": latest.isoformat() if latest else None,
        }


def _tagged(topics: Sequence[str]) -> ColumnElement[bool]:
    """The article (``articles.c.id`` of the enclosing query) carries any of ``topics``: looked
    up by its key, so the cost is per article listed, not per row of the topic's tag."""
    return exists(
        select(article_tags.c.article_id).where(
            article_tags.c.article_id == articles.c.id, article_tags.c.tag.in_(list(topics))
        )
    )


D = TypeVar("D")


def _pages(
    engine: Engine,
    query: Select[Any],
    key: ColumnElement[int],
    page: int,
    details: Callable[[Connection, list[int]], Mapping[int, D]],
    window: Select[Any] | None = None,
) -> Iterator[list[tuple[Row[Any], D]]]:
    """``query``'s rows by ``key``, a page at a time (``key > last ORDER BY key LIMIT page``),
    each row with what ``details`` reads for the page's ids in the same connection.

    ``window``, the keys a ``--since`` keeps (read once, by the index on the date), is walked
    instead of the table: a walk by key read every row ever stored to find the few dated in
    the window among them. Its keys are held as 8 bytes each, sorted."""
    if window is not None:
        keys = _keys(engine, window)
        for start in range(0, len(keys), page):
            chunk = [int(k) for k in keys[start : start + page]]
            with engine.connect() as conn:
                rows = conn.execute(query.where(key.in_(chunk)).order_by(key)).all()
                found = details(conn, [int(r.id) for r in rows])
            if rows:  # a row deleted since the keys were read is not listed
                yield [(r, found[int(r.id)]) for r in rows]
        return
    last = 0
    while True:
        with engine.connect() as conn:
            rows = conn.execute(query.where(key > last).order_by(key).limit(page)).all()
            if not rows:
                return
            found = details(conn, [int(r.id) for r in rows])
        yield [(r, found[int(r.id)]) for r in rows]
        last = int(rows[-1].id)


def _keys(engine: Engine, window: Select[Any]) -> np.ndarray:
    """The keys ``window`` selects, sorted (streamed from the database: never all as rows)."""
    with engine.connect() as conn:
        found = conn.execution_options(yield_per=10_000).scalars(window)
        keys = np.fromiter((int(k) for k in found), dtype=np.int64)
    keys.sort()
    return keys


def _copies(engine: Engine, ids: list[int], page: int) -> Iterator[tuple[int, str, str | None]]:
    """(article id, locator, source) of each duplicate document of these articles, by article
    then document, read ``page`` at a time (keyset on both)."""
    d = documents.c
    last = (0, 0)
    while True:
        query = (
            select(d.article_id, d.id, d.locator, d.source)
            .where(d.article_id.in_(ids), d.status == "duplicate")
            .where(tuple_(d.article_id, d.id) > tuple_(*last))
            .order_by(d.article_id, d.id)
            .limit(page)
        )
        with engine.connect() as conn:
            rows = conn.execute(query).all()
        if not rows:
            return
        for r in rows:
            yield int(r.article_id), r.locator, r.source
        last = (int(rows[-1].article_id), int(rows[-1].id))


def _tags(conn: Connection, ids: list[int]) -> defaultdict[int, list[str]]:
    """Each article's tags, strongest first."""
    tags: defaultdict[int, list[str]] = defaultdict(list)
    query = (
        select(article_tags.c.article_id, article_tags.c.tag)
        .where(article_tags.c.article_id.in_(ids))
        .order_by(article_tags.c.article_id, article_tags.c.weight.desc(), article_tags.c.tag)
    )
    for article_id, tag in conn.execute(query):
        tags[article_id].append(tag)
    return tags


@dataclass(slots=True)
class _Counted:
    """A story's article count (copies included) and its sources, the one with most first."""

    count: int = 0
    sources: list[str] = field(default_factory=list)


def _sources(conn: Connection, ids: list[int]) -> defaultdict[int, _Counted]:
    """Each story's articles and copies counted, and their sources, the one with most articles
    first: one aggregation (a copy counts under its own source, else its article's), so a
    text in a million files is summed by the database, never read here."""
    a, d = articles.c, documents.c
    own = select(a.story_id.label("story_id"), a.source.label("source")).where(a.story_id.in_(ids))
    copied = (
        select(a.story_id, func.coalesce(d.source, a.source))
        .select_from(documents.join(articles, d.article_id == a.id))
        .where(a.story_id.in_(ids), d.status == "duplicate")
    )
    every = union_all(own, copied).subquery()
    query = (
        select(every.c.story_id, every.c.source, func.count())
        .group_by(every.c.story_id, every.c.source)
        .order_by(every.c.story_id, func.count().desc(), every.c.source)
    )
    out: defaultdict[int, _Counted] = defaultdict(_Counted)
    for story_id, source, n in conn.execute(query):
        counted = out[int(story_id)]
        counted.count += int(n)
        if source:
            counted.sources.append(source)
    return out


# The sources named per story, at most (an update's JSON `sources`): as a story's copies'.
STORY_SOURCES = 50


def story_sources(engine: Engine, story_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    """Each story's named sources, as ``digestbot stories`` names them (its articles' and
    its copies', the one with most articles first), at most :data:`STORY_SOURCES` each."""
    ids = sorted(set(story_ids))
    out: dict[int, tuple[str, ...]] = {}
    with engine.connect() as conn:
        for start in range(0, len(ids), 500):  # under SQLite's bound-parameter limit
            counted = _sources(conn, ids[start : start + 500])
            out.update((k, tuple(c.sources[:STORY_SOURCES])) for k, c in counted.items())
    return out


def known_story(engine: Engine, story: int) -> bool:
    """Whether story ``story`` was ever made (live, or merged into another since)."""
    with engine.connect() as conn:
        return conn.scalar(select(stories.c.id).where(stories.c.id == story)) is not None


def _current_story(engine: Engine, story: int) -> int:
    """The live story ``story`` is now (following merges; a bounded walk)."""
    with engine.connect() as conn:
        for _ in range(64):
            merged = conn.scalar(select(stories.c.merged_into).where(stories.c.id == story))
            if merged is None:
                return story
            story = int(merged)
    return story
