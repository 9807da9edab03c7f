"""`/brief` under load: a bounded pool, and an immediate "busy" ack beyond its capacity."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import httpx
import pytest
from slack_bolt.async_app import AsyncApp

from bot.platforms.slack.app import create_app
from bot.platforms.slack.routes import bolt_routes
from bot.server import create_server_app
from bot.settings import BotSettings
from bot.workpool import BUSY, WorkPool
from digests.config import Settings
from digests.models import Brief
from digests.store import Store
from testkit.slack_requests import command_body, signed_headers
from testkit.slack_stub import SlackStub
from tests.bot.conftest import add_taiwan_articles, serve_in_thread
from tests.conftest import NOW


def test_the_pool_admits_up_to_its_capacity_and_frees_places_when_work_ends() -> None:
    pool = WorkPool(workers=1, waiting=1)
    assert pool.admit("a") and pool.admit("b") and pool.admit("a")  # the same job twice: once
    assert not pool.admit("c") and pool.refused == 1
    gate = threading.Event()

    async def main() -> list[str]:
        return list(await asyncio.gather(pool.run("a", gate.wait, 30), pool.run("b", lambda: "b")))

    runner = threading.Thread(target=lambda: results.extend(asyncio.run(main())))
    results: list[object] = []
    runner.start()
    assert not pool.admit("c")  # a runs, b waits: still full
    gate.set()
    runner.join(30)
    assert results == [True, "b"]
    assert pool.admit("c") and pool.admitted("c") and not pool.admitted("a")
    pool.close()


@contextmanager
def _serving(app: AsyncApp, store: Store) -> Iterator[str]:
    """The Bolt ``app`` behind the server app, served on 127.0.0.1:0 in a thread: its URL."""
    with serve_in_thread(create_server_app(store, extra_routes=bolt_routes(app))) as base:
        yield base


@pytest.fixture
def served_pool(
    bot_settings: BotSettings, slack_stub: SlackStub, store: Store, settings: Settings
) -> Iterator[tuple[str, WorkPool]]:
    """The real app with a one-place brief pool, served on 127.0.0.1:0."""
    add_taiwan_articles(store)
    pool = WorkPool(workers=1, waiting=0)
    app = create_app(bot_settings, store, settings, clock=lambda: NOW, brief_pool=pool)
    with _serving(app, store) as url:
        yield url, pool
    pool.close()


def _brief(url: str, stub: SlackStub, response: str) -> httpx.Response:
    body = command_body("taiwan", response_url=stub.response_url(response))
    return httpx.post(f"{url}/slack/events", content=body.encode(), headers=signed_headers(body),
                      timeout=10)  # fmt: skip


def test_beyond_capacity_the_ack_says_busy_and_nothing_queues(
    served_pool: tuple[str, WorkPool], slack_stub: SlackStub
) -> None:
    url, pool = served_pool
    assert pool.admit("someone else's brief")  # the only place is taken
    busy = _brief(url, slack_stub, "r-busy")
    assert busy.status_code == 200
    assert "try again shortly" in str(busy.json()) and BUSY.split("—")[0].strip() in str(
        busy.json()
    )
    pool.release("someone else's brief")
    ok = _brief(url, slack_stub, "r-ok")
    assert ok.status_code == 200 and "try again" not in ok.text
    [answer] = slack_stub.wait_for("response:r-ok")
    assert "taiwan" in str(answer.params).lower()
    # The refused request never got (and never will get) a late answer.
    assert slack_stub.of("response:r-busy") == []
    assert not pool.admitted(slack_stub.response_url("r-ok"))  # its place is free again


def test_serve_sizes_the_pool_from_the_environment() -> None:
    from bot.serve import brief_pool
    from digests.errors import ConfigError

    pool = brief_pool({"DIGESTBOT_BRIEF_WORKERS": "3", "DIGESTBOT_BRIEF_QUEUE": "0"})
    assert (pool.workers, pool.waiting) == (3, 0)
    pool.close()
    with pytest.raises(ConfigError, match="DIGESTBOT_BRIEF_WORKERS"):
        brief_pool({"DIGESTBOT_BRIEF_WORKERS": "0"})


def test_teams_are_served_in_turn_so_a_burst_waits_behind_itself() -> None:
    pool = WorkPool(workers=1, waiting=100, max_wait=60)
    gate, order = threading.Event(), []

    def job(name: str) -> str:
        if name == "a0":
            gate.wait(30)
        order.append(name)
        return name

    async def main() -> None:
        burst = [pool.run(f"a{i}", job, f"a{i}") for i in range(6) if pool.admit(f"a{i}", "TA")]
        runs = [asyncio.ensure_future(r) for r in burst]
        await asyncio.sleep(0.05)  # a0 is running, a1…a5 queue
        assert pool.admit("b0", "TB")
        other = asyncio.ensure_future(pool.run("b0", job, "b0"))
        await asyncio.sleep(0.05)  # b0 queues too
        gate.set()
        await asyncio.gather(*runs, other)

    asyncio.run(main())
    pool.close()
    # B's one request waited for the running job and at most one more of A's (A's turn came
    # first), not for A's whole burst.
    assert order[:3] == ["a0", "a1", "b0"] and sorted(order) == sorted(
        [*(f"a{i}" for i in range(6)), "b0"]
    )


def test_admission_is_by_expected_wait_and_another_team_still_gets_in() -> None:
    pool = WorkPool(workers=2, waiting=1000, max_wait=3.0)
    pool.job_seconds = 0.05  # as measured on jobs done
    burst = [pool.admit(f"a{i}", "TA") for i in range(200)]
    # 2 workers × 3 s / 0.05 s = 120 answers in time: that many admitted, not a fixed 20.
    assert 100 <= sum(burst) <= 120 and burst[:100] == [True] * 100
    assert pool.expected_wait("TA") > 3.0  # the bursting team itself is now told "busy"
    assert pool.admit("b0", "TB") and pool.expected_wait("TB") < 0.5
    assert pool.refused == 200 - sum(burst)
    slow = WorkPool(workers=2, waiting=1000, max_wait=3.0)
    slow.job_seconds = 1.0  # slow answers: fewer admitted, so the admitted still come in time
    assert sum(slow.admit(f"a{i}", "TA") for i in range(200)) == 6
    pool.close()
    slow.close()


def test_predictions_learn_from_waits_that_came_out_longer() -> None:
    now = [0.0]
    pool = WorkPool(workers=1, waiting=100, max_wait=10.0, clock=lambda: now[0])
    pool.job_seconds = 0.1

    def slow() -> None:
        now[0] += 1.0  # each job takes 1 s of the (fake) clock: 10x the estimate

    async def main() -> None:
        for i in range(5):
            assert pool.admit(f"j{i}", "T")
            await pool.run(f"j{i}", slow)

    asyncio.run(main())
    pool.close()
    assert pool.slowdown > 1.5 and pool.job_seconds > 0.5
    # A burst now gets fewer places: its answers would not come within max_wait.
    assert sum(pool.admit(f"k{i}", "T") for i in range(100)) < 15


def test_time_already_spent_before_the_ack_counts_against_the_target() -> None:
    pool = WorkPool(workers=6, waiting=100, max_wait=2.5)
    pool.job_seconds = 0.3
    assert pool.admit("early", "T", waited=0.2)
    assert not pool.admit("late", "T", waited=2.45)  # its answer could not come in time
    assert pool.admit("on-time", "T", waited=0.0)  # the same request without the delay
    pool.close()


def test_the_answers_of_a_burst_share_their_connections(
    bot_settings: BotSettings, slack_stub: SlackStub, store: Store, settings: Settings
) -> None:
    # Bolt's respond opened a session and a connection (with Slack: a DNS lookup and a TLS
    # handshake) for every answer, on the loop that acks: 200 at once, more of its time
    # than the acks. The answers of requests under way together now share one session.
    from bot.chat import ChatService
    from digests.brief import brief

    add_taiwan_articles(store)
    gate = threading.Event()

    def gated(topic: str, now: datetime) -> Brief:
        gate.wait(10)  # the first job waits until every request has been acked
        return brief(store, topic, topics=settings.topics, now=now)

    pool = WorkPool(workers=1, waiting=20, max_wait=60)
    chat = ChatService(store, settings, pool=pool, clock=lambda: NOW, brief=gated)
    app = create_app(bot_settings, store, settings, clock=lambda: NOW, chat=chat)
    try:
        with _serving(app, store) as url:
            acks = [_brief(url, slack_stub, f"r{i}") for i in range(6)]
            assert all(a.status_code == 200 and "try again" not in a.text for a in acks)
            gate.set()
            answers = [slack_stub.wait_for(f"response:r{i}")[0] for i in range(6)]
    finally:
        pool.close()
    assert all("taiwan" in str(a.params).lower() for a in answers)
    peers = {a.peer for a in answers}
    assert None not in peers and len(peers) <= 2, peers  # one a request before: 6
