"""`/discord/interactions` over real HTTP: Ed25519-signed requests, PING, a deferred `/brief`.

The endpoint runs under uvicorn on 127.0.0.1:0 and edits its deferred answer on the local
Discord stand-in, just as it would on discord.com.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest
from nacl.signing import SigningKey
from starlette.applications import Starlette

from bot.chat import ChatService
from bot.platforms.discord.interactions import DiscordInteractions, interactions_route, verify_key
from bot.workpool import WorkPool
from digests.brief import brief as make_brief
from digests.config import Settings
from digests.errors import ConfigError
from digests.models import Brief
from digests.store import Store
from tests.bot.discord_standin import DiscordStandIn, serving
from tests.conftest import NOW, make_processed

APP_ID = "123456789012345678"
EDIT_TIMEOUT = 20.0  # a bound so a broken build fails instead of hanging; not a latency check

_IDS = itertools.count(1000)


@dataclass
class Rig:
    """The endpoint's URL, the Discord stand-in, the app's signing key, briefs asked for."""

    url: str
    api: DiscordStandIn
    key: SigningKey
    client: httpx.AsyncClient
    asked: list[str] = field(default_factory=list)

    async def post(
        self,
        payload: object,
        *,
        key: SigningKey | None = None,
        tamper: bool = False,
        headers: dict[str, str] | None = None,
        timestamp: str | None = None,
        raw: bytes | None = None,
    ) -> httpx.Response:
        """POST ``payload`` (or ``raw`` bytes) signed as Discord signs it (optionally with a
        wrong key, a tampered body or a given timestamp)."""
        body = json.dumps(payload).encode() if raw is None else raw
        timestamp = str(int(time.time())) if timestamp is None else timestamp
        signature = (key or self.key).sign(timestamp.encode() + body).signature.hex()
        if tamper:
            body = body.replace(b"taiwan", b"taiwam")
        sent = {
            "X-Signature-Ed25519": signature,
            "X-Signature-Timestamp": timestamp,
            "Content-Type": "application/json",
        }
        if headers is not None:
            sent = headers
        return await self.client.post(self.url, content=body, headers=sent)


def command(topic: str | None, **extra: object) -> dict:
    """An APPLICATION_COMMAND interaction for `/brief topic:<topic>`, as Discord sends it."""
    options = [] if topic is None else [{"name": "topic", "type": 3, "value": topic}]
    options += [{"name": k, "type": 5, "value": v} for k, v in extra.items()]
    return {
        "type": 2,
        "id": str(next(_IDS)),  # Discord's ids are unique: a repeated one is a replay
        "application_id": APP_ID,
        "token": "interaction-token",
        "data": {"id": "2", "name": "brief", "type": 1, "options": options},
    }


def run(
    brief: Callable[[str], Brief],
    scenario: Callable[[Rig], Awaitable[None]],
    store: Store,
    settings: Settings,
    *,
    pool: WorkPool | None = None,
) -> None:
    """Serve the stand-in and the endpoint on 127.0.0.1:0 and run ``scenario``; briefs go
    through a chat service (``brief`` makes them, in its pool)."""
    key = SigningKey.generate()

    async def main() -> None:
        api = DiscordStandIn()
        async with serving(api.app()) as api_base, httpx.AsyncClient(timeout=30) as client:
            asked: list[str] = []

            def traced(topic: str) -> Brief:
                asked.append(topic)
                return brief(topic)

            route = interactions_route(
                DiscordInteractions(
                    public_key=key.verify_key.encode().hex(),
                    application_id=APP_ID,
                    chat=ChatService(
                        store, settings, pool=pool, brief=lambda topic, _now: traced(topic)
                    ),
                    client=client,
                    api_url=f"{api_base}/api",
                )
            )
            async with serving(Starlette(routes=[route])) as base:
                await scenario(Rig(f"{base}/discord/interactions", api, key, client, asked))

    asyncio.run(main())


def _seeded_brief(store: Store, settings: Settings) -> Callable[[str], Brief]:
    for i, (title, body) in enumerate(
        [
            (
                "Taiwan chip exports rise",
                "Taiwan exported more chips this year than ever before. "
                "Officials in Taipei said demand for servers drove the rise in Taiwan exports.",
            ),
            (
                "Strait tensions @everyone",
                "Ships crossed the Taiwan Strait on Monday, officials said. "
                "Taiwan said it was watching the movements closely and calmly.",
            ),
        ]
    ):
        store.articles.add(
            make_processed(
                title,
                body,
                tags=(("taiwan", 3),),
                source=f"Wire {i}",
                url=f"https://news.example/{i}",
            ),
            now=NOW,
        )
    return lambda text: make_brief(store, text, topics=settings.topics, now=NOW)


def test_ping_is_answered_with_pong(store: Store, settings: Settings) -> None:
    async def scenario(rig: Rig) -> None:
        response = await rig.post({"type": 1, "id": "1", "application_id": APP_ID})
        assert response.status_code == 200 and response.json() == {"type": 1}

    run(lambda _: Brief("x", (), ()), scenario, store, settings)


def test_forged_tampered_or_unsigned_requests_get_401_and_run_nothing(
    store: Store, settings: Settings
) -> None:
    async def scenario(rig: Rig) -> None:
        forged = await rig.post(command("taiwan"), key=SigningKey.generate())
        tampered = await rig.post(command("taiwan"), tamper=True)
        unsigned = await rig.post(command("taiwan"), headers={"Content-Type": "application/json"})
        garbage = await rig.post(
            {"type": 1}, headers={"X-Signature-Ed25519": "zz", "X-Signature-Timestamp": "1"}
        )
        assert [r.status_code for r in (forged, tampered, unsigned, garbage)] == [401] * 4
        assert rig.asked == [] and rig.api.calls == []

    run(lambda _: Brief("x", (), ()), scenario, store, settings)


def test_stale_or_non_numeric_timestamps_get_401_even_when_signed(
    store: Store, settings: Settings
) -> None:
    # A captured interaction replayed later: signed correctly, but not within 5 minutes.
    async def scenario(rig: Rig) -> None:
        ping = {"type": 1, "id": "1", "application_id": APP_ID}
        now = int(time.time())
        for stamp in (now - 365 * 86400, now - 400, now + 400, "12ab", "", "1e9", "-5"):
            response = await rig.post(ping, timestamp=str(stamp))
            assert response.status_code == 401, stamp
        assert (await rig.post(ping, timestamp=str(now - 240))).json() == {"type": 1}

    run(lambda topic: pytest.fail("must not brief"), scenario, store, settings)


def test_signed_bodies_that_are_not_interactions_get_400(store: Store, settings: Settings) -> None:
    async def scenario(rig: Rig) -> None:
        for raw in (b"", b"{", b"\xff\xfe", b"[1]", b'"x"', b"null"):
            assert (await rig.post(None, raw=raw)).status_code == 400, raw
        odd = [
            {**command("taiwan"), "data": "brief"},
            {**command("taiwan"), "data": {"name": "brief", "options": "topic"}},
            {**command("taiwan"), "data": {"name": "brief", "options": ["topic"]}},
        ]
        for interaction in odd:
            assert (await rig.post(interaction)).status_code == 400, interaction
        assert rig.asked == []

    run(lambda topic: pytest.fail("must not brief"), scenario, store, settings)


def test_brief_is_deferred_then_arrives_as_an_edit_of_the_original(
    store: Store, settings: Settings
) -> None:
    release = threading.Event()
    answer = _seeded_brief(store, settings)

    def slow_brief(text: str) -> Brief:
        # The deferral must not wait for the brief: it is only computed after we see type 5.
        assert release.wait(EDIT_TIMEOUT)
        return answer(text)

    async def scenario(rig: Rig) -> None:
        response = await rig.post(command("taiwan"))
        assert response.status_code == 200
        assert response.json() == {"type": 5, "data": {"flags": 64}}  # deferred, ephemeral
        assert rig.api.edits.empty()
        release.set()
        edit = await asyncio.wait_for(rig.api.edits.get(), EDIT_TIMEOUT)
        assert edit["app"] == APP_ID and edit["token"] == "interaction-token"
        [call] = rig.api.calls_to("PATCH", "/messages/@original")
        assert call.path == f"/api/webhooks/{APP_ID}/interaction-token/messages/@original"
        payload = edit["payload"]
        assert payload["allowed_mentions"] == {"parse": []}
        [embed] = payload["embeds"]
        assert embed["title"] == "Brief: taiwan"
        assert "Taiwan" in embed["description"] and "(https://news.example/" in embed["description"]
        assert "Wire 0" in embed["fields"][0]["value"] and "Wire 1" in embed["fields"][0]["value"]
        assert "@everyone" not in json.dumps(payload, ensure_ascii=False)
        assert rig.asked == ["taiwan"]

    run(slow_brief, scenario, store, settings)


def test_shared_brief_is_not_ephemeral(store: Store, settings: Settings) -> None:
    async def scenario(rig: Rig) -> None:
        response = await rig.post(command("chips", share=True))
        assert response.json() == {"type": 5, "data": {}}
        edit = await asyncio.wait_for(rig.api.edits.get(), EDIT_TIMEOUT)
        assert "chips" in edit["payload"]["content"]  # nothing stored: says so, suggests

    run(lambda text: Brief(text, (), (), suggestions=("taiwan",)), scenario, store, settings)


def test_a_full_brief_pool_answers_busy_at_once_and_runs_nothing_more(
    store: Store, settings: Settings
) -> None:
    """Discord's /brief goes through the chat service's bounded pool, like Slack's."""
    release = threading.Event()

    def held(text: str) -> Brief:
        assert release.wait(EDIT_TIMEOUT)
        return Brief(text, (), ())

    async def scenario(rig: Rig) -> None:
        first = await rig.post({**command("taiwan"), "id": "10", "token": "t10"})
        assert first.json()["type"] == 5  # admitted: deferred
        second = await rig.post({**command("trade"), "id": "11", "token": "t11"})
        busy = second.json()
        assert busy["type"] == 4 and busy["data"]["flags"] == 64  # at once, ephemeral
        assert "try again shortly" in busy["data"]["content"]
        release.set()
        edit = await asyncio.wait_for(rig.api.edits.get(), EDIT_TIMEOUT)
        assert edit["token"] == "t10"
        third = await rig.post({**command("chips"), "id": "12", "token": "t12"})
        assert third.json()["type"] == 5  # the place was given back
        await asyncio.wait_for(rig.api.edits.get(), EDIT_TIMEOUT)
        assert rig.asked == ["taiwan", "chips"]  # the refused one never ran

    run(held, scenario, store, settings, pool=WorkPool(workers=1, waiting=0))


