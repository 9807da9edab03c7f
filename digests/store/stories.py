"""Story assignment in the database, in the transaction that stores the articles.

Each new article looks up candidate stories in ``story_terms`` (a story's strongest terms,
each with the story's last date): one indexed query for its few strongest terms, limited to
stories seen within the window, never a pass over all stories. The decisions
(join / start / merge) are digests/stories.py's. It runs inside ``add_chunk``'s transaction,
after the articles are inserted: on PostgreSQL that transaction holds the id-order advisory
lock (digests/store/article_writes.py), so assignments by replicas ingesting at once are serialized
and two articles of one event never start two stories side by side; SQLite has one writer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    String,
    Text,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression

from digests import stories as model
from digests.store._prepared import Prepared, read_datetime
from digests.store.schema import articles, as_utc, stories, story_posts, story_terms

_CANDIDATES = 20  # stories compared per article, the most index hits first
_PER_TERM = 200  # index rows read per query term on each side of the article's date


@dataclass(frozen=True, slots=True)
class NewArticle:
    """What assignment needs of a stored article."""

    id: int
    title: str
    profile: Mapping[str, float]
    when: datetime  # published, else stored
    dated: bool = True  # False: ``when`` is only when it was stored
    # Which of the profile's terms are names (digests/stories.py: terms); none known: every
    # shared term counts towards a join.
    names: frozenset[str] = frozenset()


@dataclass(slots=True)
class _Story:
    id: int
    profile: dict[str, float]
    norm: float  # the profile's (compared with article after article: worth keeping)
    first: datetime
    last: datetime
    count: int

    def absorb(self, profile: Mapping[str, float]) -> None:
        """Add an article's or another story's profile to this one's."""
        self.profile = model.combine(self.profile, profile)
        self.norm = model.norm(self.profile)


def assign(
    conn: Connection, new: Sequence[NewArticle], *, window: timedelta, now: datetime
) -> dict[int, int]:
    """Put each article in a story (joining, starting or merging); article id → story id."""
    out: dict[int, int] = {}
    latest = _latest(conn)
    for article in new:
        behind = latest is not None and article.when < latest
        out[article.id] = _assign_one(conn, article, window, now, out, behind=behind)
        latest = article.when if latest is None else max(latest, article.when)
    if not out:
        return out
    # One statement for the chunk (a merge on the way renumbered ``out`` in place).
    if conn.dialect.name == "postgresql":
        conn.execute(_SET_STORY_ARRAYS, {"articles": list(out), "stories": list(out.values())})
    else:
        _SET_STORY.execute(conn, [{"b_article": a, "b_story": s} for a, s in out.items()])
    return out


def _assign_one(
    conn: Connection,
    article: NewArticle,
    window: timedelta,
    now: datetime,
    assigned: dict[int, int],
    *,
    behind: bool,
) -> int:
    vector = dict(article.profile)
    length = model.norm(vector)
    scored = []  # the stories it is alike enough to join, most alike first
    for story, near in _candidates(conn, article, window, behind=behind):
        sim = model.similarity(vector, story.profile, norms=(length, story.norm))
        if not sim:
            continue
        names_only = model.on_names(vector, article.names, story.profile)
        if sim >= model.join_threshold(
            dated=article.dated, within_window=near, names_only=names_only, terms=len(vector)
        ):
            scored.append((sim, story))
    scored.sort(key=lambda pair: (-pair[0], pair[1].id))
    if scored:
        story = scored[0][1]
        story.absorb(vector)
        story.first, story.last = min(story.first, article.when), max(story.last, article.when)
        story.count += 1
        for _, other in scored[1:]:
            if (
                model.similarity(story.profile, other.profile, norms=(story.norm, other.norm))
                >= model.MERGE
            ):
                story = _merge(conn, story, other, assigned)
        _save(conn, story)
    else:
        story = _start(conn, article, vector, now)
    return story.id


def _latest(conn: Connection) -> datetime | None:
    """When the most recently seen story was last seen (None: no story yet)."""
    value = conn.execute(select(func.max(stories.c.last_seen))).scalar()
    return None if value is None else as_utc(read_datetime(value))


