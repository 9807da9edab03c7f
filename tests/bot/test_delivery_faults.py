"""Issue #16 acceptance, timings scaled down: the served bot against a faulty, strict Slack.

The bot's own server (Starlette + the real DigestScheduler on its loop, under uvicorn) posts a
digest every 2 s (a seconds cron; production posts every minute) from 8 articles, 3 of which
match no topic, to a strict Slack stand-in whose first two ``chat.postMessage`` calls are
applied at once but answered only after 4 s while the bot gives up after 1 s (production: 40 s
against a 20 s timeout). Every article must show up in the channel exactly once — counted
from what the channel shows, not from the bot's own bookkeeping — and Slack must never have
refused a post. The full-scale run is ``benchmarks/delivery_faults.py``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import httpx
import pytest

from bot.platforms.slack.sender import SlackSender, make_sender_client
from bot.schedule import DigestScheduler
from bot.serve import renderers
from bot.server import create_server_app
from bot.settings import BotSettings
from bot.sweep import Timings
from digests.config import Settings
from digests.store import Store
from testkit.delivery import add_articles, shown
from testkit.slack_stub import SlackStub
from tests.bot.conftest import serve_in_thread

FAST = Timings(send_timeout=1.0, lease=2.5, sweep_every=0.3, backoff_base=0.3, backoff_cap=2.0)


@contextmanager
def served(
    store: Store, settings: Settings, bot: BotSettings
) -> Iterator[tuple[str, DigestScheduler]]:
    """The bot's server with its scheduler (sweeping the outbox) on 127.0.0.1:0."""
    sender = SlackSender(make_sender_client(bot, timeout=FAST.send_timeout))
    scheduler = DigestScheduler(store, settings, renderers=renderers(), senders={"slack": sender},
                                owner="served", poll_sources=False, timings=FAST)  # fmt: skip
    with serve_in_thread(create_server_app(store, scheduler=scheduler), join=15) as base:
        yield base, scheduler


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_applied_but_unanswered_posts_deliver_every_article_exactly_once(
    db: str, request: pytest.FixtureRequest, settings: Settings, bot_settings: BotSettings,
    slack_stub: SlackStub,
) -> None:  # fmt: skip
    store: Store = request.getfixturevalue("store" if db == "sqlite" else "pg_store")
    slack_stub.strict = True
    slack_stub.apply_then_delay("chat.postMessage", 4.0, times=2)
    store.subscriptions.upsert("every-2s", platform="slack", channel="CNEWS", topics=(),
                           cron="*/2 * * * * *", timezone="UTC", origin="chat",
                           now=datetime.now(UTC))  # fmt: skip
    add_articles(store, range(1, 5))
    with served(store, settings, bot_settings) as (url, _):
        slack_stub.wait_until(lambda: set(shown(slack_stub, "CNEWS")) >= {1, 2, 3, 4}, 20)
        add_articles(store, range(5, 9))  # arrive while the bot runs: a later digest
        slack_stub.wait_until(lambda: set(shown(slack_stub, "CNEWS")) == set(range(1, 9)), 20)
        # Let the delayed answers come back and a few more slots and sweeps pass.
        slack_stub.wait_until(lambda: len(slack_stub.answered("chat.postMessage")) >= 2, 10)
        # Reconciled by metadata: a headline in the channel's history, a reply (digests are
        # threads by default) in its thread.
        slack_stub.wait_until(
            lambda: (
                len(slack_stub.of("conversations.history"))
                + len(slack_stub.of("conversations.replies"))
                >= 2
            ),
            10,
        )
        health = httpx.get(f"{url}/healthz", timeout=5).json()
    assert shown(slack_stub, "CNEWS") == Counter(range(1, 9))  # each article exactly once
    assert slack_stub.refused == []  # no post Slack would reject
    # The two delayed posts were found by their metadata, not posted again.
    assert len(slack_stub.of("chat.postMessage")) == len(slack_stub.posted("CNEWS"))
    assert health["ok"] is True and health["delivery"]["dead"] == 0


def test_a_slack_outage_shows_in_the_health_and_the_log_with_a_real_reason(
    store: Store, settings: Settings, bot_settings: BotSettings, slack_stub: SlackStub,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.INFO, logger="bot")  # CLI tests may have left "bot" at ERROR
    slack_stub.hang("chat.postMessage", times=100)  # Slack takes posts and never answers
    slack_stub.hang("conversations.history", times=100)
    store.outbox.enqueue("run:1", [{"text": "hello"}], platform="slack", channel="COUT",
                         now=datetime.now(UTC))  # fmt: skip
    with served(store, settings, bot_settings) as (url, _):
        slack_stub.wait_until(lambda: len(slack_stub.of("conversations.history")) >= 1, 15)
        live = httpx.get(f"{url}/healthz", timeout=5)
        ready = httpx.get(f"{url}/readyz", timeout=5)
    # Alive and ready (a Slack outage is no reason to leave a load balancer); the failing
    # channel is named with the real reason, retried, not yet trouble (tests/bot/
    # test_delivery_health.py: trouble once it lasts).
    assert live.status_code == ready.status_code == 200
    retrying = " ".join(ready.json()["delivery"]["retrying"])
    assert "no answer within 1 s" in retrying and "COUT" in retrying
    assert "outcome unknown: no answer within 1 s" in caplog.text
    assert "unreachable: ;" not in caplog.text
    # Never posted twice blind: after the timeout the bot only looked at the history.
    assert len(slack_stub.of("chat.postMessage")) == 1
