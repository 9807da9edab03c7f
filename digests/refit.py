"""Refit stage: keep the learned topics (digests/learn/) current as the store grows.

:func:`refresh` is the one entry point. After an ingest it tags the new articles with the
model in use; when enough is new (a tenth more articles, at least ``MIN_NEW``), when the
topic configuration changed, when readers sent corrections, or when whose corrections count
changed (``[topics] feedback_workspaces``, a platform serving a second workspace), it first fits a new model on
the newest ``MAX_ARTICLES`` stored articles and re-tags every article of the last week that
no digest has shown yet, and every article a reader corrected (shown or not: a correction
comes from a posted digest). Until the store holds enough articles to learn from, tags stay
the keyword matches of :mod:`digests.tag` (a topic added meanwhile tags those articles too),
with the readers' corrections applied to them. topics.toml's ``examples`` and ``exclude``
count as corrections where no reader said otherwise. No re-tag takes off a tag an article's
source declares (its ``tags``), unless a reader said "Not #topic" of that article (or
topics.toml excludes it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from digests import encode, learn
from digests.config import Topic
from digests.errors import DigestError, InputError, LeaseLost
from digests.store import Store
from digests.store.topics import Feedback, StoredModel
from digests.tag import topic_pattern, topic_weights

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from digests.store.locks import Lease

log = logging.getLogger(__name__)

MIN_NEW = 50  # new articles that make a refit worth its cost (and a tenth of the corpus)
MAX_ARTICLES = 100_000  # newest articles a fit learns from: bounds its time and memory
RETAG_WINDOW = timedelta(days=7)
RETAG_LIMIT = 50_000
_EXAMPLE_BYTES = 1_000_000
FIT_LOCK = "topic-fit"  # the lease of the one process fitting (Store.exclusive)


@dataclass(frozen=True, slots=True)
class RefitReport:
    """What a refresh did."""

    fitted: bool
    articles: int  # corpus size of the model in use (0: none)
    tagged: int  # articles whose learned tags were written
    seconds: float = 0.0
    named_only: tuple[str, ...] = ()  # topics learned only from the articles naming them
    busy: bool = False  # a fit was due, and another process is running it
    unstored: tuple[str, ...] = ()  # example / exclude URLs of no stored article: left out

    def line(self) -> str:
        if self.busy:
            meanwhile = (
                f"{_articles(self.tagged)} tagged by the topic model in use"
                if self.articles
                else "tags are keyword matches until it is done"
            )
            return f"a topic fit is already running in another process; going on ({meanwhile})"
        if self.fitted:
            unclear = (
                f"; learned only from the articles naming them: {', '.join(self.named_only)}"
                if self.named_only
                else ""
            )
            if self.unstored:  # (a path with no file is a config warning already)
                unclear += f"; left out, no stored article at: {', '.join(self.unstored)}"
            return (
                f"topics refitted on {_articles(self.articles)} in {self.seconds:.1f} s, "
                f"{_articles(self.tagged)} re-tagged{unclear}"
            )
        return f"{_articles(self.tagged)} tagged by the topic model"


def _articles(n: int) -> str:
    return f"{n} article{'' if n == 1 else 's'}"


def topics_key(topics: Sequence[Topic]) -> str:
    """A fingerprint of the topic configuration: a changed one means a refit."""
    data = [[t.name, list(t.aliases), list(t.examples), list(t.exclude)] for t in topics]
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()[:64]


_TOPICS_PART = 48  # of a fit's key (64 characters, the column's): its topics' key, then trust


def fit_key(store: Store, topics: Sequence[Topic]) -> str:
    """What a fit learns from, kept with its model (``topic_models.topics_key``): the topic
    configuration (:func:`topics_key`) and the workspaces whose stored corrections do not
    count (``FeedbackTrust.left_out``), so that a change of either makes a refit due. With
    none left out it is the topics' key alone, as before there was a trust rule (a model
    fitted then stays in use); else the first 48 characters of it and 16 of the others'."""
    key = topics_key(topics)
    left_out = store.topics.trust().left_out
    if not left_out:
        return key
    trust = hashlib.sha256(json.dumps(left_out).encode()).hexdigest()
    return key[:_TOPICS_PART] + trust[: len(key) - _TOPICS_PART]