def _candidates(
    conn: Connection, article: NewArticle, window: timedelta, *, behind: bool
) -> list[tuple[_Story, bool]]:
    """Stories dated within :data:`model.FOLLOW_UP` of the article (or the window, if
    longer), each with whether it is within the window itself. ``behind``: some story was
    last seen after the article's date (see :func:`_candidates_query`)."""
    terms = model.query_terms(article.profile)
    if not terms:
        return []
    reach = max(window, model.FOLLOW_UP) if article.dated else window
    slots = {f"t{i}": terms[i] if i < len(terms) else "" for i in range(model.QUERY_TERMS)}
    out = []
    query, bounds = _CANDIDATES_QUERY, {"since": article.when - reach}
    if behind:
        query, bounds = _CANDIDATES_AROUND, {**bounds, "at": article.when}
    for r in query.execute(conn, {**slots, **bounds}).all():
        first, last = as_utc(read_datetime(r.first_seen)), as_utc(read_datetime(r.last_seen))
        assert first is not None and last is not None
        if first - reach <= article.when <= last + reach:
            near = first - window <= article.when <= last + window
            profile, length = _decoded(int(r.id), r.profile)
            story = _Story(int(r.id), profile, length, first, last, int(r.article_count))
            out.append((story, near))
    return out


# story id → (its JSON, decoded, its norm)
_DECODED: dict[int, tuple[str, dict[str, float], float]] = {}
_DECODED_MAX = 4096


def _decoded(story_id: int, raw: str) -> tuple[dict[str, float], float]:
    """A story profile from its stored JSON text, and its norm, computed once while the text
    is unchanged.

    The same busy stories are candidates of article after article, and decoding their
    profiles was a third of finding candidates. Keyed by id, checked against the text:
    a profile another writer (or replica) changed is decoded again.
    """
    known = _DECODED.get(story_id)
    if known is not None and known[0] == raw:
        return known[1], known[2]  # shared: a profile is replaced, never changed in place
    profile: dict[str, float] = json.loads(raw)
    if len(_DECODED) >= _DECODED_MAX:
        _DECODED.clear()  # simple and bounded; refilled by the next busy stories
    length = model.norm(profile)
    _DECODED[story_id] = (raw, profile, length)
    return profile, length


def _candidates_query(*, around: bool) -> Select[tuple[int, str, datetime, datetime, int]]:
    """The :data:`_CANDIDATES` stories with the most index hits among up to
    :data:`model.QUERY_TERMS` terms (bound ``t0``…; an unused slot is bound to "", which no
    term is), with their profiles: one round trip per article.

    Per term, only the ``_PER_TERM`` stories last seen most recently since ``since``: a common
    word indexed by thousands of stories costs that many index steps, whatever the store's
    size. That is right for an article dated after every story (live ingest), not for one
    dated before the newest (an archive ingested after months of news): the newest stories
    sharing its words can all be out of its reach, and it found none of its own time. With
    ``around``, the stories last seen nearest its date (``at``) on each side: before it
    (newest first) and at or after it (oldest first), ``_PER_TERM`` each.

    Built once: building it per article (15 subqueries) was most of an ingest's assignment
    time.
    """
    seen = story_terms.c.last_seen
    since = bindparam("since", type_=seen.type)
    sides: tuple[tuple[tuple[ColumnElement[bool], ...], UnaryExpression[datetime]], ...] = (
        ((seen >= since,), seen.desc()),
    )
    if around:
        at = bindparam("at", type_=seen.type)
        sides = (((seen >= since, seen < at), seen.desc()), ((seen >= at,), seen.asc()))
    per_term = [
        select(story_terms.c.story_id)
        .where(story_terms.c.term == bindparam(f"t{i}", type_=String), *where)
        .order_by(order)
        .limit(_PER_TERM)
        .subquery()
        .select()
        for i in range(model.QUERY_TERMS)
        for where, order in sides
    ]
    found = union_all(*per_term).subquery()
    hits = (
        select(found.c.story_id)
        .group_by(found.c.story_id)
        .order_by(func.count().desc(), found.c.story_id)
        .limit(_CANDIDATES)
        .subquery()
    )
    return (
        select(
            stories.c.id,
            cast(stories.c.profile, Text).label("profile"),  # as text: see _decoded()
            stories.c.first_seen,
            stories.c.last_seen,
            stories.c.article_count,
        )
        .join_from(stories, hits, stories.c.id == hits.c.story_id)
        .where(stories.c.merged_into.is_(None))
    )


