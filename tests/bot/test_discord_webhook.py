"""Digest delivery to a Discord webhook, against the local Discord stand-in on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import pytest

from bot.deliver import Pacer, Sweeper
from bot.platforms.discord.render import digest_parts
from bot.platforms.discord.webhook import DiscordWebhookSender
from digests.compose import compose
from digests.errors import DeliveryError, Unverifiable
from digests.net.util import redact_url as redact
from digests.store import Store
from digests.store.outbox import OutboxMessage
from testkit.articles import made_up_name
from tests.bot.discord_standin import APPLICATION_ID as APP
from tests.bot.discord_standin import DiscordStandIn, serving
from tests.conftest import NOW, make_processed


def run(scenario: Callable[[DiscordStandIn, str], Awaitable[None]]) -> DiscordStandIn:
    """Run ``scenario(stand_in, base_url)`` with the stand-in served on 127.0.0.1:0."""
    stand_in = DiscordStandIn()

    async def main() -> None:
        async with serving(stand_in.app()) as base:
            await scenario(stand_in, base)

    asyncio.run(main())
    return stand_in


def _queue(
    store: Store, webhook: str, *, key: str = "news:2026-11-23T08:00Z", n: int = 3
) -> list[OutboxMessage]:
    """A digest of ``n`` stories rendered for Discord and written to the outbox."""
    for i in range(n):
        a, b = made_up_name(2 * i), made_up_name(2 * i + 1)  # each story an event of its own
        store.articles.add(
            make_processed(
                f"Story {i} @everyone",
                f"{a} and {b} signed a trade pact {i}. {a} said {b} will export {a} tea.",
                tags=(("trade", 2),),
                url=f"https://news.example/{i}",
            ),
            now=NOW,
        )
    digest = compose(store.articles.since(0, limit=100), now=NOW)
    store.outbox.enqueue(
        key,
        [p.payload for p in digest_parts(digest)],
        platform="discord",
        channel=webhook,
        now=NOW,
    )
    return store.outbox.messages(key)


def _subscribe(store: Store, webhook: str) -> None:
    store.subscriptions.upsert(
        "discord-news",
        platform="discord",
        channel=webhook,
        topics=["trade"],
        cron="0 8 * * *",
        timezone="UTC",
        origin="config",
        now=NOW,
    )


def test_a_digest_part_is_posted_with_wait_and_no_mentions(store: Store) -> None:
    async def scenario(api: DiscordStandIn, base: str) -> None:
        [message] = _queue(store, api.webhook_url(base))
        async with httpx.AsyncClient() as client:
            remote_id = await DiscordWebhookSender(client, api_url=f"{base}/api").send(message)
        [posted] = api.messages
        assert remote_id == posted["id"]
        assert posted["wait"] == "true"  # ?wait=true is what returns the message id
        assert posted["allowed_mentions"] == {"parse": []}
        assert "@\u200beveryone" in posted["embeds"][0]["title"]

    run(scenario)


def test_feedback_buttons_go_only_to_a_webhook_the_bot_made(store: Store) -> None:
    # Discord shows buttons only on a webhook an application made (`/brief subscribe`) and
    # sends their clicks to that application. A digest with buttons sent with
    # ?with_components=true to a webhook made by hand (the config's) was refused: no digest.
    async def scenario(api: DiscordStandIn, base: str) -> None:
        by_hand, by_bot, by_other = (api.webhook_url(base, hook) for hook in ("111", "222", "333"))
        api.app_owned.add("222")
        async with httpx.AsyncClient() as client:
            sender = DiscordWebhookSender(client, api_url=f"{base}/api", application_id=APP)
            for n, hook in enumerate((by_hand, by_bot, by_other)):
                [message] = _queue(store, hook, key=f"run:{n}", n=1 if n else 3)
                assert message.payload["components"]  # rendered with its buttons
                assert await sender.send(message)
            other = DiscordWebhookSender(client, api_url=f"{base}/api", application_id="999")
            [message] = _queue(store, by_bot, key="run:9", n=1)
            assert await other.send(message)  # clicks would reach another application
        hand, bot, stranger, not_ours = api.messages
        assert hand["components"] == [] and stranger["components"] == []
        assert not_ours["components"] == []
        ids = [c["custom_id"] for row in bot["components"] for c in row["components"]]
        assert ids and all(i.startswith(("topic_not:", "topic_more:")) for i in ids)
        posts = api.calls_to("POST", "/webhooks/")
        assert [c.query.get("with_components") for c in posts] == [None, "true", None, None]
        assert len(api.calls_to("GET", "/webhooks/")) == 4  # each sender asks once per webhook

    run(scenario)


def test_allowed_mentions_is_forced_even_on_a_hand_made_payload(store: Store) -> None:
    async def scenario(api: DiscordStandIn, base: str) -> None:
        store.outbox.enqueue(
            "k",
            [{"content": "@everyone hi", "allowed_mentions": {"parse": ["everyone"]}}],
            platform="discord",
            channel=api.webhook_url(base),
            now=NOW,
        )
        [message] = store.outbox.messages("k")
        async with httpx.AsyncClient() as client:
            await DiscordWebhookSender(client).send(message)
        assert api.messages[0]["allowed_mentions"] == {"parse": []}

    run(scenario)


def test_429_is_retryable_with_retry_after_then_exactly_one_message(store: Store) -> None:
    async def scenario(api: DiscordStandIn, base: str) -> None:
        [message] = _queue(store, api.webhook_url(base))
        api.rate_limit(1)
        clock = [100.0]
        async with httpx.AsyncClient() as client:
            sender = DiscordWebhookSender(client, clock=lambda: clock[0])
            with pytest.raises(DeliveryError) as caught:
                await sender.send(message)
            assert caught.value.retryable
            assert caught.value.retry_after == pytest.approx(api.retry_after)  # body, not header
            [claim] = store.outbox.claim(owner="t", now=NOW, lease=timedelta(seconds=45))
            assert store.outbox.retry(
                claim,
                error=str(caught.value),
                at=NOW + timedelta(seconds=caught.value.retry_after),
            )
            # Before retry_after has passed the sender refuses without calling Discord.
            posts = len(api.calls_to("POST", "/webhooks/"))
            with pytest.raises(DeliveryError) as early:
                await sender.send(message)
            assert early.value.retryable and len(api.calls_to("POST", "/webhooks/")) == posts
            clock[0] += api.retry_after  # the outbox retries when it is due
            [due] = store.outbox.claim(
                owner="t", now=NOW + timedelta(seconds=1), lease=timedelta(seconds=45)
            )
            assert not due.unknown  # a 429 was not applied: no need to look first
            remote_id = await sender.send(due.message)
            assert store.outbox.sent(due, remote_id=remote_id, now=NOW)
        assert len(api.messages) == 1 and api.messages[0]["id"] == remote_id
        assert len(api.calls_to("POST", "/webhooks/")) == 2
        assert store.outbox.messages(message.digest_key)[0].status == "sent"

    run(scenario)


def test_404_disables_the_subscription_and_is_never_retried(store: Store, caplog) -> None:
    async def scenario(api: DiscordStandIn, base: str) -> None:
        webhook = api.webhook_url(base, "222", "secret-token")
        _subscribe(store, webhook)
        [message] = _queue(store, webhook)
        api.delete_webhook("222")
        async with httpx.AsyncClient() as client:
            sender = DiscordWebhookSender(client, schedules=store.subscriptions)
            with pytest.raises(DeliveryError) as caught:
                await sender.send(message)
            assert not caught.value.retryable
            assert "secret-token" not in str(caught.value)
            with pytest.raises(DeliveryError):
                await sender.send(message)
        assert len(api.calls_to("POST", "/webhooks/222/")) == 1  # gone means gone: no second call
        sub = store.subscriptions.get("discord-news")
        assert sub is not None and not sub.enabled
        assert sub.disabled_reason and "Unknown Webhook" in sub.disabled_reason
        assert "discord-news" in caplog.text and "secret-token" not in caplog.text

    run(scenario)


def test_a_bad_payload_is_not_retried_and_a_server_error_is(store: Store) -> None:
    async def scenario(api: DiscordStandIn, base: str) -> None:
        store.outbox.enqueue(
            "k", [{"content": "hi"}], platform="discord", channel=f"{base}/api/nowhere/1/2", now=NOW
        )
        [message] = store.outbox.messages("k")
        async with httpx.AsyncClient() as client:
            with pytest.raises(DeliveryError) as not_a_webhook:
                await DiscordWebhookSender(client).send(message)
        assert not not_a_webhook.value.retryable and not api.calls

    run(scenario)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            502 if "five" in str(request.url) else 400,
            json={"message": "Invalid Form Body", "code": 50035},
        )

    async def offline() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            sender = DiscordWebhookSender(client, bot_token="bot")  # it can look in the channel
            for hook, unknown in (("five", True), ("four", False)):
                store.outbox.enqueue(
                    hook,
                    [{"content": "hi"}],
                    platform="discord",
                    channel=f"https://discord.test/api/webhooks/1/{hook}",
                    now=NOW,
                )
                with pytest.raises(DeliveryError) as caught:
                    await sender.send(store.outbox.messages(hook)[0])
                # A 5xx may have been applied: reconcile before any resend; a 4xx is refused.
                assert caught.value.retryable is unknown
                assert caught.value.outcome_unknown is unknown
            # Without a bot token nothing can be looked at: a plain retry that says so.
            with pytest.raises(DeliveryError) as blind:
                await DiscordWebhookSender(client).send(store.outbox.messages("five")[0])
            assert blind.value.retryable and not blind.value.outcome_unknown
            assert "posted again" in str(blind.value)

    asyncio.run(offline())


def test_find_sent_reconciles_a_part_posted_before_a_crash(store: Store) -> None:
    async def scenario(api: DiscordStandIn, base: str) -> None:
        first, second, *_ = _queue(store, api.webhook_url(base), n=25)
        async with httpx.AsyncClient() as client:
            sender = DiscordWebhookSender(client, api_url=f"{base}/api", bot_token=api.bot_token)
            posted = await sender.send(first)  # ...and the process dies before recording it
            assert await sender.find_sent(first) == posted
            assert await sender.find_sent(second) is None
            blind = DiscordWebhookSender(client, api_url=f"{base}/api")  # no bot token
            with pytest.raises(Unverifiable, match="DISCORD_BOT_TOKEN"):
                await blind.find_sent(first)  # never: the sweeper sends it again, once said

    run(scenario)


def test_redact_hides_the_webhook_token() -> None:
    assert (
        redact("https://discord.com/api/webhooks/123/abcDEF")
        == "https://discord.com/api/webhooks/123/***"
    )
    assert "abc" not in redact("https://x/webhooks/1/abc?thread_id=5")


def test_a_crash_between_sent_and_recorded_is_reconciled_not_reposted(store: Store) -> None:
    async def scenario(api: DiscordStandIn, base: str) -> None:
        first, *rest = _queue(store, api.webhook_url(base), n=25)
        async with httpx.AsyncClient() as client:
            sender = DiscordWebhookSender(client, api_url=f"{base}/api", bot_token=api.bot_token)
            # A run claimed part 0, posted it, and died before recording the id.
            assert store.outbox.claim(owner="dead", now=NOW, lease=timedelta(seconds=45))
            posted = await sender.send(first)
            later = NOW + timedelta(seconds=45)  # the lease ran out: reconciled within a minute
            report = await Sweeper(
                store, {"discord": sender}, owner="test", now=lambda: later, pacer=Pacer(0)
            ).sweep()
        assert report.reconciled == 1 and report.sent == len(rest)
        assert [m["id"] for m in api.messages].count(posted) == 1
        assert len(api.messages) == 1 + len(rest)  # part 0 exactly once
        assert store.outbox.messages(first.digest_key)[0].remote_id == posted

    run(scenario)


def test_an_exhausted_bucket_waits_for_reset_after_without_calling() -> None:
    posts: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        posts.append(request)
        return httpx.Response(
            200,
            json={"id": str(len(posts))},
            headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "2.5"},
        )

    message = OutboxMessage(1, "k", 0, "discord", "https://discord.test/api/webhooks/1/t",
                            {"content": "hi"}, "pending", 0, None, None, NOW)  # fmt: skip

    async def main() -> None:
        clock = [0.0]
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            sender = DiscordWebhookSender(client, clock=lambda: clock[0])
            assert await sender.send(message) == "1"
            with pytest.raises(DeliveryError) as caught:
                await sender.send(message)
            assert caught.value.retryable and caught.value.retry_after == pytest.approx(2.5)
            clock[0] = 2.5
            assert await sender.send(message) == "2"

    asyncio.run(main())
    assert len(posts) == 2


def test_a_post_applied_but_answered_502_is_reconciled_not_reposted(store: Store) -> None:
    async def scenario(api: DiscordStandIn, base: str) -> None:
        parts = _queue(store, api.webhook_url(base), n=25)  # several messages
        assert len(parts) >= 3
        api.applied_then_502 = 1  # Discord posts part 1, then fails the answer
        async with httpx.AsyncClient() as client:
            sender = DiscordWebhookSender(client, api_url=f"{base}/api", bot_token=api.bot_token)
            first = await Sweeper(
                store, {"discord": sender}, owner="test", now=lambda: NOW, pacer=Pacer(0)
            ).sweep()
            assert first.sent == 0 and first.retried == 1  # unknown: nothing else overtakes it
            [row, *_] = store.outbox.messages(parts[0].digest_key)
            assert row.status == "sending" and "outcome unknown" in (row.last_error or "")
            later = NOW + timedelta(seconds=15)
            second = await Sweeper(
                store, {"discord": sender}, owner="test", now=lambda: later, pacer=Pacer(0)
            ).sweep()
        assert second.reconciled == 1 and second.sent == len(parts) - 1
        contents = [m["content"] for m in api.messages]
        assert len(contents) == len(set(contents)) == len(parts)  # each part exactly once, in order
        assert [f"part {i}/{len(parts)}" in c for i, c in enumerate(contents, 1)] == [True] * len(
            parts
        )

    run(scenario)
