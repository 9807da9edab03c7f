"""Scheduling with an injected clock: exactly-once runs, catch-up, DST, live jobs. No sleeping."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.deliver import RunResult
from bot.platforms.slack.render import digest_parts
from bot.schedule import DigestScheduler, normalize_slot, trigger_for
from digests.config import Settings, load_settings
from digests.store import Store
from digests.store.subscriptions import Subscription
from tests.bot.conftest import add_taiwan_articles
from tests.conftest import NOW, make_processed

RENDERERS = {"slack": digest_parts}


def _sub(
    store: Store, cron: str = "0 8 * * *", tz: str = "UTC", topics=("taiwan",)
) -> Subscription:
    return store.subscriptions.upsert(
        "morning",
        platform="slack",
        channel="C1",
        topics=topics,
        cron=cron,
        timezone=tz,
        origin="config",
        now=NOW,
    )


def _run(
    store: Store, settings: Settings, sub: Subscription, slot: datetime, owner: str = "a"
) -> RunResult:
    """What the slot's cron job does when it fires at ``slot``: the scheduler's own run."""
    result = _fire(_scheduler(store, settings, slot, owner), sub.name, slot)
    assert result is not None  # the clock is on the slot: it is due
    return result


def _fire(scheduler: DigestScheduler, name: str, at: datetime) -> RunResult | None:
    try:
        return asyncio.run(scheduler.run_slot(name, at))
    finally:
        scheduler.shutdown()


def test_two_runs_of_one_slot_queue_one_digest(store: Store, settings: Settings) -> None:
    add_taiwan_articles(store)
    sub = _sub(store)
    first = _run(store, settings, sub, NOW)
    second = _run(store, settings, sub, NOW, owner="b")
    assert first.status == "queued" and first.key == f"run:{first.run_id}"
    assert second.status == "skipped" and second.run_id is None
    rows = store.outbox.messages(first.key)
    assert len(rows) == first.messages >= 1
    assert "metadata" not in rows[0].payload  # the sender names the key from the row
    assert store.subscriptions.get("morning").watermark == store.articles.latest_id()


def test_two_processes_on_one_database_claim_a_slot_once(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    add_taiwan_articles(store)
    sub = _sub(store)
    other = Store.open(f"sqlite:///{tmp_path / 'data' / 'test.db'}")  # a second replica
    try:
        results = [_run(store, settings, sub, NOW, "a"), _run(other, settings, sub, NOW, "b")]
    finally:
        other.close()
    assert sorted(r.status for r in results) == ["queued", "skipped"]


def test_nothing_new_posts_nothing_and_later_articles_come_next(
    store: Store, settings: Settings
) -> None:
    add_taiwan_articles(store)
    sub = _sub(store)
    assert _run(store, settings, sub, NOW).status == "queued"
    tomorrow = NOW + timedelta(days=1)
    assert _run(store, settings, sub, tomorrow).status == "empty"
    late = make_processed(
        "Taiwan late story",
        "Taiwan said something new late at night. More text here.",
        tags=(("taiwan", 2),),
    )
    new_id = store.articles.add(late, now=tomorrow)
    result = _run(store, settings, sub, tomorrow + timedelta(days=1))
    assert result.status == "queued"
    [row] = store.outbox.messages(result.key)
    assert (
        "Taiwan late story" in str(row.payload["blocks"])
        and new_id == store.subscriptions.get("morning").watermark
    )


def _scheduler(
    store: Store, settings: Settings, clock: datetime, owner: str = "test"
) -> DigestScheduler:
    """A scheduler with a fake clock and no senders: runs queue digests, nothing is sent."""
    return DigestScheduler(
        store,
        settings,
        renderers=RENDERERS,
        senders={},
        owner=owner,
        clock=lambda: clock,
        poll_sources=False,
    )


def test_catch_up_after_downtime_posts_exactly_one_digest(store: Store, settings: Settings) -> None:
    add_taiwan_articles(store)
    _sub(store)  # 08:00 UTC daily; the bot was down from 07:00 to 08:40
    restarted = NOW.replace(hour=8, minute=40)
    results = asyncio.run(_scheduler(store, settings, restarted).catch_up())
    assert [r.status for r in results] == ["queued"]
    assert (
        asyncio.run(_scheduler(store, settings, restarted + timedelta(minutes=1)).catch_up()) == []
    )
    assert len(store.outbox.waiting(limit=100)) == results[0].messages


def test_no_catch_up_past_the_grace_window(store: Store, settings: Settings) -> None:
    add_taiwan_articles(store)
    _sub(store)
    late = NOW.replace(hour=9, minute=1)  # grace is 3600 s: the 08:00 slot is dropped...
    assert asyncio.run(_scheduler(store, settings, late).catch_up()) == []
    # ...but not its articles: the next slot's digest holds them (watermark unchanged).
    assert _run(store, settings, _sub(store), NOW + timedelta(days=1)).status == "queued"


def _fire_times(sub: Subscription, start: datetime, end: datetime) -> list[datetime]:
    trigger, out = trigger_for(sub), []
    t = trigger.get_next_fire_time(None, start)
    while t and t <= end:
        out.append(t.astimezone(UTC))
        t = trigger.get_next_fire_time(t, t.astimezone(UTC) + timedelta(seconds=1))
    return out


def test_dst_spring_forward_fires_once_that_day(store: Store) -> None:
    sub = _sub(store, cron="30 1 * * *", tz="Europe/London")
    fires = _fire_times(sub, datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC))
    # 01:30 does not exist on 29 March: APScheduler fires at 02:30 BST (01:30 UTC) instead.
    assert fires == [
        datetime(2026, 3, 28, 1, 30, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        datetime(2026, 3, 30, 0, 30, tzinfo=UTC),
    ]


def test_dst_fall_back_fires_twice_but_posts_once(store: Store, settings: Settings) -> None:
    add_taiwan_articles(store)
    sub = _sub(store, cron="30 1 * * *", tz="Europe/London")
    fires = _fire_times(sub, datetime(2026, 10, 25, tzinfo=UTC), datetime(2026, 10, 26, tzinfo=UTC))
    assert fires == [
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
    ]
    slots = {normalize_slot(t, "Europe/London") for t in fires}
    assert slots == {datetime(2026, 10, 25, 0, 30, tzinfo=UTC)}
    # What each firing job does: find its slot with the clock it wakes up to, and run it.
    results = [
        _fire(
            _scheduler(store, settings, t + timedelta(seconds=2), "a"),
            sub.name,
            t + timedelta(seconds=2),
        )
        for t in fires
    ]
    assert [r.status if r else None for r in results] == ["queued", "skipped"]


def test_start_syncs_config_and_schedules_jobs(config_dir: Path, store: Store) -> None:
    (config_dir / "subscriptions.toml").write_text(
        '[[subscription]]\nname = "news"\nplatform = "slack"\nchannel = "C9"\n'
        'topics = ["taiwan"]\ncron = "0 7 * * 1-5"\ntimezone = "Europe/Paris"\n'
    )
    settings = load_settings({}, config_dir)
    # A clock a day ahead: the poll jobs (first run "now") stay in the future of this test.
    later = datetime.now(UTC) + timedelta(days=1)
    scheduler = DigestScheduler(
        store, settings, renderers=RENDERERS, senders={}, owner="t", clock=lambda: later
    )

    async def scenario() -> dict[str, str]:
        await scheduler.start()
        try:
            jobs = {
                job.id: f"{job.trigger} {job.trigger.timezone}"
                for job in scheduler.scheduler.get_jobs()
            }
            scheduler.schedule(
                store.subscriptions.upsert(
                    "news",
                    platform="slack",
                    channel="C9",
                    topics=("taiwan",),
                    cron="15 9 * * *",
                    timezone="Europe/Paris",
                    origin="config",
                    now=later,
                )
            )
            jobs["replaced"] = str(scheduler.scheduler.get_job("digest:news").trigger)
            scheduler.unschedule("news")
            jobs["after_unschedule"] = str(scheduler.scheduler.get_job("digest:news"))
            return jobs
        finally:
            scheduler.shutdown()

    jobs = asyncio.run(scenario())
    stored = store.subscriptions.get("news")
    assert stored is not None and stored.origin == "config" and stored.channel == "C9"
    assert set(jobs) >= {"digest:news", "poll", "outbox"}
    inbox = store.sources.get("inbox")  # sources.toml seeds the shared poll schedule
    assert inbox is not None and inbox.origin == "config" and inbox.scheduled
    assert "day_of_week='1-5'" in jobs["digest:news"] and "Europe/Paris" in jobs["digest:news"]
    assert "minute='15'" in jobs["replaced"] and jobs["after_unschedule"] == "None"
    job_defaults = scheduler.scheduler._job_defaults  # the grace time we rely on for restarts
    assert job_defaults["misfire_grace_time"] == settings.misfire_grace_seconds


def test_runs_of_one_slot_compose_once_in_threads_of_their_own(
    any_store: Store, settings: Settings
) -> None:
    """The scheduler's runs: claimed and queued on its digest-run threads (not the loop's,
    which the sweeper's database calls use), one rendering for same-watermark runs."""
    import threading

    add_taiwan_articles(any_store)
    for name, channel in (("a", "C1"), ("b", "C2")):
        any_store.subscriptions.upsert(name, platform="slack", channel=channel, topics=("taiwan",),
                                   cron="0 8 * * *", timezone="UTC", origin="config", now=NOW,
                                   watermark=0)  # fmt: skip
    threads: list[str] = []

    def render(digest):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread().name)
        return digest_parts(digest)

    at = NOW.replace(hour=8, minute=0, second=5)
    scheduler = DigestScheduler(any_store, settings, renderers={"slack": render}, senders={},
                                owner="t", clock=lambda: at, poll_sources=False)  # fmt: skip

    async def both():  # type: ignore[no-untyped-def]
        return await asyncio.gather(scheduler.run_slot("a", at), scheduler.run_slot("b", at))

    try:
        results = asyncio.run(both())
    finally:
        scheduler.shutdown()
    assert [r.status for r in results] == ["queued", "queued"]
    assert len(threads) == 1 and threads[0].startswith("digest-run")
    assert scheduler.digests.hits == 2  # b reused a's digest and its rendering
    # One rendering, two runs: each row keeps its own key, the payloads are the same.
    rows = [any_store.outbox.messages(r.key) for r in results]
    assert [m.payload for m in rows[0]] == [m.payload for m in rows[1]]
    assert {m.digest_key for r in rows for m in r} == {r.key for r in results}