_CANDIDATES_QUERY = Prepared(_candidates_query(around=False))
_CANDIDATES_AROUND = Prepared(_candidates_query(around=True))


def _start(
    conn: Connection, article: NewArticle, vector: dict[str, float], now: datetime
) -> _Story:
    story_id = _START.execute(
        conn,
        {
            "headline": article.title,
            "first_seen": article.when,
            "last_seen": article.when,
            "article_count": 1,
            "profile": vector,
            "created_at": now,
        },
    ).scalar()
    assert story_id is not None
    story = _Story(int(story_id), vector, model.norm(vector), article.when, article.when, 1)
    _index(conn, story)
    return story


def _merge(conn: Connection, a: _Story, b: _Story, assigned: dict[int, int]) -> _Story:
    """One story of two: the older id stays, the younger points at it (in the store, and in
    ``assigned``: this chunk's articles, whose story ids are written at its end)."""
    keep, gone = (a, b) if a.id < b.id else (b, a)
    keep.absorb(gone.profile)
    keep.first, keep.last = min(keep.first, gone.first), max(keep.last, gone.last)
    keep.count += gone.count
    conn.execute(update(articles).where(articles.c.story_id == gone.id).values(story_id=keep.id))
    for article_id, story_id in assigned.items():
        if story_id == gone.id:
            assigned[article_id] = keep.id
    # Stories merged into ``gone`` before now point at ``keep`` (ix_stories_merged_into, 0013:
    # without it, a pass over every story per merge; docs/lab/stories.md, "PostgreSQL at 1M").
    conn.execute(
        update(stories).where(stories.c.merged_into == gone.id).values(merged_into=keep.id)
    )
    conn.execute(
        update(stories)
        .where(stories.c.id == gone.id)
        .values(merged_into=keep.id, article_count=0, profile={})
    )
    conn.execute(delete(story_terms).where(story_terms.c.story_id == gone.id))
    _carry_posts(conn, gone.id, keep.id)
    return keep


def _carry_posts(conn: Connection, gone: int, keep: int) -> None:
    """What each subscription was shown of ``gone`` is now what it was shown of ``keep``: the
    merged story's next update quotes neither story's posted sentences again, and replies to
    ``keep``'s message where both were posted to one channel. One row a subscription."""
    c = story_posts.c
    # Locked (PostgreSQL): a delivery updating one of them meanwhile commits first, and the
    # version carried is then its own (read before that, the delete below would lose it).
    moved = (
        conn.execute(select(story_posts).where(c.story_id == gone).with_for_update())
        .mappings()
        .all()
    )
    for r in moved:
        held = (c.subscription == r["subscription"]) & (c.story_id == keep)
        locked = select(story_posts).where(held).with_for_update()  # (a delivery's update)
        kept = conn.execute(locked).mappings().first()
        if kept is None and _inserted(conn, {**r, "story_id": keep}):
            continue
        # (a delivery that showed ``keep`` first committed its row meanwhile: joined)
        kept = kept or conn.execute(locked).mappings().one()
        conn.execute(
            update(story_posts)
            .where(held)
            .values(
                sentences=[*r["sentences"], *kept["sentences"]][-_POSTED_SENTENCES:],
                messages={**r["messages"], **kept["messages"]},
                posted_at=max(r["posted_at"], kept["posted_at"]),  # both as the database reads them
            )
        )
    if moved:
        conn.execute(delete(story_posts).where(c.story_id == gone))


def _save(conn: Connection, story: _Story) -> None:
    _SAVE.execute(
        conn,
        {
            "b_id": story.id,
            "profile": story.profile,
            "first_seen": story.first,
            "last_seen": story.last,
            "article_count": story.count,
        },
    )
    _UNINDEX.execute(conn, {"b_id": story.id})
    _index(conn, story)


def _index(conn: Connection, story: _Story) -> None:
    terms = model.index_terms(story.profile)
    if not terms:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(_INDEX_ARRAY, {"terms": terms, "story": story.id, "last": story.last})
    else:  # SQLite runs an executemany as one prepared statement, in process
        rows = [{"term": t, "story_id": story.id, "last_seen": story.last} for t in terms]
        _INDEX.execute(conn, rows)


