"""serve's housekeeping deletes sent parts past ``[digest] sent_kept_days``, and the digests
after it post nothing twice.

Real scheduler path against the Slack stand-in on 127.0.0.1 (claim, queue, the outbox, the
sender over HTTP), on SQLite and PostgreSQL: what a digest holds is decided by the
subscription's watermark, never by the sent rows that the retention deletes.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select
from typer.testing import CliRunner

from bot.cli import app
from bot.platforms.slack.sender import SlackSender, make_sender_client
from bot.schedule import DigestScheduler
from bot.serve import renderers
from bot.settings import BotSettings
from bot.sweep import Pacer
from digests.config import Settings
from digests.store import Store
from digests.store.schema import outbox
from testkit.slack_stub import SlackStub
from tests.conftest import NOW, make_processed

TITLES = {
    "a": "Karthala volcano erupts on Grande Comore",
    "b": "Harbour strike halts Rotterdam container traffic",
    "c": "Glacier survey finds Andes ice retreating faster",
    "d": "Chess olympiad opens in Chennai with record entries",
}


def _add(store: Store, key: str) -> None:
    body = f"{TITLES[key]} today, officials said. Reporters {key} filed more details later."
    assert store.articles.add(make_processed(TITLES[key], body), now=NOW) is not None


def test_sent_parts_past_the_retention_go_and_nothing_is_posted_twice(
    any_store: Store, settings: Settings, bot_settings: BotSettings, slack_stub: SlackStub
) -> None:
    store = any_store
    store.subscriptions.upsert(
        "morning", platform="slack", channel="CNEWS", topics=(), cron="0 8 * * *",
        timezone="UTC", origin="config", now=NOW, watermark=0,
    )  # fmt: skip
    clock = [NOW]
    scheduler = DigestScheduler(
        store, settings, renderers=renderers(), owner="t", clock=lambda: clock[0],
        senders={"slack": SlackSender(make_sender_client(bot_settings))}, pacer=Pacer(0.0),
        poll_sources=False,
    )  # fmt: skip

    def digest_on(day: int, *new: str) -> str | None:
        for key in new:
            _add(store, key)
        clock[0] = NOW + timedelta(days=day, seconds=5)
        result = asyncio.run(scheduler.run_slot("morning", clock[0]))
        assert result is not None
        return result.status

    def keys() -> list[str]:
        with store.engine.connect() as conn:
            return list(conn.scalars(select(outbox.c.digest_key).order_by(outbox.c.id)))

    try:
        assert digest_on(0, "a") == "queued"
        assert digest_on(93, "b") == "queued"
        assert digest_on(94, "c") == "queued"
        first = keys()[:2]  # day 0's digest: a headline and its thread reply (Slack)
        assert first == ["run:1", "run:1:thread"]
        assert asyncio.run(scheduler.prune_outbox()) == 2  # queued over 90 days ago
        assert keys() == ["run:2", "run:2:thread", "run:3", "run:3:thread"]  # days 93, 94
        assert asyncio.run(scheduler.prune_outbox()) == 0  # the next look is in an hour
        # After the pruning: nothing new, nothing posted; something new, only it posted.
        assert digest_on(95) == "empty"
        assert digest_on(96, "d") == "queued"
    finally:
        scheduler.shutdown()
    messages = slack_stub.posted("CNEWS")
    assert len(messages) == 8  # four digests, each a headline and one story
    stories = json.dumps([m for m in messages if "thread_ts" in m])
    assert all(stories.count(f"Reporters {key} filed") == 1 for key in TITLES), stories


def test_digest_post_from_cron_prunes_old_sent_parts_too(
    config_dir: Path, tmp_path: Path, slack_stub: SlackStub
) -> None:
    """A bot run from cron (`digest --post`, no serve) keeps a bounded outbox as well."""
    env = {"DIGESTBOT_CONFIG_DIR": str(config_dir), "DIGESTBOT_DATA_DIR": str(tmp_path / "data"),
           "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "secret",
           "SLACK_API_URL": slack_stub.api_url}  # fmt: skip
    store = Store.open(f"sqlite:///{tmp_path / 'data' / 'digestbot.db'}")
    old = datetime.now(UTC) - timedelta(days=100)
    row = {"part": 0, "platform": "slack", "channel": "C777", "payload": {}, "status": "sent",
           "attempts": 1, "next_attempt_at": old, "created_at": old, "checks": 0}  # fmt: skip
    with store.engine.begin() as conn:
        conn.execute(insert(outbox), [{**row, "digest_key": f"old:{i}"} for i in range(3)])
    store.close()
    result = CliRunner().invoke(app, ["digest", "--post", "C777"], env=env)
    assert result.exit_code == 0, result.output
    assert slack_stub.history["C777"]
    store = Store.open(f"sqlite:///{tmp_path / 'data' / 'digestbot.db'}")
    with store.engine.connect() as conn:
        keys = list(conn.scalars(select(outbox.c.digest_key)))
    store.close()
    assert keys and not any(k.startswith("old:") for k in keys), keys
