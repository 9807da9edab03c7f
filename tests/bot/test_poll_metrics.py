"""A poll's outcome in /metrics agrees with `digestbot sources` (QA, third pass).

A feed whose one new entry's article page answered 404 was counted as a failed poll
(``digestbot_polls_total{result="failed"}``, ``digestbot_source_failures_total``) while the
source's row — what `digestbot sources` shows — said 0 failures and "last ok". An entry's
page failing is not the feed failing (it is retried at the next poll, README "Sources"): the
row was right. Now a poll counts as failed exactly when the source's health records an
error, whatever the report's other counts.

The real Poller with the bot's Metrics as its ``on_poll``, feeds served over loopback HTTP.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.metrics import Metrics
from digests.config import Settings
from digests.ingest.polling import Poller
from digests.store import Store
from tests.digests.http_fixtures import LocalWeb, rss, send, web  # noqa: F401
from tests.polls import wait_polled


def _poll_all(store: Store, settings: Settings, metrics: Metrics, due: int) -> None:
    poller = Poller(store, settings, owner="me", clock=lambda: datetime.now(UTC),
                    on_poll=metrics.poll_done)  # fmt: skip
    try:
        assert poller.tick() == due
        wait_polled(poller, due)
    finally:
        poller.close()


def test_an_entry_page_404_is_no_failed_poll_and_a_dead_feed_is_one(
    web: LocalWeb,  # noqa: F811 - fixture
    settings: Settings,
    store: Store,
) -> None:
    local = settings.model_copy(update={"allow_private_networks": True})
    # One entry, link only; its article page is gone.
    web.routes["/one-entry.xml"] = lambda h: send(
        h, 200, rss(web.base, order=("three",)), ctype="application/rss+xml"
    )
    web.routes["/articles/three.html"] = lambda h: send(h, 404, "no")
    now = datetime.now(UTC)
    store.sources.add("entry-gone", kind="feed", location=web.url("/one-entry.xml"),
                      poll_seconds=600, now=now)  # fmt: skip
    store.sources.add("feed-gone", kind="feed", location=web.url("/missing"), poll_seconds=600,
                      now=now)  # fmt: skip
    metrics = Metrics(store)
    _poll_all(store, local, metrics, due=2)

    rows = {s.name: s for s in store.sources.all()}
    text = metrics.render().decode()
    # The source whose entry failed: fine in both views.
    assert rows["entry-gone"].consecutive_failures == 0 and rows["entry-gone"].last_ok_at
    assert 'digestbot_source_failures_total{source="entry-gone"}' not in text
    assert 'digestbot_polls_total{result="unchanged"} 1.0' in text
    # The feed that is gone: failing in both views, counted once.
    assert rows["feed-gone"].consecutive_failures == 1
    assert 'digestbot_source_failures_total{source="feed-gone"} 1.0' in text
    assert 'digestbot_polls_total{result="failed"} 1.0' in text
