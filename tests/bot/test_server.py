"""The ASGI app's lifespan runs the scheduler; extra routes mount beside Slack's."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bot.platforms.slack.render import digest_parts
from bot.schedule import DigestScheduler
from bot.server import create_server_app
from digests.config import Settings
from digests.store import Store


async def _hi(_: Request) -> PlainTextResponse:
    return PlainTextResponse("hi")


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot")


def test_lifespan_starts_and_stops_the_scheduler(store: Store, settings: Settings) -> None:
    later = datetime.now(UTC) + timedelta(days=1)  # poll jobs' first run stays in the future
    scheduler = DigestScheduler(
        store,
        settings,
        owner="t",
        senders={},
        clock=lambda: later,
        renderers={"slack": lambda d, k: digest_parts(d, key=k)},
    )
    extra = Route("/discord/interactions", _hi, methods=["POST"])
    app = create_server_app(store, scheduler=scheduler, extra_routes=[extra])

    async def scenario() -> None:
        async with app.router.lifespan_context(app), _client(app) as client:
            assert scheduler.scheduler.running
            assert {j.id for j in scheduler.scheduler.get_jobs()} >= {"outbox", "poll"}
            health = (await client.get("/healthz")).json()
            assert {k: health[k] for k in ("ok", "db", "articles")} == {
                "ok": True, "db": True, "articles": 5,  # the seeds: read before serving
            }  # fmt: skip
            assert (
                health["delivery"]["ok"] is True
                and (await client.get("/readyz")).status_code == 200
            )
            assert (await client.post("/discord/interactions")).text == "hi"
            assert (await client.post("/slack/events")).status_code == 404  # Slack not configured
        await asyncio.sleep(0)  # one loop turn: AsyncIOScheduler.shutdown runs via call_soon
        assert not scheduler.scheduler.running

    asyncio.run(scenario())


def test_healthz_says_when_the_database_is_broken(store: Store) -> None:
    with store.engine.begin() as conn:  # a database that lost its tables
        conn.execute(text("ALTER TABLE articles RENAME TO articles_gone"))

    async def scenario() -> httpx.Response:
        async with _client(create_server_app(store)) as client:
            return await client.get("/healthz")

    response = asyncio.run(scenario())
    assert response.status_code == 503 and response.json()["db"] is False


def test_operator_token_guards_metrics_and_health_details(store: Store, settings: Settings) -> None:
    from bot.metrics import Metrics

    later = datetime.now(UTC) + timedelta(days=1)
    scheduler = DigestScheduler(
        store, settings, owner="t", senders={}, clock=lambda: later,
        renderers={"slack": lambda d, k: digest_parts(d, key=k)},
    )  # fmt: skip
    hook = "https://discord.example/api/webhooks/123/S3CRETTOKEN"
    store.subscriptions.upsert("daily-news", platform="discord", channel=hook, topics=(),
                               cron="0 8 * * *", timezone="UTC", origin="config", now=later)  # fmt: skip
    store.outbox.enqueue("daily:1", [{"content": "x"}], platform="discord", channel=hook,
                         now=later, subscription="daily-news")  # fmt: skip
    [claim] = store.outbox.claim(owner="t", now=later, lease=timedelta(seconds=45))
    store.outbox.dead(claim, error=f"HTTP 404 from {hook}", now=later)  # the webhook was deleted
    app = create_server_app(
        store, scheduler=scheduler, metrics=Metrics(store), operator_token="op-t0ken"
    )
    good = {"Authorization": "Bearer op-t0ken"}

    async def scenario() -> dict[str, httpx.Response]:
        async with _client(app) as client:
            return {
                "metrics": await client.get("/metrics"),
                "metrics-bad": await client.get("/metrics", headers={"Authorization": "Bearer x"}),
                "metrics-ok": await client.get("/metrics", headers=good),
                "healthz": await client.get("/healthz"),
                "readyz": await client.get("/readyz"),
                "healthz-ok": await client.get("/healthz", headers=good),
                "readyz-ok": await client.get("/readyz", headers=good),
            }

    got = asyncio.run(scenario())
    assert got["metrics"].status_code == got["metrics-bad"].status_code == 401
    assert got["metrics-ok"].status_code == 200 and "digestbot_" in got["metrics-ok"].text
    # Without the token: only what a load balancer needs.
    assert got["healthz"].json() == {"ok": False} and got["readyz"].json() == {"ok": False}
    assert got["readyz"].status_code == 200  # delivery trouble is no reason to leave the pool
    detail = got["readyz-ok"].json()
    [problem] = detail["delivery"]["problems"]
    assert problem.startswith("1 message(s) refused for good (daily-news); their articles go")
    assert "HTTP 404 from https://discord.example/api/webhooks/123/***" in problem
    for response in got.values():
        assert "S3CRETTOKEN" not in response.text


def test_metrics_labels_never_show_a_url_named_sources_secrets(store: Store) -> None:
    from bot.metrics import Metrics
    from digests.ingest.sources import SourceReport

    legacy = "bob:hunter2@feeds.example/rss?api_key=K3Y"  # named by an older version
    store.sources.ensure(legacy, kind="feed", location=f"https://{legacy}")
    store.sources.failed(legacy, now=datetime.now(UTC), error=f"HTTP 500 from https://{legacy}")
    metrics = Metrics(store)
    metrics.poll_done(legacy, SourceReport(source=legacy, error="HTTP 500"))
    text = metrics.render().decode()
    assert 'source="***@feeds.example/rss?api_key=***"' in text
    assert "hunter2" not in text and "K3Y" not in text


def test_slack_routes_come_through_the_platform_like_every_other(
    store: Store, settings: Settings
) -> None:
    """Slack's Bolt routes are its ``routes(ctx)``: events with a bot token, the OAuth install
    and redirect with installs, none in Socket Mode or without a chat service; the server
    mounts them after its own, as every platform's."""
    from bot.chat import ChatService
    from bot.platforms import PlatformContext, get
    from bot.serve import extra_routes
    from bot.settings import load_bot_settings

    chat = ChatService(store, settings)
    slack = get("slack")

    def paths(environ: dict[str, str], *, with_chat: bool = True) -> list[tuple[str, set[str]]]:
        ctx = PlatformContext(
            load_bot_settings(environ),
            environ,
            store,
            chat=chat if with_chat else None,
        )
        return [(r.path, set(r.methods or ())) for r in slack.routes(ctx)]  # type: ignore[attr-defined]

    token = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
    oauth = {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "c", "SLACK_SIGNING_SECRET": "s"}
    assert paths(token) == [("/slack/events", {"POST"})]
    assert paths(oauth) == [
        ("/slack/events", {"POST"}),
        ("/slack/install", {"GET", "HEAD"}),
        ("/slack/oauth_redirect", {"GET", "HEAD"}),
    ]
    assert paths({**token, "SLACK_APP_TOKEN": "xapp-1"}) == []  # Socket Mode: the websocket
    assert paths(token, with_chat=False) == []
    assert paths({}) == []

    ctx = PlatformContext(load_bot_settings(token), token, store, chat=chat)
    app = create_server_app(store, extra_routes=extra_routes(ctx))
    assert [r.path for r in app.routes] == ["/healthz", "/readyz", "/slack/events"]  # type: ignore[attr-defined]
