"""Prometheus metrics (prometheus-client) for ``GET /metrics``, one registry per app.

Each :class:`Metrics` owns its own ``CollectorRegistry`` — never the global default — so
several apps (tests, one process serving many) never collide. Two kinds of series:

* counted in this process as things happen: articles ingested, polls by result, per-source
  poll failures, delivery latency (queued → sent), brief latency;
* read from the database at scrape time (so every replica reports the same truth): sources
  failing now, Slack workspaces installed, and whether delivery is ok (the rule of /healthz's
  ``ok`` and `digestbot status`);
* counts that grow with the store (outbox rows by status, stored articles): read at most
  once a minute (:data:`SIZES_EVERY`) in a background thread, and a scrape shows the latest
  (the first scrape of a process counts inline). Each refresh is bounded too: the outbox
  statuses but ``sent`` are counted exactly by their index (what is waiting, refused or kept
  a while: the rows of that status, never the rest), and a table past :data:`EXACT_BELOW`
  rows on PostgreSQL is read from the planner's estimate (``pg_class.reltuples``, one row;
  ``sent`` is then the outbox's estimate less the exact others), which
  ``digestbot_store_sizes_estimated`` says. On SQLite (no such statistic) articles and sent
  parts are counted exactly; sent parts are bounded by ``[digest] sent_kept_days``.

A scrape runs its queries in a worker thread; a database error yields
``digestbot_store_up 0`` instead of a failed scrape.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from sqlalchemy import distinct, func, select
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import Response

from bot.deliver import Sender
from bot.delivery_health import delivery_health
from bot.sweep import Timings
from digests.errors import DeliveryError, StoreError
from digests.net.util import redact
from digests.store import Store
from digests.store.outbox import OutboxMessage
from digests.store.schema import slack_bots

if TYPE_CHECKING:  # the pipeline pulls in the summarizer: not needed to count
    from digests.ingest.pipeline import IngestReport

log = logging.getLogger(__name__)

OUTBOX_STATUSES = ("pending", "sending", "sent", "dead", "unverified", "carried")
_SHOWN_FAILING_SOURCES = 500  # label cardinality cap: a scrape never grows without bound
SIZES_EVERY = timedelta(minutes=1)  # how old the outbox and article counts a scrape shows may be
# Rows past which a PostgreSQL table's size is its planner estimate, not a count (at 100k a
# count of articles took 37 ms; docs/BENCHMARKS.md).
EXACT_BELOW = 100_000


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Metrics:
    """The bot's metrics and their registry."""

    def __init__(
        self,
        store: Store | None = None,
        *,
        timings: Timings | None = None,
        clock: Callable[[], datetime] = _utcnow,
        exact_below: int = EXACT_BELOW,
    ) -> None:
        """``exact_below``: rows past which a PostgreSQL table's size is its estimate."""
        self.registry = CollectorRegistry()
        r = self.registry
        self.articles_ingested = Counter(
            "digestbot_articles_ingested", "Articles added to the store by source polls", registry=r
        )
        self.polls = Counter(
            "digestbot_polls", "Source polls by result (new, unchanged, failed)", ["result"],
            registry=r,
        )  # fmt: skip
        self.source_failures = Counter(
            "digestbot_source_failures", "Failed polls per source", ["source"], registry=r
        )
        self.delivered = Counter(
            "digestbot_messages_delivered", "Outbox sends by platform and result", ["platform", "result"],
            registry=r,
        )  # fmt: skip
        self.delivery_latency = Histogram(
            "digestbot_delivery_latency_seconds",
            "Seconds from a message entering the outbox to the platform accepting it",
            ["platform"],
            buckets=(1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600),
            registry=r,
        )
        self.brief_latency = Histogram(
            "digestbot_brief_latency_seconds",
            "Seconds to compose a /brief answer",
            ["platform"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
            registry=r,
        )
        if store is not None:
            r.register(_StoreCollector(store, timings, clock, exact_below))

    def poll_done(self, source: str, report: IngestReport) -> None:
        """Count one poll of ``source``: failed when the source itself failed (the error its
        health row records, what `digestbot sources` counts), never for one of its entries
        or files failing (each is retried at the next poll)."""
        self.articles_ingested.inc(len(report.added))
        # digests.ingest.sources.SourceReport.error: why the source itself failed.
        if getattr(report, "error", None) is not None:
            self.polls.labels("failed").inc()
            self.source_failures.labels(redact(source)).inc()
        else:
            self.polls.labels("new" if report.added else "unchanged").inc()

    def sent(self, message: OutboxMessage, *, now: datetime) -> None:
        """Count a delivered message and how long it waited in the outbox."""
        self.delivered.labels(message.platform, "sent").inc()
        if message.created_at is not None:
            waited = (now - message.created_at).total_seconds()
            self.delivery_latency.labels(message.platform).observe(max(0.0, waited))

    def timer(self, platform: str) -> _BriefTimer:
        """``with metrics.timer("slack"):`` around composing one brief."""
        return _BriefTimer(self.brief_latency.labels(platform))

    def render(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)

    async def endpoint(self, _: Request) -> Response:
        """``GET /metrics``."""
        body = await asyncio.to_thread(self.render)
        return Response(body, media_type=CONTENT_TYPE_LATEST)


class _BriefTimer:
    def __init__(self, histogram: Histogram) -> None:
        self._histogram = histogram
        self._start = 0.0

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *_: object) -> None:
        self._histogram.observe(time.perf_counter() - self._start)


