"""Learned topics in the store: fitted models, reader corrections, re-tagging articles."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, func, insert, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from digests.errors import InputError
from digests.store._faults import first_line, store_error
from digests.store.schema import (
    article_tags,
    articles,
    as_utc,
    outbox,
    slack_bots,
    subscriptions,
    text_vectors,
    topic_feedback,
    topic_models,
)

FEEDBACK_KINDS = ("not", "more")
# A reader's word on an article and topic, and the row it follows (unique: migration 0021).
_WORD = ("article_id", "topic", "user_id", "workspace", "platform", "previous_id")
STORY_MAX = 12  # articles of a story one click corrects (compose's _MAX_SOURCES summarized)
PARTS_READ = 2000  # newest digest parts a click looks through for what it showed with the lead
# Newest digest parts a re-tag looks through for the recent articles no digest showed (see
# Topics.recent_undelivered): a week of a large bot's parts, read by key, never the outbox.
UNSHOWN_PARTS = 10_000
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredModel:
    """The topic model in use and what it was fitted on."""

    id: int
    fitted_at: datetime
    articles: int
    max_article_id: int
    topics_key: str
    feedback_id: int
    model: bytes


@dataclass(frozen=True, slots=True)
class Feedback:
    """One reader correction."""

    article_id: int
    topic: str
    kind: str  # not | more
    user_id: str
    workspace: str
    platform: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class FeedbackTrust:
    """Whose topic corrections change the shared tags and model: the one rule the click
    handlers, the digest renderers and the refit ask (:meth:`Topics.trust`).

    ``listed``: ``[topics] feedback_workspaces`` (None: not set). ``known``: the workspaces
    the deployment serves, as (platform, Slack team id or Discord guild id): its Slack
    installs, its subscriptions', those stored corrections came from, and any the caller
    knows (the workspace of a click). Not set, corrections count unless a platform serves
    several workspaces (OAuth installs in several Slack teams, a Discord bot in several
    servers): then none count, or one workspace's readers would change the tags every other
    workspace reads. One Slack workspace beside one Discord server is one team's bot.
    ``corrected``: the workspaces stored corrections came from (a part of ``known``)."""

    listed: frozenset[str] | None
    known: frozenset[tuple[str, str]]
    corrected: frozenset[tuple[str, str]] = frozenset()

    @property
    def several(self) -> bool:
        """Whether some platform serves more than one workspace."""
        platforms = [platform for platform, _ in self.known]
        return len(platforms) != len(set(platforms))

    def allows(self, workspace: str | None) -> bool:
        """Whether corrections from ``workspace`` count (None: a channel whose workspace is
        not recorded, a subscriptions.toml entry without ``team_id``: unless a platform serves
        several, it is the deployment's one, listed or not; a click on it is checked by the
        workspace it names)."""
        if self.listed is not None and workspace:
            return workspace in self.listed
        return not self.several

    @property
    def left_out(self) -> tuple[tuple[str, str], ...]:
        """The workspaces of stored corrections that do not count, sorted: what a fit leaves
        out (a changed list of them makes a refit due, :func:`digests.refit.fit_key`)."""
        return tuple(sorted(pair for pair in self.corrected if not self.allows(pair[1])))


class Topics:
    """Topic models, corrections and the learned tags of articles."""

    # [topics] feedback_workspaces (set by whoever opens the store; None: not set)
    feedback_workspaces: tuple[str, ...] | None = None

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- models ---------------------------------------------------------------------------

    def latest_model(self) -> StoredModel | None:
        """The newest fitted model, or None before the first fit."""
        query = select(topic_models).order_by(topic_models.c.id.desc()).limit(1)
        with self._engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        return StoredModel(
            id=int(row["id"]),
            fitted_at=row["fitted_at"],
            articles=int(row["articles"]),
            max_article_id=int(row["max_article_id"]),
            topics_key=str(row["topics_key"]),
            feedback_id=int(row["feedback_id"]),
            model=bytes(row["model"]),
        )

    def save_model(
        self,
        model: bytes,
        *,
        articles: int,
        max_article_id: int,
        topics_key: str,
        feedback_id: int,
        now: datetime,
        fence: Callable[[Connection], None] | None = None,
    ) -> None:
        """Keep a new fit (and only the previous one besides: models are megabytes).
        ``fence(conn)``: first, in the same transaction (a lease still held: store/locks.py)."""
        with self._engine.begin() as conn:
            if fence is not None:
                fence(conn)
            new_id = conn.execute(
                insert(topic_models).values(
                    fitted_at=now,
                    articles=articles,
                    max_article_id=max_article_id,
                    topics_key=topics_key,
                    feedback_id=feedback_id,
                    model=model,
                )
            ).inserted_primary_key
            assert new_id is not None
            conn.execute(delete(topic_models).where(topic_models.c.id < int(new_id[0]) - 1))

    # -- sentence vectors (a cache of digests.encode) ---------------------------------------

    def vectors(self, keys: Sequence[str]) -> dict[str, bytes]:
        """The kept vectors of ``keys`` (those not kept are missing); StoreError if unreadable."""
        out: dict[str, bytes] = {}
        try:
            with self._engine.connect() as conn:
                for start in range(0, len(keys), 500):
                    chunk = list(keys[start : start + 500])
                    query = select(text_vectors.c.key, text_vectors.c.vector).where(
                        text_vectors.c.key.in_(chunk)
                    )
                    out.update((str(k), bytes(v)) for k, v in conn.execute(query))
        except SQLAlchemyError as exc:
            raise store_error(f"could not read sentence vectors: {first_line(exc)}", exc) from exc
        return out

    def keep_vectors(self, new: Mapping[str, bytes], *, used: Iterable[str]) -> None:
        """Add ``new`` vectors and drop every kept one not in ``used`` (the table holds one
        fit's sample). Another replica fitting at the same moment may add some of the same
        keys first (the same vectors): the write is then redone once without them."""
        used = set(used) | set(new)
        for attempt in (1, 2):
            try:
                self._keep_vectors(new, used)
                return
            except IntegrityError:
                if attempt == 2:  # only costs the next refit the encoding
                    log.warning("sentence vectors not kept: another fit kept the same at once")
            except SQLAlchemyError as exc:
                raise store_error(
                    f"could not keep sentence vectors: {first_line(exc)}", exc
                ) from exc

    def _keep_vectors(self, new: Mapping[str, bytes], used: set[str]) -> None:
        with self._engine.begin() as conn:
            have = {str(k) for k in conn.scalars(select(text_vectors.c.key))}
            rows = [{"key": k, "vector": v} for k, v in new.items() if k not in have]
            for start in range(0, len(rows), 500):
                conn.execute(insert(text_vectors), rows[start : start + 500])
            stale = sorted(have - used)
            for start in range(0, len(stale), 500):
                conn.execute(
                    delete(text_vectors).where(text_vectors.c.key.in_(stale[start : start + 500]))
                )

    # -- corpus ---------------------------------------------------------------------------

    def corpus(
        self, *, limit: int, chars: int = 4000
    ) -> Iterator[tuple[int, str, str, str | None]]:
        """The newest ``limit`` articles as (id, text, locator, url), each body cut at ``chars``
        characters (a fit reads their ledes here, then its sample's texts with :meth:`texts`)."""
        body = func.substr(articles.c.body, 1, chars).label("body")
        query = (
            select(articles.c.id, articles.c.title, body, articles.c.locator, articles.c.url)
            .order_by(articles.c.id.desc())
            .limit(limit)
        )
        with self._engine.connect() as conn:
            for row in conn.execute(query):
                yield int(row.id), f"{row.title}\n{row.body}", row.locator, row.url

    def ids_after(self, watermark: int, *, limit: int) -> list[int]:
        """Ids of the articles stored after ``watermark`` (an article id), oldest first."""
        query = (
            select(articles.c.id)
            .where(articles.c.id > watermark)
            .order_by(articles.c.id)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [int(i) for i in conn.scalars(query)]

    def texts(self, ids: Sequence[int], *, chars: int | None = None) -> dict[int, str]:
        """Title and body of each article (each body's first ``chars`` characters if given)."""
        body = articles.c.body if chars is None else func.substr(articles.c.body, 1, chars)
        out: dict[int, str] = {}
        with self._engine.connect() as conn:
            for chunk in _chunks(list(ids), 500):
                query = select(articles.c.id, articles.c.title, body.label("body")).where(
                    articles.c.id.in_(chunk)
                )
                for row in conn.execute(query):
                    out[int(row.id)] = f"{row.title}\n{row.body}"
        return out

    def find(self, locators: Iterable[str]) -> dict[str, int]:
        """Stored articles by locator or URL (the newest of each)."""
        wanted = list(dict.fromkeys(locators))
        if not wanted:
            return {}
        out: dict[str, int] = {}
        query = select(articles.c.id, articles.c.locator, articles.c.url).where(
            or_(articles.c.locator.in_(wanted), articles.c.url.in_(wanted))
        )
        with self._engine.connect() as conn:
            for row in conn.execute(query.order_by(articles.c.id)):
                for key in (row.locator, row.url):
                    if key in wanted:
                        out[key] = int(row.id)
        return out

    def locators(self, ids: Sequence[int]) -> dict[int, str]:
        """Each article's locator (the file path or URL it was ingested from)."""
        out: dict[int, str] = {}
        with self._engine.connect() as conn:
            for chunk in _chunks(list(ids), 500):
                query = select(articles.c.id, articles.c.locator).where(articles.c.id.in_(chunk))
                out.update((int(i), str(loc)) for i, loc in conn.execute(query))
        return out

    # -- tags -----------------------------------------------------------------------------

    def retag(
        self,
        tags: Mapping[int, Sequence[tuple[str, float]]],
        *,
        learned: Sequence[str],
        refused: Collection[tuple[int, str]] = (),
        fence: Callable[[Connection], None] | None = None,
    ) -> None:
        """Replace each article's ``learned`` topic tags with ``tags`` (confidence order).
        ``fence(conn)``: first, in the same transaction (a refit's lease: store/locks.py).

        Tags of other names (a source's own tags) stay as they are. A tag its source declared
        (:meth:`declared`, read in this transaction) stays declared: with its strength in
        ``tags`` where they give it, else as it was, unless (article, tag) is ``refused`` (a
        reader said "Not #tag"). The caller's tags were worked out before: a tag a source
        declared meanwhile (a poll re-tagging after its tags changed) is not lost.
        """
        if not tags:
            return
        c = article_tags.c
        with self._engine.begin() as conn:
            if fence is not None:
                fence(conn)
            for chunk in _chunks(list(tags), 500):
                declared = {
                    (int(r.article_id), str(r.tag)): r
                    for r in conn.execute(
                        select(c.article_id, c.tag, c.weight, c.confidence, c.declared_by).where(
                            c.article_id.in_(chunk),
                            c.tag.in_(learned),
                            c.declared_by.is_not(None),
                        )
                    )
                }
                conn.execute(
                    delete(article_tags).where(and_(c.article_id.in_(chunk), c.tag.in_(learned)))
                )
                given = {(a, name) for a in chunk for name, _ in tags[a]}
                rows = [
                    {
                        "article_id": a,
                        "tag": name,
                        "weight": max(1, round(1000 * conf)),
                        "confidence": conf,
                        "declared_by": r.declared_by if (r := declared.get((a, name))) else None,
                    }
                    for a in chunk
                    for name, conf in tags[a]
                ]
                rows += [
                    {
                        "article_id": a,
                        "tag": name,
                        "weight": r.weight,
                        "confidence": r.confidence,
                        "declared_by": r.declared_by,
                    }
                    for (a, name), r in declared.items()
                    if (a, name) not in given and (a, name) not in refused
                ]
                if rows:
                    existing = {
                        (int(r.article_id), r.tag)
                        for r in conn.execute(
                            select(c.article_id, c.tag).where(c.article_id.in_(chunk))
                        )
                    }
                    rows = [r for r in rows if (r["article_id"], r["tag"]) not in existing]
                    if rows:
                        conn.execute(insert(article_tags), rows)

    def declared(self, ids: Sequence[int]) -> dict[int, dict[str, str]]:
        """The tags of ``ids`` their sources declared: article → {tag: the source's name}."""
        out: dict[int, dict[str, str]] = {}
        with self._engine.connect() as conn:
            for chunk in _chunks(list(ids), 500):
                query = select(
                    article_tags.c.article_id, article_tags.c.tag, article_tags.c.declared_by
                ).where(
                    article_tags.c.article_id.in_(chunk), article_tags.c.declared_by.is_not(None)
                )
                for a, tag, by in conn.execute(query):
                    out.setdefault(int(a), {})[str(tag)] = str(by)
        return out

    def declared_counts(self, tag: str) -> dict[str, int]:
        """How many articles carry ``tag`` because a source declared it, per source name."""
        query = (
            select(article_tags.c.declared_by, func.count())
            .where(article_tags.c.tag == tag, article_tags.c.declared_by.is_not(None))
            .group_by(article_tags.c.declared_by)
        )
        with self._engine.connect() as conn:
            return {str(by): int(n) for by, n in conn.execute(query)}

    def add_keyword_tags(self, tags: Mapping[int, Sequence[tuple[str, int]]]) -> None:
        """Give each article the keyword ``tags`` (name, weight) it does not carry yet."""
        with self._engine.begin() as conn:
            self._add_tags(conn, tags)

    @staticmethod
    def _add_tags(conn: Connection, tags: Mapping[int, Sequence[tuple[str, int]]]) -> int:
        added = 0
        for chunk in _chunks([a for a in tags if tags[a]], 500):
            existing = {
                (int(r.article_id), r.tag)
                for r in conn.execute(
                    select(article_tags.c.article_id, article_tags.c.tag).where(
                        article_tags.c.article_id.in_(chunk)
                    )
                )
            }
            rows = [
                {"article_id": a, "tag": name, "weight": weight}
                for a in chunk
                for name, weight in tags[a]
                if (a, name) not in existing
            ]
            if rows:
                conn.execute(insert(article_tags), rows)
                added += len(rows)
        return added

    def declare(
        self,
        ids: Sequence[int],
        source: str,
        tags: Sequence[str],
        *,
        removed: Sequence[str] = (),
        weight: int,
        refused: Collection[tuple[int, str]] = (),
    ) -> int:
        """Make ``tags`` what source ``source`` declares on ``ids``, in one transaction; how
        many rows changed. A tag it declared that is not in ``tags`` is taken off, and so is
        one of ``removed`` (tags it gave before) written before tags were declared (0020: no
        source, no confidence). Each of ``tags`` is declared by it — an article's row of
        that tag says so, else a new one of ``weight`` — except where (article, tag) is
        ``refused`` (a reader said "Not #tag"). What the text or the learned topics give
        instead of a tag taken off is the caller's re-tag."""
        changed = 0
        c = article_tags.c
        wanted = list(dict.fromkeys(tags))
        with self._engine.begin() as conn:
            for chunk in _chunks(list(ids), 500):
                gone = c.declared_by == source
                if wanted:
                    gone = and_(gone, c.tag.not_in(wanted))
                if removed:
                    legacy = and_(
                        c.tag.in_(list(removed)), c.declared_by.is_(None), c.confidence.is_(None)
                    )
                    gone = or_(gone, legacy)
                changed += conn.execute(
                    delete(article_tags).where(c.article_id.in_(chunk), gone)
                ).rowcount
                if not wanted:
                    continue
                existing = {
                    (int(r.article_id), str(r.tag)): r.declared_by
                    for r in conn.execute(
                        select(c.article_id, c.tag, c.declared_by).where(
                            c.article_id.in_(chunk), c.tag.in_(wanted)
                        )
                    )
                }
                rows = []
                for name in wanted:
                    mine = [a for a in chunk if (a, name) not in refused]
                    claim = [a for a in mine if (a, name) in existing and existing[a, name] is None]
                    if claim:
                        changed += conn.execute(
                            update(article_tags)
                            .where(c.article_id.in_(claim), c.tag == name)
                            .values(declared_by=source)
                        ).rowcount
                    rows += [
                        {"article_id": a, "tag": name, "weight": weight, "declared_by": source}
                        for a in mine
                        if (a, name) not in existing
                    ]
                if rows:
                    conn.execute(insert(article_tags), rows)
                    changed += len(rows)
        return changed

    def pinned(self, names: Sequence[str]) -> set[tuple[int, str]]:
        """The (article, tag) pairs of ``names`` at confidence 1.00 that no source declares:
        what an example or a reader's "More like this" gives."""
        c = article_tags.c
        query = select(c.article_id, c.tag).where(
            c.tag.in_(names), c.confidence >= 1.0, c.declared_by.is_(None)
        )
        with self._engine.connect() as conn:
            return {(int(a), str(t)) for a, t in conn.execute(query)}

    def confidences(self, article_id: int) -> list[tuple[str, float | None]]:
        """An article's tags with their confidence (None: not from the learned tagger)."""
        query = (
            select(article_tags.c.tag, article_tags.c.confidence)
            .where(article_tags.c.article_id == article_id)
            .order_by(article_tags.c.weight.desc(), article_tags.c.tag)
        )
        with self._engine.connect() as conn:
            return [(str(t), None if c is None else float(c)) for t, c in conn.execute(query)]

    def tagged(self, topic: str, *, limit: int) -> list[tuple[int, str, float | None]]:
        """The articles most confidently tagged ``topic``: (id, title, confidence)."""
        query = (
            select(articles.c.id, articles.c.title, article_tags.c.confidence)
            .join(article_tags, article_tags.c.article_id == articles.c.id)
            .where(article_tags.c.tag == topic)
            .order_by(article_tags.c.weight.desc(), articles.c.id.desc())
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [
                (int(r.id), str(r.title), None if r.confidence is None else float(r.confidence))
                for r in conn.execute(query)
            ]

    def recent_undelivered(self, since: datetime, *, limit: int) -> list[int]:
        """Articles ingested since ``since`` that no queued or sent digest part shows yet
        (the newest ``limit`` of the window, newest first).

        The outbox keeps months of parts ([digest] sent_kept_days), and its date is indexed
        only after the status (0025): the parts of the window were found by a pass over all of them (growing with the bot's age). Only
        the newest UNSHOWN_PARTS are looked at now, by key, and those of the window read. Past
        them, an article ingested before the newest part not looked at may be in it: it counts
        as shown (a re-tag leaves it as it is); those ingested since are decided exactly."""
        query = (
            select(articles.c.id, articles.c.ingested_at)
            .where(articles.c.ingested_at >= since)
            # By ix_articles_ingested_at, newest first: the work is the window's, not the
            # store's (ORDER BY id alone walked every article when the window was short).
            .order_by(articles.c.ingested_at.desc(), articles.c.id.desc())
            .limit(limit)
        )
        # The newest part not looked at: the key below which parts are left alone.
        floor = (
            select(outbox.c.id, outbox.c.created_at)
            .order_by(outbox.c.id.desc())
            .offset(UNSHOWN_PARTS)
            .limit(1)
        )
        with self._engine.connect() as conn:
            recent = [(int(i), as_utc(at)) for i, at in conn.execute(query)]
            below = conn.execute(floor).first()
            shown = select(outbox.c.article_ids).where(outbox.c.created_at >= since)
            if below is not None:
                shown = shown.where(outbox.c.id > below.id)
            delivered = {int(a) for row in conn.scalars(shown) for a in (row or ())}
        horizon = as_utc(below.created_at) if below is not None else None
        return [
            i
            for i, at in recent
            if i not in delivered and (horizon is None or at is None or at > horizon)
        ]

    # -- feedback -------------------------------------------------------------------------

    def add_story_feedback(
        self,
        article_id: int,
        topic: str,
        kind: str,
        *,
        user_id: str,
        workspace: str,
        platform: str,
        now: datetime,
    ) -> tuple[list[int], list[int]]:
        """Record a reader's correction of the story ``article_id`` leads in a digest (its
        button names the lead): one row per article of it the reader saw (:func:`story_shown`).
        Returns the articles corrected and those stored now (empty: this user's word on each
        of them already, a second click). InputError for an unknown kind or article."""
        _check_kind(kind)
        with self._engine.begin() as conn:
            if conn.scalar(select(articles.c.id).where(articles.c.id == article_id)) is None:
                raise InputError(f"no article {article_id}")
            covered = story_shown(conn, article_id, topic, kind)
            stored = [
                a
                for a in covered
                if _add_feedback(conn, a, topic, kind, user_id, workspace, platform, now)
            ]
        return covered, stored

    def feedback(self, *, topic: str | None = None, limit: int = 10_000) -> list[Feedback]:
        """Corrections, newest first (each article's latest word per topic is what counts)."""
        query = select(topic_feedback).order_by(topic_feedback.c.id.desc()).limit(limit)
        if topic is not None:
            query = query.where(topic_feedback.c.topic == topic)
        with self._engine.connect() as conn:
            return [
                Feedback(
                    article_id=int(r["article_id"]),
                    topic=str(r["topic"]),
                    kind=str(r["kind"]),
                    user_id=str(r["user_id"]),
                    workspace=str(r["workspace"]),
                    platform=str(r["platform"]),
                    created_at=r["created_at"],
                )
                for r in conn.execute(query).mappings()
            ]

    def trust(self, *, also: Iterable[tuple[str, str | None]] = ()) -> FeedbackTrust:
        """Whose corrections count now (:class:`FeedbackTrust`); ``also``: (platform,
        workspace) pairs the deployment serves that the store may not know yet."""
        with self._engine.connect() as conn:
            return self.trust_in(conn, also=also)

    def trust_in(
        self, conn: Connection, *, also: Iterable[tuple[str, str | None]] = ()
    ) -> FeedbackTrust:
        """:meth:`trust`, read on ``conn`` (a transaction under way: the article store's)."""
        known = {(platform, w) for platform, w in also if w}
        listed = self.feedback_workspaces
        deployment = (  # three small DISTINCTs: the deployment's workspaces
            select(literal("slack"), slack_bots.c.team_id),
            select(subscriptions.c.platform, subscriptions.c.team_id),
        )
        corrections = select(topic_feedback.c.platform, topic_feedback.c.workspace)
        rows = [conn.execute(q.distinct()).all() for q in (*deployment, corrections)]
        found = [{(str(platform), str(w)) for platform, w in part if w} for part in rows]
        known.update(*found)
        return FeedbackTrust(
            None if listed is None else frozenset(listed), frozenset(known), frozenset(found[-1])
        )

    def applied_feedback(self) -> list[Feedback]:
        """The corrections that count (:meth:`trust`), newest first: what a refit learns
        from. Those from other workspaces stay stored (``topics --explain`` lists them)."""
        trust = self.trust()
        return [f for f in self.feedback() if trust.allows(f.workspace)]

    def latest_feedback_id(self) -> int:
        """The id of the newest correction (0: none yet)."""
        with self._engine.connect() as conn:
            return int(conn.scalar(select(func.max(topic_feedback.c.id))) or 0)


def _check_kind(kind: str) -> None:
    if kind not in FEEDBACK_KINDS:
        raise InputError(f"feedback kind must be one of {', '.join(FEEDBACK_KINDS)}, got {kind!r}")


def _add_feedback(
    conn: Connection,
    article_id: int,
    topic: str,
    kind: str,
    user_id: str,
    workspace: str,
    platform: str,
    now: datetime,
) -> bool:
    """Store one article's correction unless this user's newest word on it is the same.

    Insert-or-nothing on (the reader's word, the row it follows): another replica storing
    the same click at once stores it first and this one nothing. One that stored another
    word first (the other button) is read again: this word follows it."""
    topic, user_id, workspace, platform = topic[:64], user_id[:64], workspace[:64], platform[:16]
    fb = topic_feedback.c
    mine = and_(
        fb.article_id == article_id,
        fb.topic == topic,
        fb.user_id == user_id,
        fb.workspace == workspace,
        fb.platform == platform,
    )
    upsert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    for _ in range(3):
        newest = conn.execute(
            select(fb.id, fb.kind).where(mine).order_by(fb.id.desc()).limit(1)
        ).first()
        if newest is not None and newest.kind == kind:
            return False
        stmt = (
            upsert(topic_feedback)
            .values(
                article_id=article_id,
                topic=topic,
                kind=kind,
                user_id=user_id,
                workspace=workspace,
                platform=platform,
                created_at=now,
                previous_id=0 if newest is None else int(newest.id),
            )
            .on_conflict_do_nothing(index_elements=[*_WORD])
            .returning(fb.id)
        )
        if conn.execute(stmt).first() is not None:  # (rowcount is not the rows written)
            return True
    return False


def story_shown(conn: Connection, article_id: int, topic: str, kind: str) -> list[int]:
    """The articles a click on the story led by ``article_id`` corrects, the lead first: the
    other articles of its story a digest showed with it (in an outbox part that carries the
    lead: a click comes from a posted digest, and parts are kept sent_kept_days; none, the
    lead alone), for
    "not" only those that carry ``topic`` now, at most STORY_MAX (the lead and the newest
    others).

    Bounded because each becomes a labelled example of the next fit: one click on a story
    of 80 reports must not outweigh the rest of a topic's corrections and examples; a digest
    summarizes at most STORY_MAX of a story's articles (digests/compose.py), what the reader
    judged. Articles the story gains later, or from a story merged into it, are not covered:
    the reader never saw them, and the model, which learns from the click, tags them."""
    lead = conn.execute(
        select(articles.c.story_id, articles.c.ingested_at).where(articles.c.id == article_id)
    ).first()
    if lead is None or lead.story_id is None:
        return [article_id]
    mates = select(articles.c.id).where(
        articles.c.story_id == lead.story_id, articles.c.id != article_id
    )
    if kind == "not":
        mates = mates.where(
            articles.c.id.in_(select(article_tags.c.article_id).where(article_tags.c.tag == topic))
        )
    others = {int(i) for i in conn.scalars(mates)}
    if not others:
        return [article_id]
    shown: set[int] = set()
    # The newest parts first, by key, and only so many: the outbox keeps months of parts
    # ([digest] sent_kept_days), so an unbounded read would grow with the bot's age and traffic. A click on a
    # digest older than that corrects its lead alone.
    parts = (
        select(outbox.c.article_ids)
        .where(outbox.c.created_at >= lead.ingested_at)
        .order_by(outbox.c.id.desc())
        .limit(PARTS_READ)
    )
    for ids in conn.scalars(parts):
        if ids and article_id in ids:
            shown.update(int(i) for i in ids)
    others &= shown
    return [article_id, *sorted(others, reverse=True)[: STORY_MAX - 1]]


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
