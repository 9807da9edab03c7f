"""Feed and page sources: fetched concurrently (worker threads), then stored one at a time from
the calling thread; each records its health, and one failing source never stops the others."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from digests.config import Settings, SourceConfig
from digests.errors import DigestError
from digests.ingest.pipeline import IngestReport, pipeline_options, run
from digests.ingest.tagging import _retag, _tagged
from digests.net.util import locator_of
from digests.sealing import MISSING_KEY
from digests.store import Store
from digests.store.sources import Health, SourceState

if TYPE_CHECKING:  # feedparser and httpx load only when a feed or page is polled
    from digests.ingest.feeds import Harvest
    from digests.net.fetch import Fetcher

log = logging.getLogger(__name__)


_POLL_THREADS = 8  # sources fetched at once (the fetcher also limits each host to two)
Progress = Callable[[str], None]


@dataclass(slots=True)
class SourceReport(IngestReport):
    """What one poll of one source did; ``error`` says why the source itself failed."""

    source: str = ""
    error: str | None = None
    # How the poll went, for the source's row; written by poll_source unless the caller
    # records it itself (the Poller writes it with the claim's release: one statement).
    health: Health | None = None


def make_fetcher(settings: Settings) -> Fetcher:
    """The fetcher for these settings (``[fetch]`` in digestbot.toml tunes its bounds).

    Make one per process and pass it to every call here: its limits are per fetcher.
    """
    from digests.net.fetch import Fetcher

    return Fetcher(
        allow_private_networks=settings.allow_private_networks,
        deadline=settings.fetch.timeout_seconds,
        max_bytes=settings.fetch.max_bytes,
    )


def _poll_remote(
    store: Store,
    settings: Settings,
    remote: Sequence[SourceConfig],
    *,
    now: datetime,
    fetcher: Fetcher,
    on_progress: Progress | None = None,
    states: Sequence[SourceState | None] = (),
) -> list[SourceReport]:
    """Poll feed/page sources: fetched concurrently, stored one at a time, each its own health."""
    given = dict(zip((s.name for s in remote), states, strict=False))
    rows = {
        s.name: given.get(s.name) or store.sources.ensure(s.name, kind=s.kind, location=s.location)
        for s in remote
    }
    reports: list[SourceReport] = []
    with ThreadPoolExecutor(max(1, min(_POLL_THREADS, len(remote)))) as pool:
        futures = {pool.submit(_gather, store, fetcher, s, rows[s.name]): s for s in remote}
        for future in as_completed(futures):
            source = futures[future]
            row = rows[source.name]
            report = _settle(store, settings, source, row, future.result(), now)
            if report.health is not None and not report.health.ok and _one_off(source, row):
                # A URL ingested once by hand: its failure is said on the command line, and
                # no row is left unhealthy for good (nobody polls it again to clear it).
                store.sources.forget(source.name)
            elif report.health is not None:
                store.sources.record(source.name, report.health)
            reports.append(report)
            if on_progress:
                on_progress(source.name)
    return reports


def _gather(
    store: Store, fetcher: Fetcher, source: SourceConfig, state: SourceState
) -> Harvest | str | None:
    """Fetch one source (in a worker thread): its harvest, a one-line error, or None (skip)."""
    from digests.ingest.feeds import harvest

    if _key_missing(source, state):
        return f"its URL is {MISSING_KEY}"
    kind = {"feed": "feed", "page": "page"}.get(source.kind, "auto")
    if kind != "feed" and store.feed_items.seen(state.id, [locator_of(source.location)]):
        return None  # an article page already ingested: nothing to fetch again
    try:
        return harvest(
            source.location,
            fetcher,
            kind=kind,
            etag=state.etag,
            last_modified=state.last_modified,
            seen=lambda ids: store.feed_items.seen(state.id, ids),
            failures=lambda ids: store.feed_items.failures(state.id, ids),
        )
    except DigestError as exc:
        return str(exc)
    except Exception as exc:  # a bug on one source must not cost the others
        log.exception("unexpected error polling %s", source.location)
        return f"internal error ({type(exc).__name__}: {exc}); run with --verbose for details"


def _settle(
    store: Store,
    settings: Settings,
    source: SourceConfig,
    state: SourceState,
    got: Harvest | str | None,
    now: datetime,
    *,
    stop: Callable[[], bool] | None = None,
) -> SourceReport:
    """Store one source's harvest and remember its entries; its health goes in the report.
    Its stored entries are re-tagged first if its tags changed (whether or not it answered)."""
    _retag(store, settings, source, state, now=now)
    if got is None:
        return SourceReport(unchanged=1, source=source.name)
    if isinstance(got, str):
        health = Health(now, error=got)
        # A location no key given opens is its sealed text: the source is named instead.
        shown = source.name if _key_missing(source, state) else source.location
        return SourceReport(failed=[(shown, got)], source=source.name, error=got, health=health)
    if got.fetched.not_modified:
        # Nothing to parse or store: the row keeps its validators, only the times move.
        health = Health(now, etag=state.etag, last_modified=state.last_modified)
        return SourceReport(unchanged=1, source=source.name, health=health)
    docs = [_tagged(d, source) for d in got.documents]
    ran = run(store, docs, pipeline_options(settings), now=now, stop=stop)
    report = _as_source_report(source, ran)
    report.unchanged += got.seen
    failed = {locator for locator, _ in report.failed}
    # After run() returned: every stored article is committed before its entry is seen.
    done, retry = _settled(got, failed, fault=bool(ran.store_fault))
    if not store.feed_items.mark_many(state.id, done, now=now, failed=retry):
        # Removed while it was polled (`digestbot sources remove`): the stories just stored
        # are kept like any others, but no feed state is written for a source that is gone.
        return report
    if got.listed is not None:
        store.feed_items.prune(state.id, got.listed)
    if got.kind == "page" and report.failed:
        report.error = report.failed[0][1]
        report.health = Health(now, error=report.error)
        return report
    # With an entry left to retry, forget the validators: a 304 next time would hide it.
    complete = not (failed - done.keys()) and not got.truncated
    report.health = Health(
        now,
        etag=got.fetched.etag if complete else None,
        last_modified=got.fetched.last_modified if complete else None,
        note=got.warning,
    )
    return report


def _key_missing(source: SourceConfig, state: SourceState) -> bool:
    """Whether the source's URL is its row's, sealed with a key this process was not given
    (a configured source's URL is the config's: it is polled, and its row sealed again)."""
    return state.key_missing and source.location == state.location


def _settled(got: Harvest, failed: set[str], *, fault: bool) -> tuple[dict[str, str], list[str]]:
    """The entries done with (locator → identity), and those (identities) failed this time
    and tried again next poll. A feed entry failing its ``ENTRY_POLLS``-th poll is done with
    (given up); none counts a failed poll when the database failed (a passing fault) or
    the source is a page (its health says it failed, and it is polled again)."""
    from digests.ingest.feeds import ENTRY_POLLS

    done: dict[str, str] = {}
    retry: list[str] = []
    for locator, identity in got.identities.items():
        if locator not in failed:
            done[locator] = identity
        elif got.kind != "feed" or fault:
            continue
        elif got.failures.get(identity, 0) + 1 < ENTRY_POLLS:
            retry.append(identity)
        else:
            log.info("feed entry %s failed %d polls: given up", locator, ENTRY_POLLS)
            done[locator] = identity
    return done, retry


def _one_off(source: SourceConfig, row: SourceState) -> bool:
    """A URL named to ``digestbot ingest`` that is no source: not configured, not scheduled."""
    return source.kind == "url" and row.origin is None and not row.scheduled


def _as_source_report(source: SourceConfig, report: IngestReport) -> SourceReport:
    return SourceReport(
        added=report.added,
        unchanged=report.unchanged,
        duplicates=report.duplicates,
        failed=report.failed,
        replaced=report.replaced,
        source=source.name,
    )
