"""Secrets at rest (issue 24): tokens and webhook URLs sealed, files private, OAuth states bounded.

The real Bolt app in OAuth mode behind the real server (tests/bot/test_oauth.py's stand-in
setup), on a store opened with ``DIGESTBOT_ENCRYPTION_KEY``'s sealer.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, insert, select

from bot.metrics import Metrics
from bot.platforms.slack.app import NOT_INSTALLED, create_app
from bot.platforms.slack.oauth import ExpiringStates, WorkspaceTokens
from bot.platforms.slack.routes import bolt_routes
from bot.ratelimit import RateLimit
from bot.server import create_server_app
from bot.settings import BotSettings
from digests.config import Settings, load_settings
from digests.errors import ConfigError, InputError, StoreError
from digests.sealing import Sealer
from digests.store import Store
from digests.store.schema import slack_bots, slack_oauth_states, subscriptions
from testkit.slack_requests import SECRET
from testkit.slack_stub import CLIENT_ID, CLIENT_SECRET, SlackStub
from tests.bot.conftest import RecordingSchedule, add_taiwan_articles
from tests.bot.test_oauth import OAuthBot, _serve
from tests.conftest import NOW

KEY = "k" * 16 + "correct-horse-battery"  # 37 characters
HOOK = "https://discord.example/api/webhooks/123456/SECRET-WEBHOOK-TOKEN"


def _files(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file())


@pytest.fixture
def sealed_store(tmp_path: Path) -> Iterator[Store]:
    old = os.umask(0o022)  # the acceptance runs with umask 022
    try:
        store = Store.open(f"sqlite:///{tmp_path / 'data' / 'bot.db'}", sealer=Sealer(KEY))
    finally:
        os.umask(old)
    yield store
    store.close()


@pytest.fixture
def sealed_bot(
    slack_stub: SlackStub, sealed_store: Store, settings: Settings
) -> Iterator[OAuthBot]:
    yield from _oauth_bot(slack_stub, sealed_store, settings)


@pytest.fixture
def keyless_bot(slack_stub: SlackStub, store: Store, settings: Settings) -> Iterator[OAuthBot]:
    """OAuth installs on a store opened without DIGESTBOT_ENCRYPTION_KEY."""
    yield from _oauth_bot(slack_stub, store, settings)


def _oauth_bot(
    slack_stub: SlackStub, sealed_store: Store, settings: Settings
) -> Iterator[OAuthBot]:
    bot = BotSettings(
        slack_signing_secret=SECRET, slack_client_id=CLIENT_ID,
        slack_client_secret=CLIENT_SECRET, slack_api_url=slack_stub.api_url,
    )  # fmt: skip
    add_taiwan_articles(sealed_store)
    app = create_app(bot, sealed_store, settings, schedule=RecordingSchedule(), clock=lambda: NOW)
    server_app = create_server_app(
        sealed_store, metrics=Metrics(sealed_store),
        extra_routes=bolt_routes(app, install_limit=RateLimit(rate=0.01, burst=5, overall=1000)),
    )  # fmt: skip
    url, server, thread, sock = _serve(server_app)
    with httpx.Client(timeout=10) as http:
        yield OAuthBot(url, slack_stub, sealed_store, RecordingSchedule(), bot, http)
    server.should_exit = True
    thread.join(10)
    sock.close()


def test_installed_tokens_are_sealed_in_the_data_folder(
    sealed_bot: OAuthBot, tmp_path: Path
) -> None:
    assert sealed_bot.install("T9", "xoxb-team-nine-secret").status_code == 200
    # Read back through the store, the token is the real one...
    assert WorkspaceTokens(sealed_bot.store, CLIENT_ID).bot_token("T9") == "xoxb-team-nine-secret"
    with sealed_bot.store.engine.connect() as conn:
        stored = conn.scalar(select(slack_bots.c.bot_token))
    assert stored.startswith("fernet:")
    # Bolt's authorization opens it too: App Home is published with the real token.
    assert sealed_bot.home_opened("T9").status_code == 200
    [publish] = sealed_bot.stub.wait_for("views.publish")
    assert publish.headers.get("Authorization") == "Bearer xoxb-team-nine-secret"
    # ...and no file in the data folder holds it (database, WAL, shared memory).
    assert b"xoxb-team-nine-secret" not in _files(tmp_path / "data")


def test_data_folder_is_0700_and_database_files_0600_under_umask_022(
    sealed_store: Store, tmp_path: Path
) -> None:
    sealed_store.articles.count()  # WAL and shared-memory files exist once a connection is open
    folder = tmp_path / "data"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
    assert {"bot.db", "bot.db-wal", "bot.db-shm", "bot.db.lock"} <= set(files)  # (first open's)
    assert set(files.values()) == {0o600}, files


def test_existing_0644_database_files_are_tightened(tmp_path: Path) -> None:
    folder = tmp_path / "old"
    folder.mkdir()
    Store.open(f"sqlite:///{folder / 'bot.db'}").close()
    for p in folder.iterdir():
        p.chmod(0o644)
    Store.open(f"sqlite:///{folder / 'bot.db'}").close()
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o600}


def test_discord_webhook_urls_are_sealed_but_stay_a_lookup_key(
    sealed_store: Store, tmp_path: Path
) -> None:
    sealed_store.subscriptions.upsert(
        "news", platform="discord", channel=HOOK, topics=["taiwan"], cron="0 8 * * *",
        timezone="UTC", origin="config", now=NOW,
    )  # fmt: skip
    [sub] = sealed_store.subscriptions.for_channel("discord", HOOK)
    assert sub.name == "news" and sub.channel.startswith("siv:")
    assert sealed_store.sealer.open(sub.channel) == HOOK
    # The config sync applying the same URL again changes nothing (deterministic sealing).
    again = sealed_store.subscriptions.upsert(
        "news", platform="discord", channel=HOOK, topics=["taiwan"], cron="0 8 * * *",
        timezone="UTC", origin="config", now=NOW,
    )  # fmt: skip
    assert again.channel == sub.channel
    assert b"SECRET-WEBHOOK-TOKEN" not in _files(tmp_path / "data")


def test_serve_seals_old_plain_rows_and_rotates_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'bot.db'}"
    plain = Store.open(url)  # written before a key was set
    plain.subscriptions.upsert(
        "news", platform="discord", channel=HOOK, topics=[], cron="0 8 * * *", timezone="UTC",
        origin="config", now=NOW,
    )  # fmt: skip
    with plain.engine.begin() as conn:
        conn.execute(
            insert(slack_bots).values(
                client_id=CLIENT_ID, app_id="A1", team_id="T1", bot_token="xoxb-plain-token",
                installed_at=datetime(2026, 1, 1),
            )
        )  # fmt: skip
    plain.close()

    first = Store.open(url, sealer=Sealer(KEY))
    assert first.seal_secrets() == 2 and first.seal_secrets() == 0  # idempotent
    assert WorkspaceTokens(first, CLIENT_ID).bot_token("T1") == "xoxb-plain-token"
    first.close()
    assert b"xoxb-plain-token" not in _files(tmp_path / "data")
    assert b"SECRET-WEBHOOK-TOKEN" not in _files(tmp_path / "data")

    new_key = "n" * 40
    rotated = Store.open(url, sealer=Sealer(new_key, previous=[KEY]))
    assert rotated.seal_secrets() == 2
    rotated.close()
    only_new = Store.open(url, sealer=Sealer(new_key))
    assert WorkspaceTokens(only_new, CLIENT_ID).bot_token("T1") == "xoxb-plain-token"
    [sub] = only_new.subscriptions.for_channel("discord", HOOK)
    assert only_new.sealer.open(sub.channel) == HOOK
    only_new.close()
    # Without the key, a sealed value is a clear error, not garbage.
    with pytest.raises(StoreError, match="DIGESTBOT_ENCRYPTION_KEY"):
        WorkspaceTokens(Store.open(url), CLIENT_ID).bot_token("T1")


def test_encryption_key_is_checked_and_never_shown(config_dir: Path) -> None:
    with pytest.raises(ConfigError, match="DIGESTBOT_ENCRYPTION_KEY.*at least 32"):
        load_settings({"DIGESTBOT_ENCRYPTION_KEY": "short"}, config_dir)
    with pytest.raises(ConfigError, match="DIGESTBOT_ENCRYPTION_KEY is not"):
        load_settings({"DIGESTBOT_ENCRYPTION_KEY_PREVIOUS": KEY}, config_dir)
    loaded = load_settings({"DIGESTBOT_ENCRYPTION_KEY": KEY}, config_dir)
    assert loaded.encryption_keys == (KEY,) and KEY not in repr(loaded)


def test_install_links_are_rate_limited_per_client(sealed_bot: OAuthBot) -> None:
    codes = [sealed_bot.http.get(f"{sealed_bot.url}/slack/install").status_code for _ in range(8)]
    assert codes[:5] == [200] * 5 and set(codes[5:]) == {429}
    with sealed_bot.store.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(slack_oauth_states)) == 5


def test_expired_oauth_states_are_deleted(sealed_store: Store) -> None:
    states = ExpiringStates(expiration_seconds=600, engine=sealed_store.engine)
    with sealed_store.engine.begin() as conn:
        old = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)
        conn.execute(
            insert(slack_oauth_states), [{"state": f"s{i}", "expire_at": old} for i in range(50)]
        )
    fresh = states.issue()
    with sealed_store.engine.connect() as conn:
        left = conn.scalars(select(slack_oauth_states.c.state)).all()
    assert left == [fresh] and states.consume(fresh) and not states.consume("s1")


def test_an_uninstalled_workspace_hears_a_clear_message(sealed_bot: OAuthBot) -> None:
    sealed_bot.command("status", team="T404", channel="C1", response="gone")
    [answer] = sealed_bot.stub.wait_for("response:gone")
    assert answer.params.get("text") == NOT_INSTALLED
    assert "no longer available" not in str(answer.params)


def test_subscriptions_table_keeps_no_plain_webhook(sealed_store: Store) -> None:
    sealed_store.subscriptions.upsert(
        "n2", platform="discord", channel=HOOK, topics=[], cron="0 8 * * *", timezone="UTC",
        origin="chat", now=NOW,
    )  # fmt: skip
    with sealed_store.engine.connect() as conn:
        channels = conn.scalars(select(subscriptions.c.channel)).all()
    assert channels and not any("SECRET" in c for c in channels)


def test_mid_rotation_a_row_sealed_with_the_previous_key_is_still_found(tmp_path: Path) -> None:
    # A key rotation (README): the new key in DIGESTBOT_ENCRYPTION_KEY, the old one in
    # DIGESTBOT_ENCRYPTION_KEY_PREVIOUS. Until `serve` re-seals, rows hold the old key's form;
    # a lookup by channel or feed URL (a CLI `sources add` of the same URL, a config sync)
    # found only the plain and the new key's forms, so it added a second source polling it.
    url = f"sqlite:///{tmp_path / 'data' / 'bot.db'}"
    feed = "https://bob:pw@feeds.example/rss?api_key=SECRET"
    old = Store.open(url, sealer=Sealer(KEY))
    old.subscriptions.upsert(
        "news", platform="discord", channel=HOOK, topics=[], cron="0 8 * * *", timezone="UTC",
        origin="config", now=NOW,
    )  # fmt: skip
    old.sources.add("wire", kind="feed", location=feed, poll_seconds=3600, now=NOW)
    old.close()
    rotating = Store.open(url, sealer=Sealer("n" * 40, previous=[KEY]))  # no seal_secrets yet
    [sub] = rotating.subscriptions.for_channel("discord", HOOK)
    assert sub.name == "news"
    polled = rotating.sources.polling(feed)
    assert polled is not None and polled.name == "wire" and polled.location == feed
    with pytest.raises(InputError, match="already polled as 'wire'"):
        rotating.sources.add("again", kind="feed", location=feed, poll_seconds=3600, now=NOW)
    rotating.close()


def test_a_webhook_sealed_with_a_key_not_given_fails_only_its_subscription(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A subscription whose webhook URL was sealed with a key this process was not given:
    `serve`'s start (seal_secrets) failed as a whole on it, and its part said only "a stored
    secret cannot be decrypted". Now the start goes on, and the part fails alone, retried,
    with one line naming its subscription and the key that is missing; the others are sent."""
    from bot.platforms.discord.webhook import DiscordWebhookSender
    from bot.sweep import Sweeper
    from tests.bot.discord_standin import DiscordStandIn, serving

    url = f"sqlite:///{tmp_path / 'data' / 'bot.db'}"
    stand_in = DiscordStandIn()

    def queue(store: Store, name: str, hook: str) -> None:
        sub = store.subscriptions.upsert(
            name, platform="discord", channel=hook, topics=[], cron="0 8 * * *",
            timezone="UTC", origin="config", now=NOW,
        )  # fmt: skip
        store.outbox.enqueue(
            f"{name}:run", [{"content": f"digest of {name}"}], platform="discord",
            channel=sub.channel, subscription=name, now=NOW,
        )  # fmt: skip

    async def scenario() -> None:
        async with serving(stand_in.app()) as base:
            with closing(Store.open(url, sealer=Sealer("o" * 40))) as old:
                queue(old, "lost", stand_in.webhook_url(base, "111"))
            with closing(Store.open(url, sealer=Sealer(KEY))) as store:
                queue(store, "kept", stand_in.webhook_url(base, "222"))
                with caplog.at_level("WARNING"):
                    store.seal_secrets()  # serve's start: the lost row is left, and named
                assert "subscription 'lost'" in caplog.text
                assert "DIGESTBOT_ENCRYPTION_KEY" in caplog.text
                async with httpx.AsyncClient() as client:
                    sender = DiscordWebhookSender(
                        client, api_url=f"{base}/api", opener=store.sealer.open
                    )
                    sweeper = Sweeper(store, {"discord": sender}, owner="me", now=lambda: NOW)
                    report = await sweeper.sweep()
                assert report.sent == 1 and report.retried == 1, report
                [lost] = store.outbox.messages("lost:run")
                assert lost.status == "pending" and lost.last_error is not None
                assert "subscription 'lost'" in lost.last_error
                assert "DIGESTBOT_ENCRYPTION_KEY" in lost.last_error

    asyncio.run(scenario())
    assert [m["content"] for m in stand_in.messages] == ["digest of kept"]