def _learned(stored: StoredModel | None, topics: Sequence[Topic]) -> bool:
    """Whether ``stored`` is a model of ``topics`` (whoever's corrections it applied): one
    the tags of new articles come from until the next refit."""
    return stored is not None and (
        stored.topics_key[:_TOPICS_PART] == topics_key(topics)[:_TOPICS_PART]
    )


def refresh(
    store: Store,
    topics: Sequence[Topic],
    *,
    now: datetime,
    added: Sequence[int] = (),
    force: bool = False,
) -> RefitReport:
    """Refit if due (see the module docstring), then tag ``added`` with the model in use.

    One process fits at a time (the lease :data:`FIT_LOCK`, renewed on the clock of ``now``
    moved on as the fit runs): another that finds a fit due meanwhile does not fit too
    (minutes of work, and the same model written twice), it tags ``added`` with the model in
    use and says so (``busy``); the fit under way re-tags what was stored meanwhile and not
    yet shown. A fit whose lease ran out before it was done (a stalled process, the
    database out of reach for minutes) writes nothing more: LeaseLost."""
    if not topics:
        return RefitReport(False, 0, 0)
    stored = store.topics.latest_model()
    busy = False
    if _due(store, stored, topics, force=force):
        with store.exclusive(FIT_LOCK, clock=_moving(now)) as lease:
            busy = lease is None
            # Looked at again once held: a fit another process just finished is not run twice.
            stored = store.topics.latest_model() if lease else stored
            if lease is not None and _due(store, stored, topics, force=force):
                report = _refit(store, topics, now=now, added=added, lease=lease)
                if report is not None:
                    return report
                stored = store.topics.latest_model()
    if stored is None or not _learned(stored, topics) or not added:
        return RefitReport(False, 0 if stored is None else stored.articles, 0, busy=busy)
    model = learn.TopicModel.from_bytes(stored.model)
    tagged = retag(store, model, list(added), topics)
    return RefitReport(False, model.articles, tagged, busy=busy)


def _moving(now: datetime) -> Callable[[], datetime]:
    """A clock that reads ``now`` (the caller's time) moved on by the time since: a lease's."""
    started = time.monotonic()
    return lambda: now + timedelta(seconds=time.monotonic() - started)