def test_serve_refreshes_learned_topics_on_a_schedule(store: Store, settings: Settings) -> None:
    from digests.config import Topic
    from tests.conftest import make_processed
    from tests.digests.topic_corpus import corpus

    settings = settings.model_copy(update={"topics": (Topic(name="sport"), Topic(name="tech"))})
    for _, title, body in corpus(30):
        store.articles.add(make_processed(title, body), now=NOW)
    scheduler = _scheduler(store, settings, NOW)

    async def scenario() -> list[str]:
        await scheduler.start()
        try:
            job = scheduler.scheduler.get_job("topics")
            assert job is not None and job.trigger.interval.total_seconds() > 0
            await job.func()  # what the interval runs: the first one fits
            return [t for a in store.articles.get([1, 2, 3]) for t in a.tags]
        finally:
            scheduler.shutdown()

    tags = asyncio.run(scenario())
    assert store.topics.latest_model() is not None and set(tags) <= {"sport", "tech"}


def _config(config_dir: Path, *names: str) -> Settings:
    (config_dir / "subscriptions.toml").write_text(
        "".join(
            f'[[subscription]]\nname = "{n}"\nplatform = "slack"\nchannel = "C{i}"\n'
            'cron = "0 8 * * *"\n'
            for i, n in enumerate(names)
        )
    )
    return load_settings({}, config_dir)