def test_a_workspace_token_sealed_with_a_key_not_given_fails_only_its_parts(
    tmp_path: Path, slack_stub: SlackStub
) -> None:
    """OAuth installs: a workspace whose bot token was sealed with a key this process was not
    given raised out of the sweep (a StoreError, not a delivery failure), which ended it: no
    workspace's digest was sent. Now that workspace's parts wait, with a line naming it."""
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.platforms.slack.sender import SlackSender
    from bot.sweep import Sweeper

    url = f"sqlite:///{tmp_path / 'data' / 'bot.db'}"

    def install(store: Store, team: str) -> None:
        slack_stub.tokens[f"xoxb-{team}"] = team  # a token Slack knows
        with store.engine.begin() as conn:
            conn.execute(
                insert(slack_bots).values(
                    client_id=CLIENT_ID, app_id="A1", team_id=team, installed_at=NOW,
                    bot_token=store.sealer.seal(f"xoxb-{team}"),
                )
            )  # fmt: skip
        store.outbox.enqueue(
            f"{team}:run", [{"text": f"digest of {team}"}], platform="slack", channel=f"C{team}",
            team_id=team, subscription=f"news-{team}", now=NOW,
        )  # fmt: skip

    with closing(Store.open(url, sealer=Sealer("o" * 40))) as old:
        install(old, "T1")
    with closing(Store.open(url, sealer=Sealer(KEY))) as store:
        install(store, "T2")
        sender = SlackSender(
            AsyncWebClient(base_url=slack_stub.api_url), tokens=WorkspaceTokens(store, CLIENT_ID)
        )
        sweeper = Sweeper(store, {"slack": sender}, owner="me", now=lambda: NOW)
        report = asyncio.run(sweeper.sweep())
        assert report.sent == 1 and report.retried == 1, report
        [lost] = store.outbox.messages("T1:run")
        assert lost.status == "pending" and "workspace 'T1'" in (lost.last_error or "")
        assert "DIGESTBOT_ENCRYPTION_KEY" in (lost.last_error or "")
    assert [m["text"] for m in slack_stub.posted("CT2")] == ["digest of T2"]


def test_a_workspace_installed_without_the_key_is_sealed_by_the_next_command_with_it(
    keyless_bot: OAuthBot, tmp_path: Path
) -> None:
    """A keyless OAuth install wrote the workspace's token plain and left the `sealing`
    marker of the last pass with the key in place, so the next command with the key read
    that row, stopped, and the token stayed plain (only `serve`'s full pass at start sealed
    it). The install now drops the marker, as every other keyless write of a secret does."""
    url = str(keyless_bot.store.engine.url)
    keyed = Store.open(url, sealer=Sealer(KEY))
    keyed.seal_pending()  # a pass with the key: the store is marked sealed
    keyed.close()
    assert keyless_bot.install("T9", "xoxb-installed-without-key").status_code == 200
    with keyless_bot.store.engine.connect() as conn:
        assert conn.scalar(select(slack_bots.c.bot_token)) == "xoxb-installed-without-key"
    keyed = Store.open(url, sealer=Sealer(KEY))
    assert keyed.seal_pending() >= 1  # not "sealed already": the token is sealed now
    assert WorkspaceTokens(keyed, CLIENT_ID).bot_token("T9") == "xoxb-installed-without-key"
    keyed.close()
    assert b"xoxb-installed-without-key" not in _files(tmp_path / "data")
