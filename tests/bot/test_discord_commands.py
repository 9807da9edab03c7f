"""`/brief` subcommands on Discord over real HTTP: signed interactions, deferred answers edited
on the Discord stand-in, channel webhooks created with the bot token for `subscribe`."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from nacl.signing import SigningKey
from starlette.applications import Starlette

from bot.chat import ChatService
from bot.platforms.discord.commands import MANAGE_WEBHOOKS, DiscordCommands
from bot.platforms.discord.interactions import DiscordInteractions, interactions_route
from digests.config import Settings
from digests.models import SourceKind
from digests.store import Store
from tests.bot.conftest import RecordingSchedule, add_markets_feed, add_taiwan_articles
from tests.bot.discord_standin import DiscordStandIn, serving
from tests.conftest import NOW

APP_ID = "123456789012345678"
CHANNEL, GUILD = "555000000000000001", "777000000000000001"
EDIT_TIMEOUT = 20.0  # a bound so a broken build fails instead of hanging; not a latency check

_IDS = itertools.count(1000)


@dataclass
class Rig:
    url: str
    api: DiscordStandIn
    key: SigningKey
    client: httpx.AsyncClient
    schedule: RecordingSchedule

    async def slash(
        self,
        sub: str,
        *,
        channel: str = CHANNEL,
        permissions: int = MANAGE_WEBHOOKS,
        **options: object,
    ) -> httpx.Response:
        interaction = {
            "type": 2,
            "id": str(next(_IDS)),  # Discord's ids are unique: a repeated one is a replay
            "application_id": APP_ID,
            "token": f"tok-{sub}",
            "channel_id": channel,
            "guild_id": GUILD,
            "member": {"user": {"id": "42"}, "permissions": str(permissions)},
            "data": {
                "id": "2",
                "name": "brief",
                "type": 1,
                "options": [
                    {
                        "type": 1,
                        "name": sub,
                        "options": [
                            {"name": k, "type": 5 if isinstance(v, bool) else 3, "value": v}
                            for k, v in options.items()
                        ],
                    }
                ],
            },
        }
        body = json.dumps(interaction).encode()
        timestamp = str(int(time.time()))
        signature = self.key.sign(timestamp.encode() + body).signature.hex()
        headers = {
            "X-Signature-Ed25519": signature,
            "X-Signature-Timestamp": timestamp,
            "Content-Type": "application/json",
        }
        return await self.client.post(self.url, content=body, headers=headers)

    async def answer(self, sub: str, **kwargs: object) -> str:
        """Run a subcommand; the text it finally shows (deferred, then edited)."""
        response = await self.slash(sub, **kwargs)  # type: ignore[arg-type]
        assert response.status_code == 200
        first = response.json()
        if first["type"] == 4:  # answered at once
            return str(first["data"]["content"])
        assert first == {"type": 5, "data": {"flags": 64}}  # deferred, ephemeral
        edit = await asyncio.wait_for(self.api.edits.get(), EDIT_TIMEOUT)
        assert edit["token"] == f"tok-{sub}"
        return str(edit["payload"]["content"])


def run(
    store: Store,
    settings: Settings,
    scenario: Callable[[Rig], Awaitable[None]],
    *,
    bot_token: str | None = "bot-token",
) -> None:
    key = SigningKey.generate()
    add_taiwan_articles(store)

    async def main() -> None:
        api = DiscordStandIn()
        async with serving(api.app()) as api_base, httpx.AsyncClient(timeout=30) as client:
            schedule = RecordingSchedule()
            chat = ChatService(store, settings, schedule=schedule, clock=lambda: NOW)
            commands = DiscordCommands(chat, client, f"{api_base}/api", bot_token)
            route = interactions_route(
                DiscordInteractions(
                    public_key=key.verify_key.encode().hex(),
                    application_id=APP_ID,
                    chat=chat,
                    client=client,
                    api_url=f"{api_base}/api",
                    commands=commands,
                )
            )
            async with serving(Starlette(routes=[route])) as base:
                await scenario(Rig(f"{base}/discord/interactions", api, key, client, schedule))

    asyncio.run(main())


def test_help_and_topics_and_about(store: Store, settings: Settings) -> None:
    async def scenario(rig: Rig) -> None:
        help_text = await rig.answer("help")
        assert "/brief subscribe" in help_text and "/brief about" in help_text
        assert "`taiwan` — 3 articles" in await rig.answer("topics")
        response = await rig.slash("about", topic="taiwan")
        assert response.json()["type"] == 5
        edit = await asyncio.wait_for(rig.api.edits.get(), EDIT_TIMEOUT)
        assert "Taiwan" in json.dumps(edit["payload"])

    run(store, settings, scenario)


def test_subscribe_creates_a_channel_webhook_status_then_unsubscribe_deletes_it(
    store: Store, settings: Settings
) -> None:
    async def scenario(rig: Rig) -> None:
        text = await rig.answer(
            "subscribe", topics="taiwan trade", time="07:30", timezone="Europe/London"
        )
        assert text.startswith("✅ Subscribed.") and "#taiwan, #trade" in text
        [create] = rig.api.calls_to("POST", f"/api/channels/{CHANNEL}/webhooks")
        assert create.headers["authorization"] == "Bot bot-token"
        sub = store.subscriptions.get(f"discord-chat:{CHANNEL}")
        assert sub is not None and sub.platform == "discord" and sub.team_id == GUILD
        assert "/api/webhooks/" in sub.channel
        assert (sub.cron, sub.timezone, sub.topics) == ("30 7 * * *", "Europe/London",
                                                        ("taiwan", "trade"))  # fmt: skip
        assert [s.name for s in rig.schedule.scheduled] == [sub.name]

        # Subscribing again changes the schedule and keeps the same webhook.
        await rig.answer("subscribe", topics="taiwan")
        assert len(rig.api.calls_to("POST", "/webhooks")) == 1
        assert store.subscriptions.get(sub.name).channel == sub.channel  # type: ignore[union-attr]

        status = await rig.answer("status")
        assert "Digest for this channel" in status and "#taiwan" in status

        assert "Unsubscribed" in await rig.answer("unsubscribe")
        assert store.subscriptions.get(sub.name) is None
        assert rig.schedule.removed == [sub.name]
        hook_path = sub.channel.split("/api", 1)[1]
        assert rig.api.calls_to("DELETE", hook_path)
        assert "no `/brief` subscription" in await rig.answer("unsubscribe")

    run(store, settings, scenario)


def test_subscribe_says_clearly_what_is_missing(store: Store, settings: Settings) -> None:
    async def scenario(rig: Rig) -> None:
        assert "Manage Webhooks permission" in await rig.answer(
            "subscribe", topics="taiwan", permissions=0
        )
        rig.api.no_manage_webhooks.add(CHANNEL)
        refused = await rig.answer("subscribe", topics="taiwan")
        assert "not allowed to create a webhook" in refused and "Manage Webhooks" in refused
        assert "Unknown topic" in await rig.answer("subscribe", topics="narnia")
        assert "HH:MM" in await rig.answer("subscribe", topics="taiwan", time="25:00")
        assert store.subscriptions.get(f"discord-chat:{CHANNEL}") is None

    run(store, settings, scenario)


def test_without_a_bot_token_subscribe_explains_what_the_operator_must_set(
    store: Store, settings: Settings
) -> None:
    async def scenario(rig: Rig) -> None:
        text = await rig.answer("subscribe", topics="taiwan")
        assert "DISCORD_BOT_TOKEN" in text
        assert rig.api.calls_to("POST", "/webhooks") == []

    run(store, settings, scenario, bot_token=None)


def test_status_reports_the_health_of_the_sources(store: Store, settings: Settings) -> None:
    """`/brief status` says how the sources are doing, as Slack's does: a failing feed is
    named with its error, so a channel learns why its digest is thin."""
    from datetime import timedelta

    from digests.config import SourceConfig
    from digests.store.sources import Finished, Health

    feeds = [
        SourceConfig(name=n, kind=SourceKind.FEED, location=f"http://127.0.0.1:9/{n}.xml")
        for n in ("wire", "gazette")
    ]
    store.sources.seed(feeds, now=NOW)
    claimed = {
        s.name: s for s in store.sources.claim("t", now=NOW, limit=2, lease=timedelta(minutes=5))
    }
    store.sources.settle(
        "t",
        [
            Finished(claimed["wire"].id, NOW, Health(NOW)),
            Finished(claimed["gazette"].id, NOW, Health(NOW, error="HTTP 503 Service Unavailable")),
        ],
        now=NOW,
        claim=0,
        lease=timedelta(minutes=5),
    )

    async def scenario(rig: Rig) -> None:
        status = await rig.answer("status")
        assert "1 of 2 healthy" in status, status
        assert "gazette" in status and "HTTP 503 Service Unavailable" in status, status
        assert "wire" not in status.split("healthy", 1)[1], status  # only the failing one

    run(store, settings, scenario)


def test_subscribe_takes_a_tag_given_by_sources_add(
    store: Store, settings: Settings, config_dir: Path, tmp_path: Path
) -> None:
    """Discord's `/brief subscribe topics:markets` for a feed added with `digestbot sources add
    --tags markets` (what `digestbot topics` lists): "Unknown topic `markets`" before."""
    add_markets_feed(config_dir, tmp_path)

    async def scenario(rig: Rig) -> None:
        listed = await rig.answer("topics")  # marked as `digestbot topics` marks it
        assert "`markets` — 0 articles (source tag: news.example/markets.xml)" in listed
        taiwan = [ln for ln in listed.splitlines() if "`taiwan`" in ln]
        assert taiwan == ["• `taiwan` — 3 articles"], listed  # a configured topic: unmarked
        text = await rig.answer("subscribe", topics="markets")
        assert text.startswith("✅ Subscribed.") and "#markets" in text, text
        sub = store.subscriptions.get(f"discord-chat:{CHANNEL}")
        assert sub is not None and sub.topics == ("markets",)

    run(store, settings, scenario)
