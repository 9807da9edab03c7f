"""Mattermost, the third platform: rendering, the outbox sender and the `/brief` slash command,
against the local stand-in (real HTTP on 127.0.0.1, a real store, the real chat service)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import httpx
import pytest
from starlette.applications import Starlette

from bot.chat import ChatService
from bot.deliver import queue_digest
from bot.delivery_health import delivery_health
from bot.metrics import Metrics
from bot.platforms import PlatformContext, get
from bot.platforms.mattermost import command
from bot.platforms.mattermost.command import command_route
from bot.platforms.mattermost.render import MAX_POST, digest_parts, escape
from bot.platforms.mattermost.sender import RECHECK_REFUSED, MattermostSender
from bot.platforms.mattermost.settings import load_mattermost
from bot.schedule import target_of
from bot.serve import renderers
from bot.settings import load_bot_settings, load_core_settings
from bot.sweep import Pacer, Sweeper, Timings
from bot.workpool import WorkPool
from digests.compose import compose
from digests.config import Settings
from digests.errors import ConfigError
from digests.models import Brief, Digest, DigestItem, DigestSection, StoredArticle
from digests.store import Store
from testkit.articles import made_up_name
from tests.bot.conftest import add_taiwan_articles
from tests.bot.discord_standin import serving
from tests.bot.mattermost_standin import MattermostStandIn
from tests.conftest import NOW, make_processed

TOKEN = "cmd-token"


def _articles(store: Store, n: int) -> None:
    for i in range(n):
        store.articles.add(
            make_processed(
                f"Story {i} @channel *bold* [link](https://evil.example) {made_up_name(i)}",
                f"Sentence one about {made_up_name(i)} on trade route {i} and port {i * 7}. " * 40
                + f"Ask @all about cargo {i}.",
                tags=(("trade", 2),),
                url=f"https://news.example/{i}",
            ),
            now=NOW,
        )


# -- rendering -------------------------------------------------------------------------------


def test_a_large_digest_splits_under_the_post_limit_each_article_once(store: Store) -> None:
    _articles(store, 120)
    digest = compose(store.articles.since(0, limit=500), now=NOW)
    parts = digest_parts(digest)
    assert len(parts) > 1
    texts = [p.payload["text"] for p in parts]
    assert all(len(t) <= MAX_POST for t in texts)
    assert all(f"({i}/{len(parts)})" in t for i, t in enumerate(texts, 1))
    shown = [a for p in parts for a in p.article_ids]
    assert sorted(shown) == sorted(digest.article_ids)  # every article exactly once
    joined = "\n".join(texts)
    assert "@channel" not in joined and "@all" not in joined  # no pings from article text
    assert "\\*bold\\*" in joined and "\\[link\\]" in joined  # article markup shown literally
    assert "metadata" not in parts[0].payload and "props" not in parts[0].payload  # no key


def test_escape_neutralises_markdown_and_mentions() -> None:
    assert escape("a *b* _c_ `d` [e](f) @here #g") == (
        "a \\*b\\* \\_c\\_ \\`d\\` \\[e\\]\\(f\\) @\u200bhere \\#g"
    )


# -- settings and the registry ---------------------------------------------------------------


def test_webhooks_of_other_hosts_are_refused_in_config(store: Store) -> None:
    env = {"MATTERMOST_URL": "https://chat.example.com/"}
    ctx = PlatformContext(load_bot_settings({}), env, store)
    platform = get("mattermost")
    platform.check_channel("https://chat.example.com/hooks/abc123", ctx)
    platform.check_channel("https://chat.example.com/hooks/stand-in_hook", ctx)
    for bad in (
        "https://evil.example/hooks/abc123",
        "https://chat.example.com.evil.example/hooks/abc123",
        "http://chat.example.com/hooks/abc123",
        "https://user:pw@chat.example.com/hooks/abc123",
        "https://chat.example.com/hooks/abc123?x=1",
    ):
        with pytest.raises(ConfigError, match="incoming webhook URL of MATTERMOST_URL"):
            platform.check_channel(bad, ctx)
    with pytest.raises(ConfigError, match="MATTERMOST_URL"):
        load_mattermost({"MATTERMOST_URL": "chat.example.com"})


def test_a_webhook_url_never_becomes_a_subscription_name(config_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (config_dir / "subscriptions.toml").write_text(
        "[[subscription]]\nplatform = 'mattermost'\n"
        "channel = 'https://chat.example.com/hooks/secret123'\n"
    )
    core = load_core_settings({"DIGESTBOT_DATA_DIR": str(tmp_path / "d")}, config_dir)
    [sub] = core.subscriptions
    assert sub.name.startswith("mattermost:") and "secret123" not in sub.name


def test_command_tokens_are_several_and_compared_whole() -> None:
    settings = load_mattermost(
        {"MATTERMOST_URL": "https://m.example", "MATTERMOST_COMMAND_TOKEN": " one, two ,"}
    )
    assert settings is not None and settings.command_tokens == ("one", "two")
    assert settings.token_ok("one") and settings.token_ok("two")
    assert (
        not settings.token_ok("")
        and not settings.token_ok("on")
        and not settings.token_ok("one,two")
    )


def test_a_late_brief_is_posted_only_to_this_server() -> None:
    settings = load_mattermost({"MATTERMOST_URL": "http://127.0.0.1:8065/"})
    assert settings is not None
    here = "http://127.0.0.1:8065/hooks/commands/abc123"
    assert settings.reply_url(here) == here
    for site_url in ("https://chat.example.com", "https://example.com/mm", "http://10.0.0.5"):
        assert settings.reply_url(f"{site_url}/hooks/commands/Abc123") == (
            "http://127.0.0.1:8065/hooks/commands/Abc123"
        )
    assert settings.reply_url("/hooks/commands/abc123") == here  # built on an empty Site URL
    for never in (
        "",
        "https://evil.example/response/1",
        "https://evil.example/hooks/abc123",  # an incoming webhook, not a command's
        "https://evil.example/hooks/commands/abc123/x",
        "https://evil.example/hooks/commands/abc-123",
        "https://evil.example/hooks/commands/abc123?next=https://evil.example",
        "https://evil.example/hooks/commands/abc123#x",
        "https://evil.example/hooks/commands/",
    ):
        assert settings.reply_url(never) == "", never


def test_the_command_wait_is_a_bounded_number_of_seconds() -> None:
    base = {"MATTERMOST_URL": "https://m.example"}
    default = load_mattermost(base)
    assert default is not None and default.command_wait == 10.0
    for given, seconds in (("2.5", 2.5), (" 1 ", 1.0), ("", 10.0), ("60", 60.0)):
        chosen = load_mattermost({**base, "MATTERMOST_COMMAND_WAIT": given})
        assert chosen is not None and chosen.command_wait == seconds
    for bad in ("ten", "0", "-3", "61", "nan", "inf", "1e9", "5s", "x\n" * 40):
        with pytest.raises(ConfigError) as caught:
            load_mattermost({**base, "MATTERMOST_COMMAND_WAIT": bad})
        message = str(caught.value)
        assert message.startswith("MATTERMOST_COMMAND_WAIT must be a number of seconds above 0")
        assert "\n" not in message and len(message) < 220, message


def test_an_unknown_platform_in_config_is_refused_naming_the_known_ones(
    config_dir, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    (config_dir / "subscriptions.toml").write_text(
        "[[subscription]]\nname = 'am'\nplatform = 'teams'\nchannel = 'x'\n"
    )
    with pytest.raises(ConfigError, match="unknown platform 'teams'; known: slack, discord, "
                                          "mattermost"):  # fmt: skip
        load_core_settings({"DIGESTBOT_DATA_DIR": str(tmp_path / "d")}, config_dir)


# -- the sender ------------------------------------------------------------------------------


def _queue(store: Store, channel: str, n: int = 3) -> str:
    _articles(store, n)
    digest = compose(store.articles.since(0, limit=100), now=NOW)
    key = "run:1"
    store.outbox.enqueue(
        key, [p.payload for p in digest_parts(digest)], platform="mattermost",
        channel=channel, now=NOW, subscription="mm",
    )  # fmt: skip
    return key


def _sweep(store: Store, sender: MattermostSender, at=NOW) -> dict:  # type: ignore[no-untyped-def]
    sweeper = Sweeper(store, {"mattermost": sender}, owner="t", now=lambda: at, pacer=Pacer(0),
                      timings=Timings(backoff_base=1))  # fmt: skip
    return vars(asyncio.run(sweeper.sweep()))


def _with_standin(scenario: Callable[[MattermostStandIn, str], Awaitable[None]]) -> None:
    async def main() -> None:
        api = MattermostStandIn()
        async with serving(api.app()) as base:
            await scenario(api, base)

    asyncio.run(main())


def test_webhook_posts_carry_the_key_in_props_and_a_foreign_host_is_never_called(
    store: Store,
) -> None:
    async def scenario(api: MattermostStandIn, base: str) -> None:
        settings = load_mattermost({"MATTERMOST_URL": base})
        assert settings is not None
        key = _queue(store, f"{base}/hooks/h1")
        store.outbox.enqueue("run:2", [{"text": "x"}], platform="mattermost",
                             channel="http://127.0.0.2:9/hooks/h9", now=NOW)  # fmt: skip
        async with httpx.AsyncClient(timeout=10) as client:
            sender = MattermostSender(client, settings, schedules=store.subscriptions)
            sweeper = Sweeper(store, {"mattermost": sender}, owner="t", now=lambda: NOW,
                              pacer=Pacer(0))  # fmt: skip
            report = await sweeper.sweep()
        assert report.sent == 1 and report.dead == 1
        [post] = api.in_channel("ch-h1")
        assert post.via == "webhook" and post.props["digestbot_key"] == key
        assert post.props["disable_group_highlight"] is True
        # /healthz, /readyz and `digestbot status` name the refused channel without its
        # secret webhook path.
        [problem] = delivery_health(store, now=NOW).problems
        assert "refused for good (mattermost webhook 127.0.0.2 #" in problem and "h9" not in problem
        [refused] = store.outbox.messages("run:2")
        assert refused.status == "dead" and "not an incoming webhook" in (refused.last_error or "")
        assert "h9" not in (refused.last_error or "")  # a webhook id is a secret: never shown
        assert all("/hooks/h9" not in path for _, path in api.calls)

    _with_standin(scenario)


def test_a_webhook_id_never_reaches_the_logs_or_the_status_lines(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # A Mattermost webhook's id is its secret: the sweep's "sent" line, verbose httpx lines and
    # the delivery-health names show ".../hooks/***" (was the whole URL, at INFO).
    from digests.net.util import redact

    hook_id = "qk7s3cr3th00k1d"

    async def scenario(api: MattermostStandIn, base: str) -> None:
        settings = load_mattermost({"MATTERMOST_URL": base})
        assert settings is not None
        _queue(store, f"{base}/hooks/{hook_id}")
        async with httpx.AsyncClient(timeout=10) as client:
            sender = MattermostSender(client, settings, schedules=store.subscriptions)
            sweeper = Sweeper(store, {"mattermost": sender}, owner="t", now=lambda: NOW,
                              pacer=Pacer(0))  # fmt: skip
            report = await sweeper.sweep()
        assert report.sent == 1 and api.in_channel(f"ch-{hook_id}")  # it was really posted
        line = f"mattermost {base}/hooks/{hook_id}"
        assert redact(line) == f"mattermost {base}/hooks/***"  # status, /healthz, /readyz

    with caplog.at_level(logging.DEBUG):
        _with_standin(scenario)
    sent = [r.getMessage() for r in caplog.records if r.getMessage().startswith("sent ")]
    assert sent and all("/hooks/***" in m for m in sent), sent
    # digestbot's own lines as written (httpx's go through the log filter: test_logs.py).
    ours = [r.getMessage() for r in caplog.records if r.name.startswith(("bot", "digests"))]
    assert ours and not [m for m in ours if hook_id in m]


def test_a_429_waits_and_a_deleted_webhook_disables_its_subscription(store: Store) -> None:
    async def scenario(api: MattermostStandIn, base: str) -> None:
        settings = load_mattermost({"MATTERMOST_URL": base})
        assert settings is not None
        hook = f"{base}/hooks/h2"
        store.subscriptions.upsert("mm", platform="mattermost", channel=hook, topics=(),
                               cron="* * * * *", timezone="UTC", origin="config", now=NOW)  # fmt: skip
        _queue(store, hook)
        api.faults += ["429"]
        async with httpx.AsyncClient(timeout=10) as client:
            sender = MattermostSender(client, settings, schedules=store.subscriptions)
            sweeper = Sweeper(store, {"mattermost": sender}, owner="t", now=lambda: NOW,
                              pacer=Pacer(0))  # fmt: skip
            first = await sweeper.sweep()
            [row] = store.outbox.messages("run:1")
            assert first.retried == 1 and row.next_attempt_at == NOW + timedelta(seconds=7)
            api.faults += ["404"]
            later = NOW + timedelta(seconds=8)
            sweeper.now = lambda: later
            second = await sweeper.sweep()
        assert second.dead == 1 and api.in_channel("ch-h2") == []
        sub = store.subscriptions.get("mm")
        assert sub is not None and not sub.enabled and "webhook gone" in (sub.disabled_reason or "")

    _with_standin(scenario)


def test_a_capped_digest_says_how_many_stories_it_left_out(store: Store) -> None:
    # The digest shows the top `max_stories`; Slack and Discord end with "+N more stories",
    # the Mattermost post said nothing of the stories it left out.
    async def scenario(api: MattermostStandIn, base: str) -> None:
        settings = load_mattermost({"MATTERMOST_URL": base})
        assert settings is not None
        sub = store.subscriptions.upsert(
            "mm", platform="mattermost", channel=f"{base}/hooks/h4", topics=(),
            cron="0 8 * * *", timezone="UTC", origin="config", now=NOW, watermark=0,
        )  # fmt: skip
        _articles(store, 7)
        run_id = store.runs.claim(sub.id, NOW, owner="t", now=NOW)
        assert run_id is not None
        result = queue_digest(store, target_of(sub, 5), run_id, now=NOW, renderers=renderers())
        assert result.status == "queued"
        async with httpx.AsyncClient(timeout=10) as client:
            sender = MattermostSender(client, settings, schedules=store.subscriptions)
            await Sweeper(store, {"mattermost": sender}, owner="t", now=lambda: NOW,
                          pacer=Pacer(0)).sweep()  # fmt: skip
        [post] = api.in_channel("ch-h4")
        assert post.message.count("\n**[") == 5  # five stories shown
        assert "+2 more stories" in post.message

    _with_standin(scenario)


def test_with_a_bot_token_an_unknown_outcome_is_reconciled_not_reposted(store: Store) -> None:
    async def scenario(api: MattermostStandIn, base: str) -> None:
        settings = load_mattermost({"MATTERMOST_URL": base, "MATTERMOST_BOT_TOKEN": "bot-token"})
        assert settings is not None
        key = _queue(store, f"{base}/hooks/h3")
        api.faults += ["apply+502"]  # the post is made, the answer lost
        async with httpx.AsyncClient(timeout=10) as client:
            sender = MattermostSender(client, settings, schedules=store.subscriptions)
            sweeper = Sweeper(store, {"mattermost": sender}, owner="t", now=lambda: NOW,
                              pacer=Pacer(0))  # fmt: skip
            first = await sweeper.sweep()
            assert first.retried == 1
            [row] = store.outbox.messages(key)
            later = row.next_attempt_at + timedelta(seconds=1)
            sweeper.now = lambda: later
            second = await sweeper.sweep()
        assert second.reconciled == 1 and second.sent == 0
        [post] = api.in_channel("ch-h3")  # exactly once
        assert post.via == "api" and post.props["digestbot_key"] == key
        [row] = store.outbox.messages(key)
        assert row.status == "sent" and row.remote_id == post.id
        assert ("GET", "/api/v4/channels/ch-h3/posts") in api.calls

    _with_standin(scenario)


def test_an_unknown_outcome_is_found_on_a_server_whose_clock_is_minutes_behind(
    store: Store,
) -> None:
    """Mattermost stamps posts with its own clock: a server three minutes behind ours still has
    its copy found (the look-back allows CLOCK_SKEW, as Slack's), not posted twice."""

    async def scenario(api: MattermostStandIn, base: str) -> None:
        settings = load_mattermost({"MATTERMOST_URL": base, "MATTERMOST_BOT_TOKEN": "bot-token"})
        assert settings is not None
        api.clock_offset_ms = -3 * 60_000
        api.faults += ["apply+502"]  # the post is made, the answer lost
        now = datetime.now(UTC)  # the stand-in stamps posts with the real clock
        store.outbox.enqueue("run:9", [{"text": "part"}], platform="mattermost",
                             channel=f"{base}/hooks/h7", now=now)  # fmt: skip
        async with httpx.AsyncClient(timeout=10) as client:
            sender = MattermostSender(client, settings, clock=lambda: now)
            sweeper = Sweeper(store, {"mattermost": sender}, owner="t", now=lambda: now,
                              pacer=Pacer(0))  # fmt: skip
            assert (await sweeper.sweep()).retried == 1
            [row] = store.outbox.messages("run:9")
            sweeper.now = lambda: row.next_attempt_at + timedelta(seconds=1)
            assert (await sweeper.sweep()).reconciled == 1
        [post] = api.in_channel("ch-h7")  # exactly once
        [row] = store.outbox.messages("run:9")
        assert row.status == "sent" and row.remote_id == post.id

    _with_standin(scenario)


def test_a_refused_webhook_lookup_is_tried_again_later_with_one_warning_an_episode(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """The bot's token refused (401) reading the webhook: webhook posts, one warning; the
    lookup is not repeated at every post but after RECHECK_REFUSED; once the token works
    again, posts go through the API (no restart)."""

    async def scenario(api: MattermostStandIn, base: str) -> None:
        settings = load_mattermost({"MATTERMOST_URL": base, "MATTERMOST_BOT_TOKEN": "bot-token"})
        assert settings is not None
        clock = [NOW]
        api.bot_token = "rotated"  # the bot's token is refused: 401
        async with httpx.AsyncClient(timeout=10) as client:
            sender = MattermostSender(client, settings, clock=lambda: clock[0])
            sweeper = Sweeper(store, {"mattermost": sender}, owner="t", now=lambda: clock[0],
                              pacer=Pacer(0))  # fmt: skip

            async def post(n: int, after: timedelta) -> str:
                clock[0] = NOW + after
                store.outbox.enqueue(f"run:{n}", [{"text": f"part {n}"}], platform="mattermost",
                                     channel=f"{base}/hooks/h5", now=clock[0])  # fmt: skip
                assert (await sweeper.sweep()).sent == 1
                return api.in_channel("ch-h5")[-1].via

            lookups = lambda: api.calls.count(("GET", "/api/v4/hooks/incoming/h5"))  # noqa: E731
            assert await post(1, timedelta(0)) == "webhook" and lookups() == 1
            assert await post(2, timedelta(minutes=1)) == "webhook" and lookups() == 1
            assert await post(3, RECHECK_REFUSED + timedelta(minutes=1)) == "webhook"
            assert lookups() == 2  # looked again, still refused: the same episode, no warning
            api.bot_token = "bot-token"  # the operator fixed the token
            assert await post(4, 2 * RECHECK_REFUSED + timedelta(minutes=2)) == "api"
            assert await post(5, 2 * RECHECK_REFUSED + timedelta(minutes=3)) == "api"
            assert lookups() == 3  # a success is kept
        warnings = [r for r in caplog.records if "cannot read an incoming webhook" in r.message]
        assert len(warnings) == 1

    with caplog.at_level(logging.INFO):
        _with_standin(scenario)


def test_a_bot_token_revoked_after_it_worked_moves_posts_to_the_webhook_not_dead(
    store: Store,
) -> None:
    """The channel was looked up with a working token, then the token was revoked: the REST
    post's 401 is not a refusal of the part for good (nothing was posted): it is retried
    through the webhook, and the API is tried again RECHECK_REFUSED later."""

    async def scenario(api: MattermostStandIn, base: str) -> None:
        settings = load_mattermost({"MATTERMOST_URL": base, "MATTERMOST_BOT_TOKEN": "bot-token"})
        assert settings is not None
        clock = [NOW]
        async with httpx.AsyncClient(timeout=10) as client:
            sender = MattermostSender(client, settings, clock=lambda: clock[0])
            sweeper = Sweeper(store, {"mattermost": sender}, owner="t", now=lambda: clock[0],
                              pacer=Pacer(0))  # fmt: skip
            for n in (1, 2):
                store.outbox.enqueue(f"run:{n}", [{"text": f"part {n}"}], platform="mattermost",
                                     channel=f"{base}/hooks/h6", now=NOW)  # fmt: skip
                report = await sweeper.sweep()
                api.bot_token = "revoked"  # after the first part
            assert report.retried == 1 and report.dead == 0
            [row] = store.outbox.messages("run:2")
            clock[0] = row.next_attempt_at + timedelta(seconds=1)
            assert (await sweeper.sweep()).sent == 1
        assert [p.via for p in api.in_channel("ch-h6")] == ["api", "webhook"]

    _with_standin(scenario)


# -- the slash command -----------------------------------------------------------------------


def _command(
    store: Store,
    settings: Settings,
    scenario: Callable[[MattermostStandIn, str, str, httpx.AsyncClient, Metrics], Awaitable[None]],
    *,
    brief: Callable[[str], Brief] | None = None,
    tokens: str = TOKEN,
    wait: str = "",
) -> None:
    async def main() -> None:
        api = MattermostStandIn()
        async with serving(api.app()) as base, httpx.AsyncClient(timeout=30) as client:
            mm = load_mattermost(
                {"MATTERMOST_URL": base, "MATTERMOST_COMMAND_TOKEN": tokens,
                 "MATTERMOST_COMMAND_WAIT": wait}
            )  # fmt: skip
            assert mm is not None
            metrics = Metrics(store)
            chat = ChatService(
                store, settings, metrics=metrics, pool=WorkPool(2, 2),
                brief=None if brief is None else (lambda topic, _now: brief(topic)),
            )  # fmt: skip
            app = Starlette(routes=[command_route(mm, chat, client)])
            async with serving(app) as bot:
                await scenario(api, base, f"{bot}/mattermost/command", client, metrics)

    asyncio.run(main())


def _form(text: str, *, token: str = TOKEN, response_url: str = "") -> dict:
    return {
        "content": urlencode(
            {
                "token": token,
                "team_id": "t1",
                "channel_id": "c1",
                "user_id": "u1",
                "command": "/brief",
                "text": text,
                "response_url": response_url,
                "trigger_id": f"tr-{text}",
            }
        ),  # fmt: skip
        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
    }


def test_brief_with_the_right_token_is_a_cited_answer(store: Store, settings: Settings) -> None:
    add_taiwan_articles(store)

    async def scenario(api, base, url, client, metrics) -> None:  # type: ignore[no-untyped-def]
        answer = await client.post(url, **_form("taiwan", response_url=f"{base}/response/1"))
        assert answer.status_code == 200
        body = answer.json()
        assert body["response_type"] == "ephemeral"
        assert body["text"].startswith("#### Brief: taiwan")
        assert "[\\[1\\]](https://" in body["text"] and "**Sources**" in body["text"]
        assert 'digestbot_brief_latency_seconds_count{platform="mattermost"} 1.0' in (
            metrics.render().decode()
        )
        assert api.responses.empty()  # answered at once: nothing through response_url

    _command(store, settings, scenario)


def test_a_wrong_or_missing_token_is_401_and_nothing_is_answered(
    store: Store, settings: Settings
) -> None:
    asked: list[str] = []

    def brief(topic: str) -> Brief:
        asked.append(topic)
        return Brief(topic, (), ())

    async def scenario(api, base, url, client, metrics) -> None:  # type: ignore[no-untyped-def]
        for token in ("wrong", "", "one,two", "two "):
            answer = await client.post(
                url, **_form("taiwan", token=token, response_url=f"{base}/response/1")
            )
            assert answer.status_code == 401 and "text" not in answer.json()
        ok = await client.post(url, **_form("help", token="two"))  # the second of two tokens
        assert ok.status_code == 200 and "/brief topics" in ok.json()["text"]
        as_json = await client.post(url, json={"token": "one", "text": "help"})
        assert as_json.status_code == 200 and "/brief topics" in as_json.json()["text"]
        not_form = await client.post(url, content=b"\xff\xfe", headers={"Content-Type": "x"})
        assert not_form.status_code == 401
        await asyncio.sleep(0.2)
        assert api.responses.empty() and asked == []

    _command(store, settings, scenario, brief=brief, tokens="one,two")


def test_a_slow_brief_is_acknowledged_then_posted_to_the_response_url(
    store: Store, settings: Settings
) -> None:
    release = threading.Event()

    def slow(topic: str) -> Brief:
        assert release.wait(30)
        return Brief(topic, (), (), suggestions=("taiwan",))

    async def scenario(api, base, url, client, metrics) -> None:  # type: ignore[no-untyped-def]
        answer = await client.post(url, **_form("chips", response_url=f"{base}/response/7"))
        assert answer.status_code == 200 and "Working on a brief" in answer.json()["text"]
        release.set()
        follow_up = await asyncio.wait_for(api.responses.get(), 30)
        assert follow_up["response_type"] == "ephemeral" and "chips" in follow_up["text"]
        assert "`taiwan`" in follow_up["text"]

    _command(store, settings, scenario, brief=slow)


def test_a_response_url_on_another_host_is_never_called(store: Store, settings: Settings) -> None:
    async def scenario(api, base, url, client, metrics) -> None:  # type: ignore[no-untyped-def]
        elsewhere = "http://127.0.0.2:9/response/1"
        answer = await client.post(url, **_form("taiwan", response_url=elsewhere))
        # Without a usable response_url the brief itself is the answer, however long it takes.
        assert answer.status_code == 200 and "taiwan" in answer.json()["text"]

    _command(store, settings, scenario)


def test_without_a_usable_response_url_a_slow_brief_is_answered_in_time_in_words(
    store: Store, settings: Settings
) -> None:
    """Mattermost drops a command's answer after OutgoingIntegrationRequestsTimeout: with no
    response_url on the server, the wait is bounded (MATTERMOST_COMMAND_WAIT) and the answer
    says the brief was slow."""
    release = threading.Event()

    def slow(topic: str) -> Brief:
        assert release.wait(30)
        return Brief(topic, (), ())

    async def scenario(api, base, url, client, metrics) -> None:  # type: ignore[no-untyped-def]
        try:
            for reply_to in ("http://127.0.0.2:9/response/1", ""):
                answer = await client.post(url, **_form("chips", response_url=reply_to))
                assert answer.status_code == 200 and answer.json()["text"] == command.TOO_SLOW
        finally:
            release.set()
        assert api.responses.empty()

    _command(store, settings, scenario, brief=slow, wait="0.5")


def test_bad_input_and_topics_and_status(store: Store, settings: Settings) -> None:
    add_taiwan_articles(store)
    store.sources.seed(settings.sources, now=NOW)

    async def scenario(api, base, url, client, metrics) -> None:  # type: ignore[no-untyped-def]
        bad = (await client.post(url, **_form("tai\x07wan"))).json()
        assert bad["response_type"] == "ephemeral" and "Control characters" in bad["text"]
        # Echoed in a code span as typed (Markdown is not read there), never Slack's &lt;.
        markup = (await client.post(url, **_form("<b>tai`wan</b>"))).json()["text"]
        assert "plain words" in markup and "`<b>tai'wan</b>`" in markup
        assert "&lt;" not in markup
        topics = (await client.post(url, **_form("topics"))).json()["text"]
        assert topics.startswith("**Topics**") and "`taiwan` — 3 articles" in topics
        assert "`trade` — 1 article" in topics and "1 articles" not in topics  # was "1 articles"
        status = (await client.post(url, **_form("status"))).json()["text"]
        assert "**Sources**: 1 of 1 healthy" in status
        # A source's tag is marked as `digestbot topics` marks it (it listed unmarked).
        store.sources.add(
            "wire", kind="feed", location="https://wire.example/rss.xml", tags=["ports"],
            poll_seconds=600, now=NOW,
        )  # fmt: skip
        topics = (await client.post(url, **_form("topics"))).json()["text"]
        assert "`ports` — 0 articles \\(source tag: wire\\)" in topics, topics  # Markdown

    _command(store, settings, scenario)


def test_a_webhook_url_is_sealed_at_rest_and_still_posted_to(tmp_path) -> None:
    """With DIGESTBOT_ENCRYPTION_KEY set a Mattermost webhook URL (whoever holds it can post)
    is stored sealed, like Discord's, and the sender opens it just before posting."""
    from sqlalchemy import select

    from digests.sealing import Sealer
    from digests.store.schema import outbox, subscriptions

    sealed = Store.open(f"sqlite:///{tmp_path / 'data' / 'bot.db'}", sealer=Sealer("k" * 40))

    async def scenario(api: MattermostStandIn, base: str) -> None:
        settings = load_mattermost({"MATTERMOST_URL": base})
        assert settings is not None
        hook = f"{base}/hooks/hsealed"
        sub = sealed.subscriptions.upsert(
            "mm", platform="mattermost", channel=hook, topics=(), cron="* * * * *",
            timezone="UTC", origin="config", now=NOW,
        )  # fmt: skip
        assert sub.channel.startswith("siv:") and sealed.sealer.open(sub.channel) == hook
        _queue(sealed, sub.channel)
        with sealed.engine.connect() as conn:
            stored = [*conn.scalars(select(subscriptions.c.channel)),
                      *conn.scalars(select(outbox.c.channel))]  # fmt: skip
        assert stored and not any("hsealed" in c for c in stored)
        async with httpx.AsyncClient(timeout=10) as client:
            sender = MattermostSender(client, settings, schedules=sealed.subscriptions,
                                      opener=sealed.sealer.open)  # fmt: skip
            sweeper = Sweeper(sealed, {"mattermost": sender}, owner="t", now=lambda: NOW,
                              pacer=Pacer(0))  # fmt: skip
            report = await sweeper.sweep()
        assert report.sent == 1 and len(api.in_channel("ch-hsealed")) == 1

    try:
        _with_standin(scenario)
    finally:
        sealed.close()


def test_a_huge_headline_is_cut_and_the_story_keeps_its_link_summary_and_tags() -> None:
    # The whole story was cut at 4,000 characters: a 9,000-character headline swallowed it, cut
    # inside its link ("**[Ünïcödé…"), so the link and the bold never closed and the summary
    # and tags were lost.
    huge = "Ünïcödé 日本語 تجربة 🇺🇸👨‍👩‍👧 headline " * 250
    article = StoredArticle(
        id=1, title=huge, source="Wire", author=None, published=NOW, url="https://n.example/1",
        summary=("The first summary sentence.", "The second one " + "word " * 2000),
        tags=("taiwan",), keyphrases=(), ingested_at=NOW,
    )  # fmt: skip
    digest = Digest(NOW, (DigestSection("taiwan", (DigestItem(article),)),), (1,))
    [part] = digest_parts(digest)
    text = part.payload["text"]
    story = text[text.index("**[") :]
    head, first, second, tags = story.split("\n")
    assert head.startswith("**[Ünïcödé") and "…](https://n.example/1)** — Wire" in head
    assert len(head) < 1000
    assert first == "> The first summary sentence." and second.endswith("…")
    assert tags == "`#taiwan`"
    assert len(story) <= 4000


def test_a_story_of_the_longest_parts_stays_within_its_limit_and_names_are_cut_to_name_chars() -> (
    None
):
    # A story could pass STORY_CHARS: its quotes kept at least 200 characters whatever the
    # headline, byline, sources and tags took, and its byline cut names to 200 characters
    # (400 escaped) where every other renderer uses NAME_CHARS.
    from bot.platforms.mattermost.render import STORY_CHARS, _story
    from bot.render import LINK_URL_CHARS, NAME_CHARS
    from digests.models import ItemSentence

    def art(i: int, source: str) -> StoredArticle:
        return StoredArticle(
            id=i, title="*_[headline]_* " * 700, source=source, author="_@all_ " * 100,
            published=NOW, url="https://n.example/" + "a" * (LINK_URL_CHARS - 18),
            summary=("*Summary* " * 500,), tags=tuple(f"t{k}-" + "x" * 59 for k in range(7)),
            keyphrases=(), ingested_at=NOW, story=1,
        )  # fmt: skip

    first, *also = [art(i, f"Wire {i} " + "*" * 300) for i in range(1, 40)]
    quoted = tuple(ItemSentence("*Quoted* " * 300, a.id) for a in (first, *also[:3]))
    item = DigestItem(first, tuple(also), quoted, update=True)
    story = _story(item)
    assert len(story) <= STORY_CHARS
    head = story.split("\n")[0]
    byline = head.rsplit(")** — ", 1)[1]  # the names, escaped: at most twice NAME_CHARS each
    source, author, _ = byline.split(" · ")
    assert source.startswith("Wire 1 ") and len(source.replace("\\", "")) == NAME_CHARS
    assert len(author.replace("\\", "").replace("\u200b", "")) == NAME_CHARS
    assert story.split("\n")[1].startswith("> ")  # the quotes keep their room
