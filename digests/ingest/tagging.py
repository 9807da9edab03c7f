"""A source's tags: given to every document it yields (:func:`_tagged`, the one place), and given
again to its stored articles not yet delivered when they change (:func:`_retag`)."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime

from digests.config import Settings, SourceConfig
from digests.ingest.document import IngestFailure
from digests.ingest.due import as_config
from digests.ingest.folders import _folder_of, _folders
from digests.models import RawDocument, SourceKind
from digests.store import Store
from digests.store.sources import SourceState

log = logging.getLogger(__name__)


Document = RawDocument | IngestFailure


def retag_source(
    store: Store, settings: Settings, state: SourceState, tags: Sequence[str], *, now: datetime
) -> int:
    """Give a source added at run time (``digestbot sources add``, its row ``state``) the tags
    ``tags`` in place: its stored articles no digest has shown yet are re-tagged as a changed
    sources.toml source's are at its next read (:func:`_retag`). How many were re-tagged."""
    source = as_config(replace(state, tags=tuple(tags)), settings)
    return _retag(store, settings, source, state, now=now)


def _retag(
    store: Store, settings: Settings, source: SourceConfig, state: SourceState, *, now: datetime
) -> int:
    """When a source's tags changed (its row, ``state``, records those its stored articles
    were given), re-tag its stored articles no digest has shown yet, of the last week (the
    articles a topic refit re-tags): a folder's files, a feed's entries, a page. They lose
    the tags it declared and no longer gives and are declared the ones it gives now (not one
    a reader refused), then are re-tagged as the store tags now (``digests.refit.retag_now``:
    the learned topics, or the keyword tags of what their text names), so a topic it no
    longer gives stays only where the text or the model gives it. What was delivered keeps
    the tags it was shown with. The row then records the new tags (its articles' from now on)."""
    old = tuple(state.tags)
    if old == tuple(source.tags):
        return 0
    from digests import refit
    from digests.tag import SOURCE_WEIGHT

    unshown = store.topics.recent_undelivered(now - refit.RETAG_WINDOW, limit=refit.RETAG_LIMIT)
    ids = _articles_of(store, settings, source, state, unshown) if unshown else []
    changed = 0
    if ids:
        refused = refit.refused(store.topics.applied_feedback())
        removed = [t for t in old if t not in source.tags]
        changed = store.topics.declare(
            ids, source.name, source.tags, removed=removed, weight=SOURCE_WEIGHT, refused=refused
        )
        if removed:  # a tag another feed that carried the same text still declares stays
            _declared_again(store, state, ids, removed, refused)
        if changed:
            refit.retag_now(store, ids, settings.topics)
    store.sources.tagged(source.name, source.tags)
    if changed:  # (a new source's row: its articles have its tags already)
        log.info(
            "source %s: tags now %s (were %s); its stored articles not yet delivered re-tagged",
            source.name, ", ".join(source.tags) or "none", ", ".join(old) or "none",
        )  # fmt: skip
    return len(ids) if changed else 0


def _declared_again(
    store: Store,
    state: SourceState,
    ids: Sequence[int],
    removed: Sequence[str],
    refused: Collection[tuple[int, str]],
) -> None:
    """After ``state``'s source stopped declaring ``removed`` on ``ids``: the other feeds
    and pages that brought one of those texts (a copy is stored once, with every source's
    tags) and still declare one of those tags declare it again (one ``declared_by`` a row)."""
    from digests.tag import SOURCE_WEIGHT

    carried = store.feed_items.carriers(ids, besides=state.id)
    for other in store.sources.with_ids(sorted(carried)):
        if any(t in removed for t in other.tags):  # (its row's tags: its articles' own)
            ids_ = carried[other.id]
            store.topics.declare(
                ids_, other.name, other.tags, weight=SOURCE_WEIGHT, refused=refused
            )


def _articles_of(
    store: Store,
    settings: Settings,
    source: SourceConfig,
    state: SourceState,
    among: Sequence[int],
) -> list[int]:
    """Those of the articles ``among`` that ``source`` stored, and gave its tags: a folder's,
    those whose file lies in it (not in a folder source inside it); a feed's or a page's,
    those its entries became or copied (a text another source stored first carries the tags
    of every source that brought it: digests.store.articles)."""
    if source.kind == SourceKind.FOLDER:
        folders = _folders(settings)
        return [
            article_id
            for article_id, locator in store.topics.locators(among).items()
            if (folder := _folder_of(folders, locator)) is not None
            and folder.source is not None
            and folder.source.name == source.name
        ]
    return sorted({article_id for article_id, _, _ in store.feed_items.entries(state.id, among)})


def _tagged(doc: Document, source: SourceConfig | None) -> Document:
    """The tag rule: a source's configured tags go with every document it yields, declared
    by it (stored with its name: no re-tag by the learned topics takes them off)."""
    if isinstance(doc, IngestFailure) or source is None or not source.tags:
        return doc
    merged = tuple(dict.fromkeys((*_hint_tags(doc), *source.tags)))
    return replace(doc, hints={**doc.hints, "tags": merged, "declared_by": source.name})


def _hint_tags(doc: RawDocument) -> tuple[str, ...]:
    tags = doc.hints.get("tags")
    return tuple(str(t) for t in tags) if isinstance(tags, list | tuple) else ()
