"""kill -9 of a `digestbot serve` process mid-post: a second one reconciles, nothing twice.

The first process posts part 1 of the queue; the Slack stand-in applies it but holds the
answer, and the process is killed (SIGKILL) while it waits. A second process on the same
database takes the row once its lease lapses, finds the message in the channel by its
metadata, records it and sends the rest. Per-article accounting is read from the channel.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.deliver import claim_and_queue
from bot.schedule import target_of
from bot.serve import renderers
from digests.config import Settings
from digests.store import Store
from testkit.delivery import add_articles, shown
from testkit.processes import serve_digestbot
from testkit.slack_stub import SlackStub


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_kill_9_mid_post_then_a_second_process_delivers_each_article_once(
    db: str, request: pytest.FixtureRequest, settings: Settings, config_dir: Path,
    slack_stub: SlackStub,
) -> None:  # fmt: skip
    store: Store = request.getfixturevalue("store" if db == "sqlite" else "pg_store")
    url = store.engine.url.render_as_string(hide_password=False)
    now = datetime.now(UTC)
    sub = store.subscriptions.upsert("yearly", platform="slack", channel="CKILL", topics=(),
                                 cron="0 0 1 1 *", timezone="UTC", origin="chat", now=now)  # fmt: skip
    for k in range(3):  # three digests queued, oldest first
        add_articles(store, range(1 + 3 * k, 4 + 3 * k))
        slot = now - timedelta(days=10 - k)
        result = claim_and_queue(  # what a scheduled run does before it sends
            store, target_of(sub), sub.id, slot, now=now, renderers=renderers(), owner="test"
        )
        assert result.status == "queued"
    slack_stub.strict = True
    slack_stub.apply_then_delay("chat.postMessage", 60.0)  # applied; the answer never comes in time
    env = {
        "DIGESTBOT_DATABASE_URL": url,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": "secret",
        "SLACK_API_URL": slack_stub.api_url,
        # Scaled down (production: 20 s and a 45 s lease). The send timeout must outlast the
        # time from the post to the kill, even on a loaded machine (3 s once did not: the row
        # was already an unknown outcome, unclaimed, when the process died); the lease must
        # outlast the send timeout (bot.sweep.Timings).
        "DIGESTBOT_SEND_TIMEOUT": "10",
        "DIGESTBOT_OUTBOX_LEASE": "12",
        "DIGESTBOT_OUTBOX_SWEEP": "0.3",
        "DIGESTBOT_RETRY_BASE": "0.3",
    }
    with serve_digestbot(config_dir, env=env, timeout=60) as first:
        slack_stub.wait_until(lambda: len(slack_stub.posted("CKILL")) == 1, 30)
        os.killpg(first.proc.pid, signal.SIGKILL)  # mid-post: applied, not recorded
        first.proc.wait(10)
    killed = time.monotonic()
    [row] = [m for m in store.outbox.waiting() if m.status == "sending"]
    assert row.claimed_by  # held by the dead process until its lease lapses
    with serve_digestbot(config_dir, env=env, timeout=60):
        slack_stub.wait_until(lambda: set(shown(slack_stub, "CKILL")) == set(range(1, 10)), 45)
        reconciled = time.monotonic() - killed
    assert shown(slack_stub, "CKILL") == Counter(range(1, 10))  # every article exactly once
    assert len(slack_stub.of("chat.postMessage")) == len(slack_stub.posted("CKILL"))
    assert slack_stub.of("conversations.history")  # looked before deciding
    assert slack_stub.refused == []
    assert reconciled < 60  # within a minute of the crash
    assert [m.status for m in store.outbox.waiting()] == []