def _due(store: Store, stored: StoredModel | None, topics: Sequence[Topic], *, force: bool) -> bool:
    """Whether a refit is due: asked for, no model of these topics, enough new articles since
    the model in use (``stored``), corrections it has not learned from, or a change of whose
    corrections count (:func:`fit_key`)."""
    if force or stored is None or not _learned(stored, topics):
        return True
    new = store.articles.latest_id() - stored.max_article_id
    return (
        new >= max(MIN_NEW, stored.articles // 10)
        or store.topics.latest_feedback_id() > stored.feedback_id
        or stored.topics_key != fit_key(store, topics)
    )


def _refit(
    store: Store, topics: Sequence[Topic], *, now: datetime, added: Sequence[int], lease: Lease
) -> RefitReport | None:
    """Fit and re-tag (the lease held); None when there is too little to learn from."""
    started = time.monotonic()
    tagged = 0

    def retag_all(model: learn.TopicModel) -> None:
        nonlocal tagged
        ids = set(store.topics.recent_undelivered(now - RETAG_WINDOW, limit=RETAG_LIMIT))
        ids.update(added)
        # A correction is clicked on a posted digest: its story is no longer "undelivered";
        # an example or excluded article of topics.toml may be of any age, and so may one
        # taken out of `examples` since (its 1.00 given by nothing now).
        steering = _steering(store, topics)
        ids.update(article_id for article_id, _ in steering)
        names = sorted(t.name for t in topics)
        ids.update(a for a, t in store.topics.pinned(names) if steering.get((a, t)) != "more")
        ids.update(_unapplied(store))
        tagged = retag(store, model, sorted(ids), topics, fence=lease.fence)

    # The re-tag runs before the model is kept, each chunk's write and then the model's behind
    # the lease's fence: a fit that loses its lease meanwhile keeps no model, so the fit is
    # still due and the next holder fits and re-tags it all (kept first, the next holder
    # found none due and the rest of the re-tag waited for the next refit).
    model = fit_store(store, topics, now=now, fence=lease.fence, before_save=retag_all)
    if model is not None:
        urls = [loc for t in topics for loc in (*t.examples, *t.exclude) if "://" in loc]
        found = store.topics.find(urls)
        return RefitReport(
            True,
            model.articles,
            tagged,
            time.monotonic() - started,
            model.named_only,
            unstored=tuple(dict.fromkeys(u for u in urls if u not in found)),
        )
    stored = store.topics.latest_model()
    if not _learned(stored, topics):
        # Too few articles to learn from: tags are keyword matches, made at ingest. A
        # topic added (or an alias) since then still tags what is stored and not shown
        # (also where a model of other topics was fitted on a store now too small for
        # these: `learn.min_articles` grows with the topics).
        unshown = store.topics.recent_undelivered(now - RETAG_WINDOW, limit=RETAG_LIMIT)
        keyword_retag(store, sorted({*unshown, *_unapplied(store)}), topics)
        keyword_corrections(store, topics)
    return None


def refresh_after(
    store: Store, topics: Sequence[Topic], *, now: datetime, watermark: int | None
) -> tuple[RefitReport, int]:
    """:func:`refresh` for a long-running process (``serve``): the articles stored after
    ``watermark`` (None: after the model in use was fitted) are the new ones; returns the
    report and the next watermark."""
    if watermark is None:
        stored = store.topics.latest_model()
        watermark = stored.max_article_id if stored else 0
    added = store.topics.ids_after(watermark, limit=RETAG_LIMIT)
    report = refresh(store, topics, now=now, added=added)
    return report, added[-1] if added else watermark


def tag_new(
    store: Store, topics: Sequence[Topic], *, watermark: int | None
) -> tuple[int, int | None]:
    """Tag the articles stored after ``watermark`` (None: after the model in use was fitted)
    with the model in use, never refitting: what a long-running process does before it
    composes a digest, so an article stored since its last :func:`refresh_after` is filtered
    by its learned topics, not by its keyword tags alone. Returns the count tagged and the
    next watermark (unchanged, None included, when there is no model for these topics yet:
    the next refresh fits one and tags them)."""
    if not topics or (watermark is not None and store.articles.latest_id() <= watermark):
        return 0, watermark  # nothing new: the model (a blob) is not even read
    stored = store.topics.latest_model()
    if stored is None or not _learned(stored, topics):
        return 0, watermark
    if watermark is None:
        watermark = stored.max_article_id
    added = store.topics.ids_after(watermark, limit=RETAG_LIMIT)
    if not added:
        return 0, watermark
    model = learn.TopicModel.from_bytes(stored.model)
    return retag(store, model, added, topics), added[-1]


def _unapplied(store: Store) -> set[int]:
    """Articles corrected from a workspace whose corrections do not count (now, or since the
    operator changed ``[topics] feedback_workspaces``): re-tagged as if no one had spoken."""
    trust = store.topics.trust()
    return {f.article_id for f in store.topics.feedback() if not trust.allows(f.workspace)}


def refused(feedback: Sequence[Feedback]) -> set[tuple[int, str]]:
    """The (article, topic) pairs whose newest correction is "Not #topic": no re-tag gives
    the article that tag, whoever else does (the model, its text, its source's tags)."""
    newest: dict[tuple[int, str], str] = {}
    for f in feedback:  # newest first
        newest.setdefault((f.article_id, f.topic), f.kind)
    return {pair for pair, kind in newest.items() if kind == "not"}


def _steering(store: Store, topics: Sequence[Topic]) -> dict[tuple[int, str], str]:
    """Each (article, topic)'s word on it: the reader's newest correction ("not" | "more"),
    else topics.toml's (a stored article named in the topic's ``exclude``: "not"; in its
    ``examples``: "more"), as a refit applies them to the tags it writes."""
    out: dict[tuple[int, str], str] = {}
    for f in store.topics.applied_feedback():  # newest first
        out.setdefault((f.article_id, f.topic), f.kind)
    found = store.topics.find([loc for t in topics for loc in (*t.exclude, *t.examples)])
    for t in topics:
        for kind, locators in (("not", t.exclude), ("more", t.examples)):
            for loc in locators:
                if loc in found:
                    out.setdefault((found[loc], t.name), kind)
    return out


def keyword_retag(store: Store, ids: Sequence[int], topics: Sequence[Topic]) -> None:
    """Add to ``ids`` the keyword tags of ``topics`` they lack (none is taken away: the page's
    own tags, which counted at ingest, are not stored), except where a reader said "Not #topic"."""
    refusals = refused(store.topics.applied_feedback())
    tags: dict[int, list[tuple[str, int]]] = {}
    for start in range(0, len(ids), 2000):
        for article_id, text in store.topics.texts(ids[start : start + 2000]).items():
            title, _, body = text.partition("\n")
            tags[article_id] = [
                (name, weight)
                for name, weight in topic_weights(title, body, topics)
                if (article_id, name) not in refusals
            ]
    store.topics.add_keyword_tags(tags)


def retag_now(store: Store, ids: Sequence[int], topics: Sequence[Topic]) -> None:
    """Re-tag ``ids`` as the store tags now, without a refit: with the model in use if it was
    fitted for ``topics``, else with the keyword tags their texts give (a model of another
    topic list is replaced, and they are re-tagged, by the next refresh)."""
    stored = store.topics.latest_model()
    if stored is not None and _learned(stored, topics):
        retag(store, learn.TopicModel.from_bytes(stored.model), ids, topics)
    else:
        keyword_retag(store, ids, topics)


def keyword_corrections(store: Store, topics: Sequence[Topic]) -> None:
    """Before topics are learned: each article's newest correction on its keyword tags ("Not
    #topic" takes the tag away, "More like this" gives it), and where no reader said
    otherwise topics.toml's (``exclude`` takes it away, ``examples`` give it)."""
    names = {t.name for t in topics}
    latest = {pair: kind for pair, kind in _steering(store, topics).items() if pair[1] in names}
    refusals = {pair for pair, kind in latest.items() if kind == "not"}
    # A tag an example gave (1.00) that nothing gives now (taken out of `examples`): off,
    # then the keyword tags its text gives, as for any article.
    stale = {p for p in store.topics.pinned(sorted(names)) if latest.get(p) != "more"}
    for name in sorted({topic for _, topic in stale}):
        store.topics.retag({a: [] for a, topic in stale if topic == name}, learned=[name])
    if stale:
        keyword_retag(store, sorted({a for a, _ in stale}), topics)
    for name in sorted({topic for _, topic in latest}):
        tags: dict[int, list[tuple[str, float]]] = {
            article_id: [(name, 1.0)] if kind == "more" else []
            for (article_id, topic), kind in latest.items()
            if topic == name
        }
        store.topics.retag(tags, learned=[name], refused=refusals)


def load_model(store: Store) -> learn.TopicModel | None:
    """The model in use, or None before the first fit."""
    stored = store.topics.latest_model()
    return learn.TopicModel.from_bytes(stored.model) if stored else None


def fit_store(
    store: Store,
    topics: Sequence[Topic],
    *,
    now: datetime,
    fence: Callable[[Connection], None] | None = None,
    before_save: Callable[[learn.TopicModel], None] | None = None,
) -> learn.TopicModel | None:
    """Fit a model on the store's newest articles, examples and corrections, and keep it
    (``fence``: see ``Topics.save_model``; the fit's lease still held). ``before_save``: given
    the model before it is kept (a refit's re-tag, so that a lease lost during it keeps no
    model and the fit stays due)."""
    feedback_id = store.topics.latest_feedback_id()  # before reading: a later one refits again
    key = fit_key(store, topics)  # (and a trust changed meanwhile)
    # Headlines and ledes first (all the sample's hash reads), whole texts of the sample only:
    # at 100k articles a fit learns from 30k of them.
    ledes = list(store.topics.corpus(limit=MAX_ARTICLES, chars=learn.LEDE_CHARS))
    if len(ledes) < learn.min_articles(len(topics)):
        return None
    steering = _steering(store, topics)  # readers' corrections, topics.toml's examples
    position = {article_id: i for i, (article_id, _, _, _) in enumerate(ledes)}
    corrected = {position[a] for a, _ in steering if a in position}
    sample = [ledes[int(r)][0] for r in learn.fit_sample([t for _, t, _, _ in ledes], corrected)]
    found = store.topics.texts(sample, chars=learn.MAX_CHARS)
    sample = [i for i in sample if i in found]  # an article removed meanwhile is left out
    texts = [found[i] for i in sample]
    specs = [
        learn.TopicSpec(
            t.name,
            t.aliases,
            examples=tuple(_example_texts(store, t.examples)),
            exclude=tuple(_example_texts(store, t.exclude)),
        )
        for t in topics
    ]
    corrections = _corrections(steering, {article_id: i for i, article_id in enumerate(sample)})
    encoder = encode.encoder()
    cache = _VectorCache(store, encoder) if encoder is not None else None
    model = learn.fit(texts, specs, corrections=corrections, encode=cache, articles=len(ledes))
    if cache is not None:
        cache.keep()
    if model is None:
        return None
    if before_save is not None:
        before_save(model)
    store.topics.save_model(
        model.to_bytes(),
        articles=len(ledes),
        max_article_id=max(position),
        topics_key=key,
        feedback_id=feedback_id,
        now=now,
        fence=fence,
    )
    return model


class _VectorCache:
    """The sentence encoder behind the store's cache of vectors: a refit encodes only the
    texts the previous one did not (see migration 0016). A :class:`learn.Encode`."""

    def __init__(self, store: Store, model: encode.Encoder) -> None:
        self._store = store
        self._model = model
        self._new: dict[str, bytes] = {}
        self._used: set[str] = set()

    def tokens(self, texts: Sequence[str]) -> list[int]:
        try:
            return self._model.tokens(texts)
        except (MemoryError, ValueError, RuntimeError) as exc:
            raise InputError(f"tokenizing {len(texts)} texts failed: {exc}") from None

    def __call__(self, texts: Sequence[str]) -> NDArray[np.float32]:
        keys = [_vector_key(t) for t in texts]
        self._used.update(keys)
        try:
            kept = self._store.topics.vectors(keys)
        except DigestError as exc:  # the cache only saves work: encode them all
            log.warning("sentence vectors not read, encoding them again: %s", exc)
            kept = {}
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in kept}.items())
        if missing:
            try:
                fresh = self._model.encode([t for _, t in missing])
            except (MemoryError, ValueError, RuntimeError) as exc:
                raise InputError(f"encoding {len(missing)} texts failed: {exc}") from None
            for (k, _), v in zip(missing, fresh, strict=True):
                self._new[k] = v.astype(np.float16).tobytes()
        found = {**kept, **self._new}
        out = np.stack([np.frombuffer(found[k], dtype=np.float16) for k in keys])
        return out.astype(np.float32)

    def keep(self) -> None:
        """Keep what was encoded, drop what this fit no longer used (a failure only costs
        the next refit the encoding)."""
        if not self._used:
            return
        try:
            self._store.topics.keep_vectors(self._new, used=self._used)
        except DigestError as exc:
            log.warning("keeping %d sentence vectors failed: %s", len(self._new), exc)


