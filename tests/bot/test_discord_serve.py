"""`digestbot serve` with Discord only: the real server app and scheduler wiring, the stand-in.

Built the way ``run_serve`` builds it (commands_serve: renderers, senders, extra_routes), served
by uvicorn on 127.0.0.1:0; scheduled digests run with an injected clock, never by waiting.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx
from nacl.signing import SigningKey

from bot.chat import ChatService
from bot.deliver import Pacer
from bot.delivery_health import delivery_health
from bot.metrics import Metrics
from bot.platforms import PlatformContext
from bot.platforms.discord import discord_sender
from bot.platforms.discord import render as r
from bot.schedule import DigestScheduler
from bot.serve import extra_routes, renderers, senders
from bot.server import create_server_app
from bot.settings import load_bot_settings
from digests.config import Settings
from digests.store import Store
from testkit.articles import made_up_name
from tests.bot.discord_standin import DiscordStandIn, serving
from tests.conftest import NOW, make_processed

APP_ID = "123456789012345678"


@dataclass
class Served:
    """The running bot's base URL, the Discord stand-in, the signing key, the scheduler."""

    base: str
    api: DiscordStandIn
    api_base: str
    key: SigningKey
    scheduler: DigestScheduler
    client: httpx.AsyncClient
    metrics: Metrics

    async def interaction(self, payload: dict) -> httpx.Response:
        """POST a correctly signed interaction to /discord/interactions."""
        body = json.dumps(payload).encode()
        ts = str(int(time.time()))
        sig = self.key.sign(ts.encode() + body).signature.hex()
        return await self.client.post(
            f"{self.base}/discord/interactions",
            content=body,
            headers={"X-Signature-Ed25519": sig, "X-Signature-Timestamp": ts},
        )


def run(store: Store, core: Settings, scenario: Callable[[Served], Awaitable[None]]) -> None:
    """Start the bot (Discord only) and the stand-in on 127.0.0.1:0, then run ``scenario``."""
    key = SigningKey.generate()

    async def main() -> None:
        api = DiscordStandIn()
        async with serving(api.app()) as api_base, httpx.AsyncClient(timeout=30) as client:
            bot = load_bot_settings(
                {
                    "DISCORD_PUBLIC_KEY": key.verify_key.encode().hex(),
                    "DISCORD_APPLICATION_ID": APP_ID,
                    "DISCORD_API_URL": f"{api_base}/api",
                }
            )
            assert not bot.slack and bot.discord  # serve runs with Discord alone
            # serve's own wiring puts Discord in; the test passes its client so it can close it.
            ctx = PlatformContext(bot, {}, store, client=client)
            assert set(senders(ctx)) == {"discord"} and "discord" in renderers()
            scheduler = DigestScheduler(
                store,
                core,
                renderers=renderers(),
                senders={"discord": discord_sender(bot, store, client=client)},
                owner="test",
                clock=lambda: NOW,
                pacer=Pacer(0),
                poll_sources=False,
            )
            metrics = Metrics(store)
            chat = ChatService(store, core, metrics=metrics, schedule=scheduler)
            routes = extra_routes(PlatformContext(bot, {}, store, chat=chat, client=client))
            assert [route.path for route in routes] == ["/discord/interactions"]  # type: ignore[attr-defined]
            app = create_server_app(store, extra_routes=routes, metrics=metrics)
            async with serving(app) as base:
                await scenario(Served(base, api, api_base, key, scheduler, client, metrics))

    asyncio.run(main())


def _add_articles(store: Store, n: int, *, start: int = 0) -> None:
    """``n`` articles, each about an event of its own (made-up names: a story each)."""
    for i in range(start, start + n):
        a, b, c = (made_up_name(i * 3 + k) for k in range(3))
        store.articles.add(
            make_processed(
                f"Chip shipment {i}: {a} leaves {b} for {c}",
                f"The {a} left {b} for {c} on route {i}. {c} officials said {a} reached {b}.",
                tags=(("taiwan", 3),),
                url=f"https://news.example/{i}",
            ),
            now=NOW,
        )