# Statements built once and run on the driver (digests/store/_prepared.py): building them per
# article, then SQLAlchemy's work per execution, were most of what story assignment cost an
# ingest (docs/BENCHMARKS.md).
_START_COLUMNS = ("headline", "first_seen", "last_seen", "article_count", "profile", "created_at")
_SAVE_COLUMNS = ("profile", "first_seen", "last_seen", "article_count")
_START = Prepared(
    insert(stories).values({c: bindparam(c) for c in _START_COLUMNS}).returning(stories.c.id)
)
_SAVE = Prepared(
    update(stories)
    .where(stories.c.id == bindparam("b_id"))
    .values({c: bindparam(c) for c in _SAVE_COLUMNS})
)
_SET_STORY = Prepared(
    update(articles)
    .where(articles.c.id == bindparam("b_article"))
    .values(story_id=bindparam("b_story"))
)
_UNINDEX = Prepared(delete(story_terms).where(story_terms.c.story_id == bindparam("b_id")))
_INDEX = Prepared(insert(story_terms))
# PostgreSQL: from arrays, one statement each (an executemany is a round trip per row, as
# for sentences and tags in digests/store/article_writes.py).
_INDEX_ARRAY = text(
    "INSERT INTO story_terms (term, story_id, last_seen) "
    "SELECT t, :story, :last FROM unnest(CAST(:terms AS varchar[])) AS t"
)
_SET_STORY_ARRAYS = text(
    "UPDATE articles SET story_id = v.story "
    "FROM unnest(CAST(:articles AS bigint[]), CAST(:stories AS bigint[])) AS v(article, story) "
    "WHERE articles.id = v.article"
)


def forget(conn: Connection, article_ids: Sequence[int]) -> None:
    """Articles about to be deleted (a changed file re-ingested): their stories count one less."""
    if not article_ids:
        return
    owned = select(articles.c.story_id, func.count()).where(
        articles.c.id.in_(list(article_ids)), articles.c.story_id.is_not(None)
    )
    for story_id, n in conn.execute(owned.group_by(articles.c.story_id)).all():
        conn.execute(
            update(stories)
            .where(stories.c.id == story_id)
            .values(
                article_count=case(
                    (stories.c.article_count > n, stories.c.article_count - n), else_=0
                )
            )
        )


# -- what a subscription was shown (developing stories) ---------------------------------------


@dataclass(frozen=True, slots=True)
class Posted:
    """A story as a subscription saw it: every sentence quoted, and where it was posted."""

    sentences: tuple[str, ...]
    messages: Mapping[str, int]  # "platform channel" → the outbox row that showed it


def destination(platform: str, channel: str) -> str:
    """The key of a destination in :attr:`Posted.messages`."""
    return f"{platform} {channel}"


def posted(engine: Engine, subscription: str, story_ids: Iterable[int]) -> dict[int, Posted]:
    """What ``subscription`` was already shown of these stories, each under the id asked for.

    A story merged away is the story it was merged into (``stories.merged_into``, kept
    pointing at the one that lives), and what was recorded under either id counts for both:
    a delivery that composed just before a merge committed records what it showed under the
    id merged away (:func:`record_posts` resolves it, but on PostgreSQL the merge may commit
    after that read and before the delivery's commit, past :func:`_carry_posts`)."""
    ids = sorted(set(story_ids))
    out: dict[int, Posted] = {}
    with engine.connect() as conn:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            kept = _kept(conn, chunk)  # asked → the story that lives
            alive = sorted(set(kept.values()))
            members = {k: k for k in alive}  # a row's story → the living story it counts for
            merged = select(stories.c.id, stories.c.merged_into).where(
                stories.c.merged_into.in_(alive)
            )
            members.update((int(g), int(k)) for g, k in conn.execute(merged))
            rows = conn.execute(
                select(story_posts)
                .where(
                    story_posts.c.subscription == subscription,
                    story_posts.c.story_id.in_(sorted(members)),
                )
                .order_by(story_posts.c.posted_at, story_posts.c.story_id)
            ).mappings()
            found: dict[int, Posted] = {}
            for r in rows:  # oldest first: the living story's own message wins a channel
                own, living = int(r["story_id"]), members[int(r["story_id"])]
                before = found.get(living, Posted((), {}))
                messages = (
                    {**before.messages, **r["messages"]}
                    if own == living
                    else {**r["messages"], **before.messages}
                )
                found[living] = Posted((*before.sentences, *r["sentences"]), messages)
            out.update((a, found[k]) for a, k in kept.items() if k in found)
    return out


