"""Delivery health: one rule for /healthz, /readyz and `digestbot status`.

QA: one failed send to Slack (its API unreachable; a DNS failure there) made /readyz answer
503 and /healthz ``ok: false`` at the first sweep, while `digestbot status` said
``delivery: ok`` for the same database: the server counted this process's last failed send
as trouble, the command only the outbox. The README promises trouble when e.g. "Slack
unreachable for minutes". Now both read the outbox: a send that failed and will be retried
is listed (``retrying``), and is trouble only once its message has waited past
``late_after`` since it was queued. Delivery trouble never makes /readyz 503: every replica
shares the outbox and the platforms, so one platform's outage taking every replica out of a
load balancer would only stop the other platforms' /brief too.

The real server (Starlette + the scheduler sweeping the outbox, under uvicorn) and the real
Slack sender, its API a loopback port nothing listens on; `digestbot status` on the same
database.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.metrics import Metrics
from bot.settings import BotSettings
from digests.config import Settings
from digests.store import Store
from tests.bot.test_delivery_faults import FAST, served


@pytest.fixture
def unreachable_slack() -> Iterator[BotSettings]:
    """Slack's Web API at a loopback port held but not listening: every post is refused
    before it leaves (as a DNS failure is), so Slack certainly did not take it."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield BotSettings(
            slack_bot_token="xoxb-test",
            slack_signing_secret="s",
            slack_api_url=f"http://127.0.0.1:{held.getsockname()[1]}/api/",
        )


def _failed_once(store: Store, key: str) -> None:
    deadline = time.monotonic() + 15
    while not any(m.last_error for m in store.outbox.messages(key)):
        assert time.monotonic() < deadline, store.outbox.messages(key)
        time.sleep(0.1)


def _status(store: Store, config_dir: Path) -> tuple[int, str]:
    env = {"DIGESTBOT_CONFIG_DIR": str(config_dir), "DIGESTBOT_DATABASE_URL": str(store.engine.url),
           "DIGESTBOT_OUTBOX_LEASE": str(FAST.lease)}  # fmt: skip
    shown = CliRunner().invoke(app, ["status"], env=env)
    return shown.exit_code, shown.stdout


def test_one_failed_send_that_will_be_retried_is_not_trouble_anywhere(
    store: Store, settings: Settings, unreachable_slack: BotSettings, config_dir: Path
) -> None:
    store.outbox.enqueue("run:1", [{"text": "hello"}], platform="slack", channel="COUT",
                         now=datetime.now(UTC), subscription="morning")  # fmt: skip
    with served(store, settings, unreachable_slack) as (url, _):
        _failed_once(store, "run:1")
        live = httpx.get(f"{url}/healthz", timeout=5)
        ready = httpx.get(f"{url}/readyz", timeout=5)
        code, shown = _status(store, config_dir)
    assert live.status_code == ready.status_code == 200
    assert live.json()["ok"] is ready.json()["ok"] is True, ready.json()
    delivery = ready.json()["delivery"]
    assert delivery["problems"] == []
    # Not hidden: the failing channel is named, by its subscription, with the error.
    [retrying] = delivery["retrying"]
    assert retrying.startswith("morning: ") and "ClientConnectorError" in retrying
    # `digestbot status` says the same about the same outbox.
    assert code == 0 and "delivery: ok" in shown, shown
    assert "retrying: morning: " in shown and "ClientConnectorError" in shown
    assert "digestbot_delivery_ok 1.0" in Metrics(store, timings=FAST).render().decode()


def test_sends_failing_for_minutes_are_trouble_everywhere_and_readyz_stays_ready(
    store: Store, settings: Settings, unreachable_slack: BotSettings, config_dir: Path
) -> None:
    queued = datetime.now(UTC) - timedelta(minutes=4)  # Slack unreachable since then
    store.outbox.enqueue("run:1", [{"text": "hello"}], platform="slack", channel="COUT",
                         now=queued, subscription="morning")  # fmt: skip
    with served(store, settings, unreachable_slack) as (url, _):
        _failed_once(store, "run:1")
        live = httpx.get(f"{url}/healthz", timeout=5)
        ready = httpx.get(f"{url}/readyz", timeout=5)
        code, shown = _status(store, config_dir)
    # In trouble, and said so in both bodies ...
    assert live.json()["ok"] is ready.json()["ok"] is False
    [problem] = ready.json()["delivery"]["problems"]
    assert problem.startswith("morning: not delivered 4 min") and "ClientConnectorError" in problem
    # ... but this replica can still answer /brief on every platform: it stays ready.
    assert live.status_code == ready.status_code == 200
    assert code == 1 and "TROUBLE" in shown and "morning: not delivered 4 min" in shown, shown
    assert "digestbot_delivery_ok 0.0" in Metrics(store, timings=FAST).render().decode()