def _started_jobs(store: Store, settings: Settings, at: datetime) -> set[str]:
    """The digest jobs ``serve`` schedules when it starts with ``settings`` at ``at``."""
    scheduler = DigestScheduler(store, settings, renderers=RENDERERS, senders={}, owner="t",
                                clock=lambda: at, poll_sources=False)  # fmt: skip

    async def scenario() -> set[str]:
        await scheduler.start()
        try:
            return {j.id for j in scheduler.scheduler.get_jobs() if j.id.startswith("digest:")}
        finally:
            scheduler.shutdown()

    return asyncio.run(scenario())


def test_a_subscription_removed_from_the_config_file_stops_at_the_next_start(
    config_dir: Path, store: Store
) -> None:
    add_taiwan_articles(store)
    later = datetime.now(UTC) + timedelta(days=1)  # the jobs stay in this test's future
    both = _config(config_dir, "news", "sport")
    assert _started_jobs(store, both, later) == {"digest:news", "digest:sport"}
    # The operator deletes "sport" from subscriptions.toml and restarts serve.
    assert _started_jobs(store, _config(config_dir, "news"), later) == {"digest:news"}
    gone = store.subscriptions.get("sport")
    assert gone is not None and not gone.enabled  # its watermark is kept, it says why
    assert gone.disabled_reason is not None and "subscriptions.toml" in gone.disabled_reason
    # Not caught up either, at its slot...
    at_slot = later.replace(hour=8, minute=5)
    results = asyncio.run(_scheduler(store, both, at_slot).catch_up())
    assert {r.status for r in results} <= {"queued", "empty"} and len(results) == 1
    # ...and put back in the file, it runs again from where it was.
    assert _started_jobs(store, both, later) == {"digest:news", "digest:sport"}
    assert store.subscriptions.get("sport").enabled
    # A chat subscription (origin "chat") is not the file's to remove.
    store.subscriptions.upsert("chatty", platform="slack", channel="C7", topics=(),
                               cron="0 9 * * *", timezone="UTC", origin="chat", now=later)  # fmt: skip
    assert "digest:chatty" in _started_jobs(store, _config(config_dir, "news"), later)