@pytest.mark.parametrize("topic", ["", "   ", "x" * 2000, "tai\x00wan"])
def test_bad_topics_get_an_immediate_ephemeral_reply(
    topic: str, store: Store, settings: Settings
) -> None:
    async def scenario(rig: Rig) -> None:
        response = await rig.post(command(topic))
        body = response.json()
        assert body["type"] == 4 and body["data"]["flags"] == 64
        assert body["data"]["allowed_mentions"] == {"parse": []}
        assert rig.asked == []

    run(lambda _: Brief("x", (), ()), scenario, store, settings)


def test_a_failing_brief_still_answers_the_user(caplog, store: Store, settings: Settings) -> None:
    def broken(_: str) -> Brief:
        raise RuntimeError("database on fire")

    async def scenario(rig: Rig) -> None:
        await rig.post(command("taiwan"))
        edit = await asyncio.wait_for(rig.api.edits.get(), EDIT_TIMEOUT)
        assert "went wrong" in edit["payload"]["content"]
        assert "database on fire" not in edit["payload"]["content"]

    run(broken, scenario, store, settings)
    assert "database on fire" in caplog.text  # the traceback stays in the log


def test_a_bad_public_key_is_a_config_error() -> None:
    for bad in ("not-hex", "abcd", ""):
        with pytest.raises(ConfigError):
            verify_key(bad)