def test_serve_with_discord_only_answers_ping_and_health(store: Store, settings: Settings) -> None:
    async def scenario(bot: Served) -> None:
        pong = await bot.interaction({"type": 1, "id": "1", "application_id": APP_ID})
        assert pong.status_code == 200 and pong.json() == {"type": 1}
        health = await bot.client.get(f"{bot.base}/healthz")
        assert health.status_code == 200
        assert (await bot.client.post(f"{bot.base}/slack/events")).status_code == 404

    run(store, settings, scenario)


def test_brief_through_the_served_bot_arrives_as_a_follow_up(
    store: Store, settings: Settings
) -> None:
    _add_articles(store, 3)

    async def scenario(bot: Served) -> None:
        response = await bot.interaction(
            {"type": 2, "id": "1", "application_id": APP_ID, "token": "tok",
             "data": {"name": "brief", "options": [{"name": "topic", "type": 3, "value": "taiwan"}]}}
        )  # fmt: skip
        assert response.json()["type"] == 5
        edit = await asyncio.wait_for(bot.api.edits.get(), 20)
        assert edit["payload"]["embeds"][0]["title"] == "Brief: taiwan"
        # The chat service's one latency metric timed it, labelled with the platform.
        text = (await bot.client.get(f"{bot.base}/metrics")).text
        assert 'digestbot_brief_latency_seconds_count{platform="discord"} 1.0' in text

    run(store, settings, scenario)


def test_scheduled_digest_is_split_delivered_once_and_a_404_disables_it(
    store: Store, settings: Settings
) -> None:
    _add_articles(store, 45)
    settings = settings.model_copy(update={"digest_max_stories": 100})  # every story, in parts

    async def scenario(bot: Served) -> None:
        hook = bot.api.webhook_url(bot.api_base, "555", "sub-token")
        store.subscriptions.upsert("discord-morning", platform="discord", channel=hook,
                               topics=["taiwan"], cron="0 8 * * *", timezone="UTC",
                               origin="config", now=NOW)  # fmt: skip
        first = await bot.scheduler.run_slot("discord-morning", NOW)
        assert first is not None and first.status == "queued" and first.messages >= 5
        assert len(bot.api.messages) == first.messages  # every part sent, none twice
        for i, message in enumerate(bot.api.messages, start=1):
            assert f"part {i}/{first.messages}" in message["content"]
            assert len(message["embeds"]) <= r.MAX_EMBEDS
            assert sum(r.embed_size(e) for e in message["embeds"]) <= r.MAX_EMBED_TOTAL
        assert sum(len(m["embeds"]) for m in bot.api.messages) == 45
        # The same slot again (a second replica, or a restart): claimed already, nothing posted.
        again = await bot.scheduler.run_slot("discord-morning", NOW)
        assert again is not None and again.status == "skipped"
        assert len(bot.api.messages) == first.messages

        # Next morning the webhook has been deleted in Discord.
        _add_articles(store, 2, start=100)
        bot.api.delete_webhook("555")
        bot.scheduler.clock = lambda: NOW + timedelta(days=1)
        await bot.scheduler.run_slot("discord-morning", NOW + timedelta(days=1))
        sub = store.subscriptions.get("discord-morning")
        assert sub is not None and not sub.enabled and "404" in (sub.disabled_reason or "")
        assert len(bot.api.calls_to("POST", "/webhooks/555/")) == first.messages + 1
        # Paused, and said so: its refused part is not delivery trouble from then on.
        health = delivery_health(store, now=NOW + timedelta(days=1))
        assert health.ok and [p.split(" (")[0] for p in health.paused] == ["discord-morning"]
        # Disabled: a later slot runs nothing.
        later = await bot.scheduler.run_slot("discord-morning", NOW + timedelta(days=2))
        assert later is None

    run(store, settings, scenario)