def _vector_key(text: str) -> str:
    return hashlib.sha256(f"{encode.MODEL}/{encode.MAX_TOKENS}\n{text}".encode()).hexdigest()


def _corrections(
    steering: dict[tuple[int, str], str], position: dict[int, int]
) -> list[learn.Correction]:
    """Each (article, topic)'s word on it (:func:`_steering`), for the articles in the corpus:
    a stored article topics.toml excludes is not a positive of the topic, as its text is not."""
    return [
        learn.Correction(position[article_id], topic, more=kind == "more")
        for (article_id, topic), kind in steering.items()
        if article_id in position
    ]


def _example_texts(store: Store, locators: Sequence[str]) -> list[str]:
    """Texts of a topic's examples: stored articles by path or URL, else readable local files."""
    found = store.topics.find(locators)
    texts = store.topics.texts(list(found.values()))
    out: list[str] = []
    for loc in locators:
        if loc in found and found[loc] in texts:
            out.append(texts[found[loc]])
            continue
        path = Path(loc)
        if "://" not in loc and path.is_file():
            try:
                with path.open("rb") as f:
                    out.append(f.read(_EXAMPLE_BYTES).decode("utf-8", errors="replace"))
            except OSError as exc:
                log.warning("topic example %s: %s", loc, exc)
        else:
            log.warning("topic example %s is not a stored article nor a readable file", loc)
    return out