@dataclass(frozen=True, slots=True)
class _Sizes:
    outbox: dict[str, int]  # rows by status
    articles: int
    estimated: bool = False  # some of them are PostgreSQL's estimates (EXACT_BELOW)


def _sizes(store: Store, exact_below: int) -> _Sizes:
    """The outbox by status and the articles: exact, or for a large PostgreSQL table its
    planner estimate (see the module doc)."""
    estimated = False
    rows = store.estimated_rows("outbox")
    if rows is not None and rows >= exact_below:
        counts = store.outbox.counts([s for s in OUTBOX_STATUSES if s != "sent"])
        counts["sent"], estimated = max(0, rows - sum(counts.values())), True
    else:
        counts = store.outbox.counts(OUTBOX_STATUSES)
    articles = store.estimated_rows("articles")
    if articles is not None and articles >= exact_below:
        estimated = True
    else:
        articles = store.articles.count()
    return _Sizes(counts, articles, estimated)


class _SizeCounts:
    """The counts that grow with the store, read at most once per :data:`SIZES_EVERY`.

    :meth:`latest` never waits for a count once one was read: when it is older than
    ``SIZES_EVERY`` a background thread counts again (one at a time) and the scrape shows the
    previous count meanwhile. A count that fails keeps the previous one (``store_up`` says
    whether the database answers).
    """

    def __init__(
        self, store: Store, clock: Callable[[], datetime], exact_below: int = EXACT_BELOW
    ) -> None:
        self._store, self._clock, self._exact_below = store, clock, exact_below
        self._lock = threading.Lock()
        self._sizes: _Sizes | None = None
        self._read_at: datetime | None = None
        self._counting: threading.Thread | None = None

    def latest(self) -> _Sizes:
        """The latest counts; counted inline only when there is none yet."""
        now = self._clock()
        with self._lock:
            sizes, read_at = self._sizes, self._read_at
            due = read_at is None or now - read_at >= SIZES_EVERY
            busy = self._counting is not None and self._counting.is_alive()
            if sizes is not None and due and not busy:
                self._read_at = now  # at most one count per SIZES_EVERY, even a failed one
                self._counting = threading.Thread(
                    target=self._count_quietly, name="metrics-sizes", daemon=True
                )
                self._counting.start()
        if sizes is not None:
            return sizes
        return self._count(now)

    def _count(self, now: datetime) -> _Sizes:
        sizes = _sizes(self._store, self._exact_below)
        with self._lock:
            self._sizes, self._read_at = sizes, now
        return sizes

    def _count_quietly(self) -> None:
        try:
            self._count(self._clock())
        except (SQLAlchemyError, StoreError) as exc:
            log.warning("metrics: could not count outbox rows and articles: %s", exc)