def test_a_refit_that_fails_is_one_line_and_tried_again(
    store: Store, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """The topics job meets a locked database: one warning line (not a traceback every five
    minutes), serve goes on, and the next tick refits once the database is back."""
    from digests.config import Topic
    from digests.errors import StoreUnavailable
    from tests.digests.topic_corpus import corpus

    caplog.set_level(logging.INFO, logger="bot")
    settings = settings.model_copy(update={"topics": (Topic(name="sport"), Topic(name="tech"))})
    for _, title, body in corpus(30):
        store.articles.add(make_processed(title, body), now=NOW)
    scheduler = _scheduler(store, settings, NOW)
    latest_model = store.topics.latest_model
    down = [True]

    def locked():  # type: ignore[no-untyped-def]
        if down[0]:
            raise StoreUnavailable("database is locked")
        return latest_model()

    store.topics.latest_model = locked  # type: ignore[method-assign]

    async def scenario() -> None:
        await scheduler.start()
        try:
            job = scheduler.scheduler.get_job("topics")
            for _ in range(3):  # three ticks while the database is locked
                await job.func()
            down[0] = False
            await job.func()
        finally:
            scheduler.shutdown()

    asyncio.run(scenario())
    topics = [r for r in caplog.records if "topics" in r.getMessage()]
    assert [r.levelname for r in topics] == ["WARNING", "INFO", "INFO"], caplog.text
    assert "database is locked" in topics[0].getMessage() and not topics[0].exc_info
    assert "work again" in topics[1].getMessage()
    assert store.topics.latest_model() is not None  # refitted at the first tick after


def test_a_slot_that_comes_while_serve_starts_is_not_lost(config_dir: Path, store: Store) -> None:
    """serve reads its schedule at 07:59:58, the first ingest and the catch-up take until after
    08:00: the 08:00 digest job must still be due at 08:00 (APScheduler then runs it late,
    within the grace time), not first at tomorrow's 08:00."""
    settings = _config(config_dir, "news")  # 0 8 * * * UTC
    day = (datetime.now(UTC) + timedelta(days=2)).replace(
        hour=7, minute=59, second=58, microsecond=0
    )
    scheduler = DigestScheduler(store, settings, renderers=RENDERERS, senders={}, owner="t",
                                clock=lambda: day, poll_sources=False)  # fmt: skip

    async def scenario() -> datetime | None:
        await scheduler.start()
        try:
            job = scheduler.scheduler.get_job("digest:news")
            return job.next_run_time if job is not None else None
        finally:
            scheduler.shutdown()

    at = asyncio.run(scenario())
    assert at is not None and at.astimezone(UTC) == day.replace(hour=8, minute=0, second=0)


def test_an_article_stored_just_before_a_slot_is_in_its_topic_digest(
    store: Store, settings: Settings
) -> None:
    """With learned topics, polling stores an article with its keyword tags only; the topics
    job tags it with the model up to 5 minutes later. A #sport digest due in between left
    out a sport story that never says "sport", and moved its watermark past it: the story
    was never posted to that channel, even once tagged."""
    import random

    from digests.config import Topic
    from tests.digests.topic_corpus import corpus, story

    settings = settings.model_copy(update={"topics": (Topic(name="sport"), Topic(name="tech"))})
    for _, title, body in corpus(12):
        store.articles.add(make_processed(title, body), now=NOW)
    scheduler = _scheduler(store, settings, NOW)

    async def fit() -> None:
        await scheduler.start()
        try:
            await scheduler.scheduler.get_job("topics").func()  # the model in use
        finally:
            scheduler.shutdown()

    asyncio.run(fit())
    _sub(store, topics=("sport",))
    store.subscriptions.advance("morning", store.articles.latest_id())
    # 07:58, two polls: a match report that never names its topic (no keyword tag), then a
    # roundup that says "sport" twice (the keyword tagger's sport).
    title, body = story("sport", random.Random(3), say_name=False)
    quiet = store.articles.add(make_processed(title, body), now=NOW)
    loud = store.articles.add(
        make_processed("Sport roundup", "A week of sport. Sport fans cheered the final.",
                       tags=(("sport", 2),)),
        now=NOW,
    )  # fmt: skip
    result = _run(store, settings, store.subscriptions.get("morning"), NOW.replace(hour=8))
    assert result.status == "queued"
    assert quiet in result.articles and loud in result.articles


def test_a_digest_due_during_a_refit_waits_for_it_and_tags_after(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The topics job (refit, then tag) and a digest's tagging pass ran at once: the old
    model could overwrite tags the refit had just written, and the watermark (the max of
    both) then skipped re-tagging them. A digest due during a refit now waits for it, then
    tags from the refit's watermark with the new model."""
    import threading
    from types import SimpleNamespace

    import digests.refit
    from digests.config import Topic

    settings = settings.model_copy(update={"topics": (Topic(name="sport"),)})
    scheduler = _scheduler(store, settings, NOW)
    events: list[str] = []
    refitting, tagged = threading.Event(), threading.Event()

    def refresh_after(store, topics, *, now, watermark):  # type: ignore[no-untyped-def]
        events.append("refit starts")
        refitting.set()
        tagged.wait(timeout=1.0)  # a digest tagging beside the refit does it by now
        events.append("refit ends")
        return SimpleNamespace(fitted=False, busy=False), 42

    def tag_new(store, topics, *, watermark):  # type: ignore[no-untyped-def]
        events.append(f"tag from {watermark}")
        tagged.set()
        return 0, None

    monkeypatch.setattr(digests.refit, "refresh_after", refresh_after)
    monkeypatch.setattr(digests.refit, "tag_new", tag_new)

    async def scenario() -> None:
        try:
            refit = asyncio.create_task(scheduler._topics_job())
            await asyncio.to_thread(refitting.wait, 5)  # the refit is under way
            await asyncio.gather(scheduler._tag_new(), refit)  # a digest's slot comes
        finally:
            scheduler.shutdown()

    asyncio.run(scenario())
    assert events == ["refit starts", "refit ends", "tag from 42"]


def test_a_run_logs_queued_before_its_parts_are_sent(
    store: Store, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """serve's log showed `sent slack C1 part 1 (run:8)` before the same run's `digest …:
    queued` line: the run swept its parts before it logged. The queued line now comes first."""

    class Answers:
        platform = "slack"

        async def send(self, message: object) -> str:
            return "1.0"

        async def find_sent(self, message: object) -> None:
            return None

    add_taiwan_articles(store)
    sub = _sub(store)
    at = NOW.replace(hour=8, minute=0, second=5)
    scheduler = DigestScheduler(store, settings, renderers=RENDERERS, senders={"slack": Answers()},
                                owner="t", clock=lambda: at, poll_sources=False)  # fmt: skip
    with caplog.at_level(logging.INFO, logger="bot"):
        result = asyncio.run(scheduler.run_slot(sub.name, at))
    assert result is not None and result.status == "queued"
    lines = [r.getMessage() for r in caplog.records]
    queued = [
        i for i, line in enumerate(lines) if line.startswith("digest morning") and "queued" in line
    ]
    sent = [i for i, line in enumerate(lines) if line.startswith("sent slack")]
    assert queued and sent, lines
    assert queued[0] < sent[0], lines
