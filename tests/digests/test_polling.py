"""Scheduled polling shared through the database: seed, add/remove, claims, leases, Poller."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler

import pytest
from sqlalchemy import event, insert, text

from digests.config import PollConfig, Settings, SourceConfig
from digests.errors import InputError
from digests.ingest.pipeline import IngestReport
from digests.ingest.polling import Poller, next_poll
from digests.models import SourceKind
from digests.store import Store
from digests.store.schema import sources
from digests.store.sources import Finished, Health, claim_statement
from tests.conftest import NOW
from tests.digests.http_fixtures import LocalWeb, rss, send, web  # noqa: F401 - fixture
from tests.polls import wait_polled

LEASE = timedelta(minutes=5)


def _feeds(n: int) -> list[SourceConfig]:
    return [
        SourceConfig(name=f"f{i}", kind=SourceKind.FEED, location=f"http://127.0.0.1:9/{i}.xml")
        for i in range(n)
    ]


def test_seed_schedules_config_sources_and_retires_removed_ones(any_store: Store) -> None:
    any_store.sources.ensure("http://x.test/once", kind="url", location="http://x.test/once")
    any_store.sources.seed(_feeds(3), now=NOW)
    rows = {s.name: s for s in any_store.sources.all()}
    assert {n for n, s in rows.items() if s.scheduled} == {"f0", "f1", "f2"}
    assert rows["f0"].next_poll_at == NOW and rows["f0"].poll_seconds == 1800
    assert rows["f0"].origin == "config" and not rows["http://x.test/once"].scheduled
    any_store.sources.seed(_feeds(2), now=NOW + timedelta(hours=1))  # f2 left the config
    rows = {s.name: s for s in any_store.sources.all()}
    assert rows["f2"].next_poll_at is None and rows["f2"].origin is None
    assert rows["f0"].next_poll_at == NOW  # an existing schedule is kept


def test_add_and_remove_at_run_time(any_store: Store) -> None:
    any_store.sources.seed(_feeds(1), now=NOW)
    added = any_store.sources.add(
        "blog", kind="feed", location="http://b.test/rss", tags=("tech",), poll_seconds=900, now=NOW
    )
    assert (added.origin, added.tags, added.poll_seconds, added.next_poll_at) == (
        "cli",
        ("tech",),
        900,
        NOW,
    )
    with pytest.raises(InputError, match="already exists"):
        any_store.sources.add(
            "blog", kind="feed", location="http://c.test", poll_seconds=60, now=NOW
        )
    with pytest.raises(InputError, match="already polled as 'blog'"):
        any_store.sources.add(
            "b2", kind="feed", location="http://b.test/rss", poll_seconds=60, now=NOW
        )
    with pytest.raises(InputError, match="sources.toml"):
        any_store.sources.remove("f0")
    with pytest.raises(InputError, match="no source named"):
        any_store.sources.remove("nope")
    any_store.sources.remove("blog")
    assert any_store.sources.get("blog") is None


def test_claims_are_disjoint_and_leases_expire(any_store: Store) -> None:
    any_store.sources.seed(_feeds(5), now=NOW)
    first = any_store.sources.claim("a", now=NOW, limit=3, lease=LEASE)
    second = any_store.sources.claim("b", now=NOW, limit=10, lease=LEASE)
    assert len(first) == 3 and len(second) == 2
    assert not {s.id for s in first} & {s.id for s in second}
    assert any_store.sources.claim("b", now=NOW + timedelta(minutes=4), limit=10, lease=LEASE) == []
    for s in second:  # "b" polled its two: next time in an hour
        assert any_store.sources.finish(s.id, "b", next_poll_at=NOW + timedelta(hours=1))
    # "a" dies; after the lease its three are due again and "b" takes them over.
    later = NOW + LEASE + timedelta(seconds=1)
    taken = any_store.sources.claim("b", now=later, limit=10, lease=LEASE)
    assert {s.id for s in taken} == {s.id for s in first}
    assert not any_store.sources.finish(first[0].id, "a", next_poll_at=later)  # claim was lost
    assert any_store.sources.finish(first[0].id, "b", next_poll_at=later + timedelta(hours=1))
    state = any_store.sources.get(first[0].name)
    assert state is not None and state.claimed_by is None
    assert state.next_poll_at == later + timedelta(hours=1)
    assert any_store.sources.release("b", now=later) == 2  # a clean shutdown hands back the rest


def test_settle_releases_with_health_and_claims_in_one_transaction(any_store: Store) -> None:
    any_store.sources.seed(_feeds(4), now=NOW)
    mine = any_store.sources.claim("a", now=NOW, limit=2, lease=LEASE)
    later = NOW + timedelta(minutes=1)
    ok = Finished(mine[0].id, NOW + timedelta(hours=1), Health(later, etag='"e1"', note="odd"))
    bad = Finished(mine[1].id, NOW + timedelta(hours=2), Health(later, error="HTTP 503"))
    stranger = Finished(mine[0].id + 100, NOW, Health(later))  # not a claim of "a"
    commits = _count_commits(any_store)
    lost, claimed = any_store.sources.settle(
        "a", [ok, bad, stranger], now=later, claim=5, lease=LEASE
    )
    assert commits() == 1  # released, health written and the rest claimed together
    assert lost == [stranger.source_id]
    assert sorted(s.name for s in claimed) == ["f2", "f3"]  # not the two just released
    rows = {s.name: s for s in any_store.sources.all()}
    good, failed = rows[mine[0].name], rows[mine[1].name]
    assert (good.etag, good.last_error, good.last_ok_at, good.claimed_by) == (
        '"e1"',
        "odd",
        later,
        None,
    )
    assert good.next_poll_at == NOW + timedelta(hours=1) and good.consecutive_failures == 0
    assert (failed.consecutive_failures, failed.last_error, failed.last_ok_at) == (
        1,
        "HTTP 503",
        None,
    )
    assert failed.last_polled_at == later and failed.next_poll_at == NOW + timedelta(hours=2)


def _count_commits(store: Store) -> Callable[[], int]:
    seen = [0]

    def commit(_conn: object) -> None:
        seen[0] += 1

    event.listen(store.engine, "commit", commit)
    return lambda: seen[0]


def test_concurrent_claimers_never_share_a_source(pg_store: Store) -> None:
    """SKIP LOCKED: replicas (separate connections, at once) split the due rows."""
    pg_store.sources.seed(_feeds(200), now=NOW)
    barrier = threading.Barrier(4)
    got: dict[str, list[int]] = {}

    def claimer(owner: str) -> None:
        barrier.wait()
        ids: list[int] = []
        while batch := pg_store.sources.claim(owner, now=NOW, limit=7, lease=LEASE):
            ids.extend(s.id for s in batch)
        got[owner] = ids

    threads = [threading.Thread(target=claimer, args=(f"r{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for ids in got.values() for i in ids]
    assert len(every) == len(set(every)) == 200
    assert sum(1 for ids in got.values() if ids) >= 2  # the work really was shared


def test_a_claim_reads_only_the_rows_it_takes_when_thousands_are_due(pg_store: Store) -> None:
    """Thousands of sources due at once (a first start): a claim must not sort them all."""
    with pg_store.engine.begin() as conn:
        conn.execute(
            insert(sources),
            [
                {"name": f"s{i}", "kind": "feed", "location": f"http://x.test/{i}",
                 "consecutive_failures": 0, "next_poll_at": NOW}
                for i in range(5000)
            ],
        )  # fmt: skip
        conn.execute(text("ANALYZE sources"))
        claim = claim_statement("me", now=NOW, limit=8, lease=LEASE)
        sql = str(claim.compile(pg_store.engine, compile_kwargs={"literal_binds": True}))
        plan = "\n".join(row[0] for row in conn.execute(text("EXPLAIN " + sql)))
    assert "ix_sources_next_poll_at" in plan and "Sort" not in plan, plan
    assert len(pg_store.sources.claim("me", now=NOW, limit=8, lease=LEASE)) == 8


def test_next_poll_backs_off_failing_sources(store: Store) -> None:
    store.sources.seed(
        [
            SourceConfig(
                name="f", kind=SourceKind.FEED, location="http://127.0.0.1:9/", poll_minutes=10
            )
        ],
        now=NOW,
    )
    state = store.sources.get("f")
    assert state is not None
    done = NOW + timedelta(minutes=1)  # a slow poll: the cadence still counts from the claim
    assert next_poll(state, NOW, done, failed=False, jitter=0) == NOW + timedelta(minutes=10)
    assert next_poll(state, NOW, done, failed=True, jitter=0) == NOW + timedelta(minutes=20)
    failing = dataclasses.replace(state, consecutive_failures=30)
    assert next_poll(failing, NOW, done, failed=True, jitter=0) == NOW + timedelta(hours=6)
    jittered = next_poll(state, NOW, done, failed=False, jitter=0.1)
    assert NOW + timedelta(minutes=9.5) <= jittered <= NOW + timedelta(minutes=10.5)
    late = NOW + timedelta(minutes=15)  # a poll longer than its interval: due when it ends
    assert next_poll(state, NOW, late, failed=False, jitter=0) == late


@pytest.fixture
def local(settings: Settings) -> Settings:
    return settings.model_copy(update={"allow_private_networks": True})


def test_poller_polls_due_sources_once_per_interval(
    web: LocalWeb,  # noqa: F811 - fixture
    local: Settings,
    any_store: Store,
) -> None:
    any_store.sources.add(
        "news", kind="feed", location=web.url("/cached.xml"), poll_seconds=600, now=NOW
    )
    any_store.sources.add(
        "gone", kind="feed", location=web.url("/missing"), poll_seconds=600, now=NOW
    )
    clock = [NOW]
    options = PollConfig(workers=2, jitter=0)
    report = _poll_round(any_store, local, options, lambda: clock[0], due=2)
    assert len(report.added) == 3 and len(report.failed) == 1
    news, gone = any_store.sources.get("news"), any_store.sources.get("gone")
    assert news is not None and gone is not None
    assert news.next_poll_at == NOW + timedelta(minutes=10) and news.claimed_by is None
    assert gone.next_poll_at == NOW + timedelta(minutes=20)  # one failure: doubled
    # Health is written with the claim's release.
    assert (news.consecutive_failures, news.last_ok_at, news.etag) == (0, NOW, '"v1"')
    assert gone.consecutive_failures == 1 and "404" in (gone.last_error or "")
    nothing = _poll_round(any_store, local, options, lambda: clock[0], due=0)
    assert nothing.added == []  # nothing due yet: nothing fetched
    assert len(web.seen("/cached.xml")) == 1
    clock[0] = NOW + timedelta(minutes=10)
    again = _poll_round(any_store, local, options, lambda: clock[0], due=1)
    assert again.unchanged == 1 and again.added == []  # a conditional GET answered 304
    assert web.seen("/cached.xml")[-1].headers["if-none-match"] == '"v1"'
    news = any_store.sources.get("news")
    assert news is not None and news.etag == '"v1"'  # a 304 keeps the validators
    assert news.last_polled_at == news.last_ok_at == NOW + timedelta(minutes=10)
    assert len(web.seen("/missing")) == 1


def _poll_round(
    store: Store,
    settings: Settings,
    options: PollConfig,
    clock: Callable[[], datetime],
    *,
    due: int,
) -> IngestReport:
    """What a `serve` process does with due sources: one scheduler tick claims them for the
    poll workers; then it stops (``close`` records the finished polls). The merged report."""
    reports: list[IngestReport] = []
    poller = Poller(
        store, settings, owner="me", options=options, clock=clock,
        on_poll=lambda _name, report: reports.append(report),
    )  # fmt: skip
    try:
        assert poller.tick() == due
        wait_polled(poller, due)
    finally:
        poller.close()
    total = IngestReport()
    for r in reports:
        total.added.extend(r.added)
        total.unchanged += r.unchanged
        total.failed.extend(r.failed)
    return total


def test_poller_tick_is_bounded_by_free_workers(
    web: LocalWeb,  # noqa: F811 - fixture
    local: Settings,
    store: Store,
) -> None:
    release = threading.Event()

    def hold(h: BaseHTTPRequestHandler) -> None:  # answers once the test has looked
        release.wait(10)
        send(h, 200, rss(web.base), ctype="application/rss+xml")

    web.routes["/hold.xml"] = hold
    for i in range(5):
        store.sources.add(
            f"s{i}", kind="feed", location=web.url(f"/hold.xml?{i}"), poll_seconds=60, now=NOW
        )
    poller = Poller(
        store, local, owner="me", options=PollConfig(workers=2, batch=50), clock=lambda: NOW
    )
    try:
        assert poller.tick() == 2  # two workers: two claims, the rest stay due for others
        assert poller.tick() == 0  # no free worker: nothing more is claimed
        due = [s for s in store.sources.all() if s.claimed_by is None]
        assert len(due) == 3 and all(s.next_poll_at == NOW for s in due)
        release.set()
        wait_polled(poller, 5)  # a full claim: finishing workers claim the backlog themselves
    finally:
        release.set()
        poller.close()
    assert all(s.claimed_by is None for s in store.sources.all())


def test_sources_due_together_are_spread_apart_by_the_configured_jitter(
    web: LocalWeb,  # noqa: F811 - fixture
    local: Settings,
    store: Store,
) -> None:
    """Sources added at once would otherwise be polled in lockstep for ever (a burst every
    interval): with [poll] as loaded (jitter 0.1), each next poll lands somewhere in
    interval x (1 ± 0.05), and not all at the same moment."""
    assert local.poll.jitter == 0.1  # the default the operator gets
    for i in range(12):
        store.sources.add(
            f"s{i}", kind="feed", location=web.url(f"/cached.xml?{i}"), poll_seconds=600, now=NOW
        )
    poller = Poller(store, local, owner="me", clock=lambda: NOW)  # options from [poll]
    try:
        wait_polled(poller, 12, tick=True)
    finally:
        poller.close()
    due = [s.next_poll_at for s in store.sources.all() if s.name.startswith("s")]
    assert len(due) == 12 and all(d is not None for d in due)
    offsets = [(d - NOW).total_seconds() for d in due if d is not None]
    assert all(570 <= o <= 630 for o in offsets), offsets  # 600 s ± 5 %
    assert len({round(o, 3) for o in offsets}) >= 6, offsets  # spread, not one burst


def test_a_poll_longer_than_its_lease_is_not_started_again(
    web: LocalWeb,  # noqa: F811 - fixture
    local: Settings,
    any_store: Store,
) -> None:
    """poll_minutes = 1 and a feed (or its article pages) slower than the lease: while the
    poll runs, its claim is renewed, so neither this process's next ticks nor another
    replica start a second poll of the same source; its next poll is set when it ends."""
    release = threading.Event()

    def hold(h: BaseHTTPRequestHandler) -> None:
        release.wait(10)
        send(h, 200, rss(web.base), ctype="application/rss+xml")

    web.routes["/slow.xml"] = hold
    any_store.sources.add(
        "slow", kind="feed", location=web.url("/slow.xml"), poll_seconds=60, now=NOW
    )
    clock = [NOW]
    options = PollConfig(workers=2, lease_seconds=300, jitter=0)
    poller = Poller(any_store, local, owner="me", options=options, clock=lambda: clock[0])
    try:
        assert poller.tick() == 1
        for minutes in range(1, 16):  # a quarter of an hour of ticks, one a minute
            clock[0] = NOW + timedelta(minutes=minutes)
            assert poller.tick() == 0, f"started again after {minutes} min"
            other = any_store.sources.claim(
                "other-replica", now=clock[0], limit=10, lease=timedelta(seconds=300)
            )
            assert other == [], f"another replica took it after {minutes} min"
        release.set()
        wait_polled(poller, 1)
    finally:
        release.set()
        poller.close()
    assert len(web.seen("/slow.xml")) == 1
    slow = any_store.sources.get("slow")
    assert slow is not None and slow.claimed_by is None and slow.consecutive_failures == 0


def test_a_source_removed_while_it_is_polled_ends_the_poll_quietly(
    web: LocalWeb,  # noqa: F811 - fixture
    local: Settings,
    any_store: Store,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`digestbot sources remove` (another process) while `serve` polls that very source: the
    poll's stories are kept (stored like any other), its feed state is not written, and the
    log says so in one line — no foreign-key traceback, no "claim expired" warning, and the
    source does not come back."""
    caplog.set_level(logging.INFO, logger="digests")
    fetching, release = threading.Event(), threading.Event()

    def slow(h: BaseHTTPRequestHandler) -> None:  # a slow feed: answers once removed
        fetching.set()
        release.wait(10)
        send(h, 200, rss(web.base), ctype="application/rss+xml")

    web.routes["/slow.xml"] = slow
    any_store.sources.add("slow", kind="feed", location=web.url("/slow.xml"), poll_seconds=60,
                          now=NOW)  # fmt: skip
    reports: list[IngestReport] = []
    poller = Poller(any_store, local, owner="serve", options=PollConfig(workers=2, jitter=0),
                    clock=lambda: NOW, on_poll=lambda _name, r: reports.append(r))  # fmt: skip
    try:
        assert poller.tick() == 1
        assert fetching.wait(10)
        # `digestbot sources remove slow`: its own process, its own connection.
        other = Store.open(any_store.engine.url.render_as_string(hide_password=False))
        try:
            other.sources.remove("slow")
        finally:
            other.close()
        release.set()
        wait_polled(poller, 1)
        poller.tick()  # the next tick records what finished
    finally:
        release.set()
        poller.close()
    [report] = reports
    assert len(report.added) == 3 and report.error is None  # fetched, stored, kept
    assert any_store.sources.get("slow") is None  # removed stays removed
    with any_store.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM feed_items")) == 0
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert loud == [], [r.getMessage() for r in loud]
    [said] = [r.getMessage() for r in caplog.records if "removed while" in r.getMessage()]
    assert said.startswith("source slow was removed while it was polled")


def test_entries_of_a_removed_source_are_not_remembered(
    any_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from digests.store import feed_items as module

    blog = any_store.sources.add("blog", kind="feed", location="http://b.test/rss",
                                 poll_seconds=60, now=NOW)  # fmt: skip
    assert any_store.feed_items.mark_many(blog.id, {"http://b.test/1": "g1"}, now=NOW)
    any_store.sources.remove("blog")
    assert not any_store.feed_items.mark_many(blog.id, {"http://b.test/2": "g2"}, now=NOW)
    if any_store.engine.dialect.name == "sqlite":
        # Removed between the look (SQLite's takes no lock) and the insert: the foreign key
        # refuses it, and that is still "gone", not an error.
        looks = iter([True])
        real = module._source_held
        monkeypatch.setattr(module, "_source_held", lambda c, i: next(looks, None) or real(c, i))
        assert not any_store.feed_items.mark_many(blog.id, {"http://b.test/3": "g3"}, now=NOW)
    with any_store.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM feed_items")) == 0