class _StoreCollector(Collector):
    """Gauges read from the database at scrape time."""

    def __init__(
        self,
        store: Store,
        timings: Timings | None,
        clock: Callable[[], datetime],
        exact_below: int = EXACT_BELOW,
    ) -> None:
        self._store, self._timings, self._clock = store, timings, clock
        self._sizes = _SizeCounts(store, clock, exact_below)

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("digestbot_store_up", "1 when the database answered this scrape")
        try:
            sizes = self._sizes.latest()
            counts, articles = sizes.outbox, sizes.articles
            sources = self._store.sources.all()
            with self._store.engine.connect() as conn:
                teams = int(conn.scalar(select(func.count(distinct(slack_bots.c.team_id)))) or 0)
            delivery = delivery_health(self._store, now=self._clock(), timings=self._timings)
        except (SQLAlchemyError, StoreError) as exc:
            log.warning("metrics: database unreachable: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield _labelled(
            "digestbot_outbox_messages",
            "Outbox rows by status (sent, PostgreSQL past 100k rows: estimated)", "status",
            {s: counts.get(s, 0) for s in sorted({*OUTBOX_STATUSES, *counts})},
        )  # fmt: skip
        yield GaugeMetricFamily(
            "digestbot_articles_stored",
            "Articles in the store (PostgreSQL past 100k rows: the planner's estimate)",
            value=articles,
        )
        yield GaugeMetricFamily(
            "digestbot_store_sizes_estimated",
            "1 when digestbot_articles_stored or outbox_messages{status=sent} is PostgreSQL's "
            "estimate (pg_class.reltuples) rather than a count",
            value=int(sizes.estimated),
        )
        failing = sorted(
            (s for s in sources if s.consecutive_failures),
            key=lambda s: (-s.consecutive_failures, s.name),
        )
        yield GaugeMetricFamily("digestbot_sources", "Configured sources seen", value=len(sources))
        yield GaugeMetricFamily(
            "digestbot_sources_failing", "Sources whose last poll failed", value=len(failing)
        )
        yield _labelled(
            "digestbot_source_consecutive_failures",
            "Failed polls in a row, per failing source (the worst 500)", "source",
            {redact(s.name): s.consecutive_failures for s in failing[:_SHOWN_FAILING_SOURCES]},
        )  # fmt: skip
        yield GaugeMetricFamily(
            "digestbot_delivery_ok",
            "1 when delivery is not in trouble (/healthz's delivery.ok, `digestbot status`)",
            value=int(delivery.ok),
        )
        yield GaugeMetricFamily(
            "digestbot_slack_workspaces",
            "Slack workspaces with the app installed (OAuth)",
            value=teams,
        )


def _labelled(name: str, doc: str, label: str, values: Mapping[str, float]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=[label])
    for key, value in values.items():
        family.add_metric([key], value)
    return family


class MeteredSender:
    """Wraps a platform's outbox sender: counts sends and observes delivery latency."""

    def __init__(self, sender: Sender, metrics: Metrics, *, clock: Callable[[], datetime]) -> None:
        self._sender, self._metrics, self._clock = sender, metrics, clock
        self.platform = sender.platform

    async def send(self, message: OutboxMessage) -> str | None:
        """Send through the wrapped sender, counting the outcome."""
        try:
            remote = await self._sender.send(message)
        except DeliveryError as exc:
            result = "retry" if exc.retryable else "failed"
            self._metrics.delivered.labels(self.platform, result).inc()
            raise
        self._metrics.sent(message, now=self._clock())
        return remote

    async def find_sent(self, message: OutboxMessage) -> str | None:
        """The wrapped sender's reconcile, unchanged."""
        return await self._sender.find_sent(message)


def metered(
    senders: Mapping[str, Sender], metrics: Metrics, *, clock: Callable[[], datetime]
) -> dict[str, Sender]:
    """Every sender wrapped in a :class:`MeteredSender`."""
    return {name: MeteredSender(s, metrics, clock=clock) for name, s in senders.items()}