def retag(
    store: Store,
    model: learn.TopicModel,
    ids: Sequence[int],
    topics: Sequence[Topic] = (),
    *,
    fence: Callable[[Connection], None] | None = None,
) -> int:
    """Write the model's tags of ``ids`` (and the ``topics`` their headlines name, and the
    tags their sources declare), with each article's corrections applied on top (a reader's,
    else topics.toml's: an article a topic ``exclude``s never carries it, an example does).

    A tag an article's source declares (its ``tags`` in sources.toml) is the operator's word,
    not a guess: it stays whatever the model says, as strong as the model weighs that topic
    for the article (as a headline's topic is), so it ranks among the learned tags by what
    the article is about. A reader's "Not #topic" on the article still takes it off.

    A topic the fit learned only from the articles naming it (``model.named_only``) tags
    exactly those: every article naming it (its keyword tag), none other.

    ``fence``: called in each chunk's writing transaction (a refit's lease: LeaseLost rolls
    that chunk back and stops the re-tag; see ``Topics.retag``)."""
    # Only topics described by their own phrases (aliases): a bare name is left to the model.
    headline = [t for t in topics if t.aliases and t.name in model.topics]
    # A topic learned only from the articles naming it tags only such articles: what the
    # model makes of it beyond them is a guess (China–Mongolia talks as #taiwan). And it tags
    # each of them, as the keyword tags did: the model learned it from them, and on a small
    # store (the first fit) it often learns too little to give them back (a China–US
    # commentary naming China 44 times lost #china; BBC dev draws of 30–50 articles with the
    # topics by name lost every tag the keywords gave).
    named_only = {t.name: t for t in topics if t.name in model.named_only}
    # The readers' corrections, and topics.toml's examples and exclusions where no reader
    # said otherwise: an excluded article never carries the topic, an example always does.
    corrections: dict[int, dict[str, str]] = {}
    steering = _steering(store, topics)
    for (article_id, name), kind in steering.items():
        corrections.setdefault(article_id, {})[name] = kind
    refusals = {pair for pair, kind in steering.items() if kind == "not"}
    done = 0
    for start in range(0, len(ids), 2000):
        chunk = list(ids[start : start + 2000])
        texts = store.topics.texts(chunk)
        declared = store.topics.declared(chunk)
        order = [i for i in chunk if i in texts]
        tagged: dict[int, list[tuple[str, float]]] = {}
        probabilities = model.probabilities([texts[i] for i in order])
        for article_id, row in zip(order, probabilities, strict=True):
            mine = corrections.get(article_id, {})
            weighed = row.copy()  # a declared tag's strength: the model's, all topics weighed
            naming = {n for n, t in named_only.items() if learn.named_in(t, texts[article_id])}
            for name in named_only.keys() - naming:
                row[model.topics.index(name)] = 0.0  # the others then face the background
            tags = list(model.tags_of(row))
            named = {n for n, _ in tags}
            tags += [
                (name, learn.confidence(weighed[model.topics.index(name)]))
                for name in sorted(naming - named)
            ]
            named |= naming
            if headline:
                # A topic the headline names (its name or an alias) is what the story is
                # about, whatever the model weighs: "Taiwan holds Han Kuang drills".
                title = texts[article_id].split("\n", 1)[0]
                tags += [
                    (t.name, learn.confidence(row[model.topics.index(t.name)]))
                    for t in headline
                    if t.name not in named and topic_pattern(t).search(title)
                ]
                named = {n for n, _ in tags}
            tags += [
                (name, learn.confidence(weighed[model.topics.index(name)]))
                for name in declared.get(article_id, {})
                if name in model.topics and name not in named
            ]
            kept = [(n, c) for n, c in tags if mine.get(n) != "not"]
            kept += [(n, 1.0) for n, k in mine.items() if k == "more" and n in model.topics]
            kept = sorted(dict(kept).items(), key=lambda nc: -nc[1])
            tagged[article_id] = kept
        try:
            store.topics.retag(tagged, learned=model.topics, refused=refusals, fence=fence)
        except LeaseLost:
            raise
        except DigestError as exc:
            log.warning("re-tagging %d articles failed: %s", len(tagged), exc)
            continue
        done += len(tagged)
    return done