def test_a_replayed_interaction_runs_once(store: Store, settings: Settings) -> None:
    async def scenario(rig: Rig) -> None:
        once = command("taiwan")
        answers = [await rig.post(once) for _ in range(3)]  # the same signed body, thrice
        assert [a.status_code for a in answers] == [200, 409, 409]
        await asyncio.wait_for(rig.api.edits.get(), 20)
        await asyncio.sleep(0.3)  # room for a second run to show up, were there one
        assert rig.asked == ["taiwan"] and rig.api.edits.empty()

    run(_seeded_brief(store, settings), scenario, store, settings)


def test_deep_nesting_and_oversized_or_unsafe_options_are_refused_politely(
    store: Store, settings: Settings
) -> None:
    async def scenario(rig: Rig) -> None:
        deep = b"[" * 100_000 + b"]" * 100_000
        assert (await rig.post(None, raw=deep)).status_code == 400
        nested = b'{"type": 2, "data": ' * 50_000 + b"{}" + b"}" * 50_000
        assert (await rig.post(None, raw=nested)).status_code == 400
        for topic in ("tai\u202ewan", "tai\u200bwan", "tai\x07wan", "x" * 900_000):
            answer = await rig.post(command(topic))
            assert answer.status_code == 200, topic[:20]
            data = answer.json()["data"]
            assert data["flags"] == 64 and "plain words" in data["content"]
        assert rig.asked == [] and rig.api.calls == []

    run(lambda topic: pytest.fail("must not brief"), scenario, store, settings)


