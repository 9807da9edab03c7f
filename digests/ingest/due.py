"""Which feed and page sources are due for a poll, and the sources no config names: those added
at run time (``digestbot sources add``) and a URL named on the command line."""

from __future__ import annotations

from datetime import datetime, timedelta

from digests.config import Settings, SourceConfig
from digests.models import SourceKind
from digests.net.util import source_name
from digests.store import Store
from digests.store.sources import SourceState

DEFAULT_POLL_SECONDS = 30 * 60


def due_sources(
    store: Store, settings: Settings, *, now: datetime, force: bool = False
) -> list[SourceConfig]:
    """Feed and page sources that are due for a poll (all of them with ``force``): the
    configured ones and those added at run time (``digestbot sources add``)."""
    polled = {s.name: s for s in store.sources.all()}
    configured = [s for s in settings.sources if s.kind != SourceKind.FOLDER]
    names = {s.name for s in settings.sources}
    added = [
        SourceConfig(
            name=row.name,
            kind=stored_kind(row.kind),
            location=row.location,
            tags=row.tags,
            poll_minutes=max(1, (row.poll_seconds or 1800) // 60),
        )
        for row in polled.values()
        if row.origin == "cli"
        and row.scheduled
        and row.kind != SourceKind.FOLDER
        and row.name not in names
    ]
    return [s for s in configured + added if force or _due(polled.get(s.name), s, now)]


def default_name(url: str) -> str:
    """A source name from its URL: host and path only (no scheme, userinfo or query).

    The name is shown in /metrics, health and chat; a URL's password or ``?api_key=`` never is.
    """
    return source_name(url)


def _given_url(url: str, rows: dict[str, SourceState]) -> SourceConfig:
    """A URL named on the command line: named as `sources add` would name it.

    A URL seen before keeps its row's name (its seen entries and validators with it) and its
    tags (a `sources add --tags` feed's entries get them, whoever polls it); a name already
    taken by another location gets a digest of the URL after it (never the URL).
    """
    row = next((r for r in rows.values() if r.location == url), None)
    if row is not None:
        return SourceConfig(name=row.name, kind=SourceKind.URL, location=url, tags=row.tags)
    name = default_name(url)
    if name in rows and rows[name].location != url:
        name = source_name(url, distinct=True)
    return SourceConfig(name=name, kind=SourceKind.URL, location=url)


def _due(state: SourceState | None, source: SourceConfig, now: datetime) -> bool:
    if state is None or state.last_polled_at is None:
        return True
    return now - state.last_polled_at >= timedelta(minutes=source.poll_minutes)


def stored_kind(stored: str) -> SourceKind:
    """A stored source's kind; ``auto`` (``sources add`` without ``--kind``) is found by
    fetching, as a URL given on the command line is."""
    try:
        return SourceKind(stored)
    except ValueError:
        return SourceKind.URL


def as_config(
    state: SourceState, settings: Settings, configured: dict[str, SourceConfig] | None = None
) -> SourceConfig:
    """The configured-source view of a scheduled row (what ``poll_source`` takes).

    ``configured`` is ``settings.sources`` by name, if the caller keeps it (thousands of
    sources: a lookup per poll, not a scan).
    """
    if state.origin == "config":
        if configured is None:
            configured = {s.name: s for s in settings.sources}
        found = configured.get(state.name)
        if found is not None:
            return found
    minutes = max(1, (state.poll_seconds or DEFAULT_POLL_SECONDS) // 60)
    return SourceConfig(
        name=state.name,
        kind=stored_kind(state.kind),  # `sources add`'s "auto" too: no SourceKind
        location=state.location,
        tags=state.tags,
        poll_minutes=minutes,
    )