def _kept(conn: Connection, ids: Sequence[int]) -> dict[int, int]:
    """Each story id → the story that lives for it (itself, or the one it was merged into)."""
    merged = select(stories.c.id, stories.c.merged_into).where(
        stories.c.id.in_(list(ids)), stories.c.merged_into.is_not(None)
    )
    into = {int(g): int(k) for g, k in conn.execute(merged)}
    return {i: into.get(i, i) for i in ids}


def record_posts(
    conn: Connection,
    subscription: str,
    shown: Mapping[int, tuple[Sequence[str], Mapping[str, int]]],
    *,
    now: datetime,
) -> None:
    """Remember, in the run's transaction, the sentences and messages each story was shown
    with (added to what was shown before: the next update quotes only what is new)."""
    while shown:  # again for what a merge committed meanwhile changed (PostgreSQL)
        shown = _record(conn, subscription, shown, now=now)


def _record(
    conn: Connection,
    subscription: str,
    shown: Mapping[int, tuple[Sequence[str], Mapping[str, int]]],
    *,
    now: datetime,
) -> dict[int, tuple[Sequence[str], Mapping[str, int]]]:
    """:func:`record_posts` once; what it could not record, to be recorded again: all of
    ``shown`` when a merge of one of them committed while their rows were locked (PostgreSQL:
    the merge's _carry_posts held them, and deleted the one merged away), else the stories
    whose new row a merge's carry inserted meanwhile (now an update of it)."""
    if not shown:
        return {}
    # Composed before a merge committed: what it showed of the story merged away is the
    # kept story's (one entry a story: their sentences and messages together).
    kept = _kept(conn, sorted(shown))
    together: dict[int, tuple[list[str], dict[str, int]]] = {}
    for story_id, (sentences, messages) in shown.items():
        into = together.setdefault(kept[story_id], ([], {}))
        into[0].extend(sentences)
        into[1].update(messages)
    before = {
        int(r["story_id"]): r
        for r in conn.execute(
            select(story_posts)
            .where(
                story_posts.c.subscription == subscription,
                story_posts.c.story_id.in_(list(together)),
            )
            # A merge's carry into one of them waits, or is waited for; locked as a merge
            # locks them (the one merged away, the younger, first): no deadlock between them.
            .order_by(story_posts.c.story_id.desc())
            .with_for_update()
        ).mappings()
    }
    if _kept(conn, sorted(shown)) != kept:  # a merge committed while these waited: again
        return dict(shown)
    carried: dict[int, tuple[Sequence[str], Mapping[str, int]]] = {}
    for story_id, (sentences, messages) in together.items():
        old = before.get(story_id)
        if old is None:
            row = {
                "subscription": subscription,
                "story_id": story_id,
                "sentences": list(sentences)[-_POSTED_SENTENCES:],
                "messages": dict(messages),
                "posted_at": now,
            }
            if not _inserted(conn, row):  # a merge's carry committed one meanwhile: joined
                carried[story_id] = (sentences, messages)
            continue
        conn.execute(
            update(story_posts)
            .where(story_posts.c.subscription == subscription, story_posts.c.story_id == story_id)
            .values(
                sentences=[*old["sentences"], *sentences][-_POSTED_SENTENCES:],
                messages={**old["messages"], **messages},
                posted_at=now,
            )
        )
    return carried


def _inserted(conn: Connection, row: Mapping[str, object]) -> bool:
    """Insert a story_posts row unless the (subscription, story) has one; whether it did. On
    PostgreSQL a row another transaction is inserting is waited for: once it commits, this
    inserts nothing (no unique violation failing a delivery's run or an ingest chunk)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(story_posts)
        .values(dict(row))
        .on_conflict_do_nothing(index_elements=[story_posts.c.subscription, story_posts.c.story_id])
        .returning(story_posts.c.story_id)  # (the driver's rowcount of an INSERT is not kept)
    )
    return conn.execute(statement).first() is not None


_POSTED_SENTENCES = 200  # a long-running story remembers its latest sentences