def test_briefs_share_the_fair_pool_and_a_full_one_answers_busy_at_once(
    store: Store, settings: Settings
) -> None:
    gate = threading.Event()

    def slow(topic: str) -> Brief:
        gate.wait(30)
        return Brief(topic, (), ())

    pool = WorkPool(workers=1, waiting=0, max_wait=60)

    async def scenario(rig: Rig) -> None:
        first = await rig.post(command("taiwan"))
        assert first.json()["type"] == 5  # deferred: it runs in the pool
        second = await rig.post(command("trade"))
        assert second.status_code == 200 and "Busy" in second.json()["data"]["content"]
        gate.set()
        await asyncio.wait_for(rig.api.edits.get(), 20)
        assert rig.asked == ["taiwan"] and pool.refused == 1

    run(slow, scenario, store, settings, pool=pool)
    pool.close()


def test_a_replay_sent_to_another_replica_runs_nothing(store: Store, settings: Settings) -> None:
    from datetime import UTC, datetime

    key = SigningKey.generate()
    asked: list[str] = []

    def answer(topic: str) -> Brief:
        asked.append(topic)
        return Brief(topic, (), ())

    def replica(api_url: str, client: httpx.AsyncClient) -> Starlette:
        config = DiscordInteractions(
            public_key=key.verify_key.encode().hex(),
            application_id=APP_ID,
            chat=ChatService(store, settings, brief=lambda topic, _now: answer(topic)),
            client=client,
            api_url=api_url,
            first_time=lambda ident: store.replays.first_time(ident, now=datetime.now(UTC)),
        )
        return Starlette(routes=[interactions_route(config)])

    body = json.dumps(command("taiwan")).encode()
    stamp = str(int(time.time()))
    headers = {
        "X-Signature-Ed25519": key.sign(stamp.encode() + body).signature.hex(),
        "X-Signature-Timestamp": stamp,
        "Content-Type": "application/json",
    }

    async def main() -> list[int]:
        codes = []
        api = DiscordStandIn()
        async with serving(api.app()) as base, httpx.AsyncClient(timeout=30) as client:
            for _ in range(2):  # two replicas, each with its own memory, one database
                app = replica(f"{base}/api", client)
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://bot") as bot:
                    answer_ = await bot.post("/discord/interactions", content=body, headers=headers)
                    codes.append(answer_.status_code)
        return codes

    assert asyncio.run(main()) == [200, 409]
    assert asked == ["taiwan"]
