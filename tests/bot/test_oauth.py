"""Installs into many workspaces (OAuth v2) against the Slack stand-in, with signed requests.

The real Bolt app (SLACK_CLIENT_ID/SECRET, no bot token) behind the real server under uvicorn;
installations live in the test database through slack_sdk's SQLAlchemy stores.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import MetaData

from bot.deliver import Sweeper
from bot.metrics import Metrics, metered
from bot.platforms import PlatformContext
from bot.platforms.slack.app import create_app
from bot.platforms.slack.oauth import REVOKED, UNINSTALLED, WorkspaceTokens
from bot.platforms.slack.routes import bolt_routes
from bot.platforms.slack.sender import SlackSender, make_sender_client
from bot.schedule import DigestScheduler
from bot.serve import renderers, team_required
from bot.server import create_server_app
from bot.settings import BotSettings, load_bot_settings
from digests.config import Settings, load_settings
from digests.errors import ConfigError
from digests.store import Store
from digests.store import schema as our_schema
from testkit.slack_requests import SECRET, command_body, signed_headers
from testkit.slack_stub import CLIENT_ID, CLIENT_SECRET, SlackStub
from tests.bot.conftest import RecordingSchedule, add_taiwan_articles
from tests.conftest import NOW, make_processed


@dataclass
class OAuthBot:
    """The app in OAuth mode on a real port, its store, and the stand-in."""

    url: str
    stub: SlackStub
    store: Store
    schedule: RecordingSchedule
    settings: BotSettings
    http: httpx.Client  # keeps the state cookie between /slack/install and the redirect

    def event(self, event: dict, *, team: str, kind: str = "event_callback") -> httpx.Response:
        body = json.dumps(
            {
                "token": "legacy",
                "team_id": team,
                "api_app_id": "A1",
                "event": event,
                "type": kind,
                "event_id": f"Ev{time.monotonic_ns()}",
                "event_time": int(time.time()),
                "authorizations": [{"team_id": team, "user_id": "UBOT", "is_bot": True}],
            }
        )
        headers = {**signed_headers(body), "Content-Type": "application/json"}
        return self.http.post(f"{self.url}/slack/events", content=body.encode(), headers=headers)

    def home_opened(self, team: str, user: str = "U1") -> httpx.Response:
        event = {"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home",
                 "event_ts": "1.2"}  # fmt: skip
        return self.event(event, team=team)

    def command(self, text: str, *, team: str, channel: str, response: str) -> httpx.Response:
        body = command_body(text, response_url=self.stub.response_url(response), channel=channel)
        body = body.replace("team_id=T1", f"team_id={team}")
        return self.http.post(
            f"{self.url}/slack/events", content=body.encode(), headers=signed_headers(body)
        )

    def install(self, team: str, token: str, code: str = "code-1") -> httpx.Response:
        """The whole browser round trip: install page, Slack's consent, the redirect back."""
        page = self.http.get(f"{self.url}/slack/install")
        state = parse_qs(urlsplit(authorize_link(page)).query)["state"][0]
        self.stub.grant(code, team, token)
        return self.http.get(
            f"{self.url}/slack/oauth_redirect",
            params={"code": code, "state": state},
            headers={"Cookie": state_cookie(page)},
        )


def state_cookie(page: httpx.Response) -> str:
    """The state cookie the install page set (``Secure``: a browser sends it back over https)."""
    return page.headers["set-cookie"].split(";")[0]


def authorize_link(page: httpx.Response) -> str:
    """The "Add to Slack" link on Bolt's install page."""
    match = re.search(r'<a href="([^"]+)"', page.text)
    assert match, page.text
    return html.unescape(match.group(1))


def _serve(app: object) -> tuple[str, uvicorn.Server, threading.Thread, socket.socket]:
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))  # type: ignore[arg-type]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread, sock


@pytest.fixture
def oauth_bot(slack_stub: SlackStub, store: Store, settings: Settings) -> Iterator[OAuthBot]:
    bot = BotSettings(
        slack_signing_secret=SECRET,
        slack_client_id=CLIENT_ID,
        slack_client_secret=CLIENT_SECRET,
        slack_api_url=slack_stub.api_url,
    )
    assert bot.slack_oauth and not bot.slack
    add_taiwan_articles(store)
    schedule = RecordingSchedule()
    metrics = Metrics(store)
    app = create_app(
        bot, store, settings, schedule=schedule, clock=lambda: NOW,
        metrics=metrics,
    )  # fmt: skip
    url, server, thread, sock = _serve(
        create_server_app(store, extra_routes=bolt_routes(app), metrics=metrics)
    )
    with httpx.Client(timeout=10) as http:
        yield OAuthBot(url, slack_stub, store, schedule, bot, http)
    server.should_exit = True
    thread.join(10)
    sock.close()


def _bearer(call: object) -> str:
    return call.headers.get("Authorization", "")  # type: ignore[attr-defined, no-any-return]


def test_install_page_links_to_slack_with_client_id_commands_scope_and_state(
    oauth_bot: OAuthBot,
) -> None:
    page = oauth_bot.http.get(f"{oauth_bot.url}/slack/install")
    assert page.status_code == 200 and "Add to Slack" in page.text
    link = urlsplit(authorize_link(page))
    query = parse_qs(link.query)
    # The authorize page lives on the host of SLACK_API_URL (here: the stand-in).
    assert link.path == "/oauth/v2/authorize" and link.port == oauth_bot.stub.port
    assert query["client_id"] == [CLIENT_ID]
    assert "commands" in query["scope"][0].split(",")
    assert query["state"][0]
    assert "slack-app-oauth-state" in page.headers["set-cookie"]  # the browser check of the state


def test_install_links_past_the_burst_are_refused_saying_when_to_come_back(
    oauth_bot: OAuthBot,
) -> None:
    # 10 links at once, then 1 every 5 s (README); the 429 said "try again in a minute"
    # with Retry-After: 60.
    pages = [oauth_bot.http.get(f"{oauth_bot.url}/slack/install") for _ in range(11)]
    assert [p.status_code for p in pages] == [200] * 10 + [429]
    refused = pages[-1]
    wait = refused.headers["Retry-After"]
    assert 1 <= int(wait) <= 5, wait
    assert refused.text == f"Too many install links from your address; try again in {wait} s."


def test_redirect_exchanges_the_code_and_stores_the_installation(oauth_bot: OAuthBot) -> None:
    done = oauth_bot.install("T9", "xoxb-team-nine")
    assert done.status_code == 200
    [exchange] = oauth_bot.stub.of("oauth.v2.access")
    assert exchange.params["code"] == "code-1"
    tokens = WorkspaceTokens(oauth_bot.store, CLIENT_ID)
    assert tokens.bot_token("T9") == "xoxb-team-nine"
    assert tokens.bot_token("T1") is None


def test_redirect_with_a_forged_state_exchanges_nothing(oauth_bot: OAuthBot) -> None:
    page = oauth_bot.http.get(f"{oauth_bot.url}/slack/install")
    oauth_bot.stub.grant("code-x", "T9", "xoxb-team-nine")
    state = parse_qs(urlsplit(authorize_link(page)).query)["state"][0]
    for cookie, sent_state in ((state_cookie(page), "forged"), ("", state)):
        answer = oauth_bot.http.get(
            f"{oauth_bot.url}/slack/oauth_redirect",
            params={"code": "code-x", "state": sent_state},
            headers={"Cookie": cookie} if cookie else {},
        )
        # A state not issued here, or one from another browser: refused, nothing exchanged.
        assert answer.status_code in {400, 401}
    assert oauth_bot.stub.of("oauth.v2.access") == []
    assert WorkspaceTokens(oauth_bot.store, CLIENT_ID).bot_token("T9") is None


def test_app_home_is_published_with_that_teams_token_and_shows_only_its_subscriptions(
    oauth_bot: OAuthBot,
) -> None:
    oauth_bot.install("T9", "xoxb-team-nine", code="c9")
    oauth_bot.install("T8", "xoxb-team-eight", code="c8")
    oauth_bot.command("subscribe taiwan at 07:30", team="T9", channel="CNINE", response="s9")
    oauth_bot.command("subscribe trade", team="T8", channel="CEIGHT", response="s8")
    oauth_bot.stub.wait_for("response:s9")
    oauth_bot.stub.wait_for("response:s8")
    nine = oauth_bot.store.subscriptions.get("slack-chat:T9:CNINE")
    assert nine is not None and nine.team_id == "T9"

    assert oauth_bot.home_opened("T9").status_code == 200
    [published] = oauth_bot.stub.wait_for("views.publish")
    assert _bearer(published) == "Bearer xoxb-team-nine"
    assert published.params["user_id"] == "U1"
    view = (
        json.loads(published.params["view"])
        if isinstance(published.params["view"], str)
        else published.params["view"]
    )
    text = json.dumps(view)
    assert view["type"] == "home"
    assert "<#CNINE>" in text and "#taiwan" in text and "Next run" in text
    assert "CEIGHT" not in text  # another workspace's subscription never shows
    assert [b["accessory"]["action_id"] for b in view["blocks"] if "accessory" in b] == [
        "home_pause"
    ]


def test_a_team_that_never_installed_gets_no_call(oauth_bot: OAuthBot) -> None:
    oauth_bot.install("T9", "xoxb-team-nine")
    before = len(oauth_bot.stub.calls)
    answer = oauth_bot.home_opened("T404")
    assert answer.status_code in {200, 401}
    assert oauth_bot.stub.calls[before:] == []


def _action(name: str, action_id: str, *, team: str) -> str:
    payload = {
        "type": "block_actions",
        "team": {"id": team},
        "user": {"id": "U1", "team_id": team},
        "api_app_id": "A1",
        "token": "legacy",
        "trigger_id": "1.2.3",
        "container": {"type": "view", "view_id": "V1"},
        "view": {"id": "V1", "type": "home", "team_id": team},
        "actions": [
            {"type": "button", "action_id": action_id, "block_id": "b", "value": name,
             "action_ts": "1.2"}
        ],
    }  # fmt: skip
    from urllib.parse import urlencode

    return urlencode({"payload": json.dumps(payload)})


def test_home_pause_and_resume_buttons_work_only_on_the_own_workspace(
    oauth_bot: OAuthBot,
) -> None:
    oauth_bot.install("T9", "xoxb-team-nine", code="c9")
    oauth_bot.install("T8", "xoxb-team-eight", code="c8")
    oauth_bot.command("subscribe taiwan", team="T9", channel="CNINE", response="s9")
    oauth_bot.stub.wait_for("response:s9")
    name = "slack-chat:T9:CNINE"

    # Another workspace cannot pause it by sending its name.
    body = _action(name, "home_pause", team="T8")
    assert (
        oauth_bot.http.post(
            f"{oauth_bot.url}/slack/events", content=body, headers=signed_headers(body)
        ).status_code
        == 200
    )
    [republished] = oauth_bot.stub.wait_for("views.publish")
    assert _bearer(republished) == "Bearer xoxb-team-eight"
    assert oauth_bot.store.subscriptions.get(name).enabled  # type: ignore[union-attr]

    body = _action(name, "home_pause", team="T9")
    oauth_bot.http.post(f"{oauth_bot.url}/slack/events", content=body, headers=signed_headers(body))
    paused = oauth_bot.stub.wait_for("views.publish", 2)[-1]
    assert "Paused" in json.dumps(paused.params["view"]) and "home_resume" in json.dumps(
        paused.params["view"]
    )
    assert not oauth_bot.store.subscriptions.get(name).enabled  # type: ignore[union-attr]
    assert oauth_bot.schedule.removed == [name]

    body = _action(name, "home_resume", team="T9")
    oauth_bot.http.post(f"{oauth_bot.url}/slack/events", content=body, headers=signed_headers(body))
    oauth_bot.stub.wait_for("views.publish", 3)
    assert oauth_bot.store.subscriptions.get(name).enabled  # type: ignore[union-attr]
    assert [s.name for s in oauth_bot.schedule.scheduled][-1] == name


def test_after_app_uninstalled_the_token_is_never_used_again(oauth_bot: OAuthBot) -> None:
    oauth_bot.install("T9", "xoxb-team-nine")
    oauth_bot.command("subscribe taiwan", team="T9", channel="CNINE", response="s9")
    oauth_bot.stub.wait_for("response:s9")
    name = "slack-chat:T9:CNINE"
    # A digest for T9 already waits in the outbox when the workspace uninstalls.
    oauth_bot.store.outbox.enqueue(
        "run:1", [{"text": "digest"}], platform="slack", channel="CNINE", now=NOW, team_id="T9"
    )
    assert oauth_bot.event({"type": "app_uninstalled"}, team="T9").status_code == 200
    _wait(lambda: oauth_bot.schedule.removed == [name])  # the listener's last step
    after = len(oauth_bot.stub.calls)

    tokens = WorkspaceTokens(oauth_bot.store, CLIENT_ID)
    assert tokens.bot_token("T9") is None
    sub = oauth_bot.store.subscriptions.get(name)
    assert sub is not None and sub.disabled_reason == UNINSTALLED
    assert oauth_bot.schedule.removed == [name]

    oauth_bot.home_opened("T9")
    sender = SlackSender(make_sender_client(oauth_bot.settings), tokens=tokens)
    report = asyncio.run(
        Sweeper(oauth_bot.store, {"slack": sender}, owner="test", now=lambda: NOW).sweep()
    )
    assert report.dead == 1 and report.sent == 0
    [row] = oauth_bot.store.outbox.messages("run:1")
    assert row.status == "dead" and "not installed in workspace T9" in (row.last_error or "")
    assert [c for c in oauth_bot.stub.calls[after:] if "xoxb-team-nine" in _bearer(c)] == []
    assert oauth_bot.stub.calls[after:] == []


def test_tokens_revoked_for_the_bot_pauses_the_workspace(oauth_bot: OAuthBot) -> None:
    oauth_bot.install("T9", "xoxb-team-nine")
    oauth_bot.command("subscribe taiwan", team="T9", channel="CNINE", response="s9")
    oauth_bot.stub.wait_for("response:s9")
    event = {"type": "tokens_revoked", "tokens": {"bot": ["UBOT"]}}
    assert oauth_bot.event(event, team="T9").status_code == 200
    _wait(lambda: not oauth_bot.store.subscriptions.get("slack-chat:T9:CNINE").enabled)  # type: ignore[union-attr]
    assert WorkspaceTokens(oauth_bot.store, CLIENT_ID).bot_token("T9") is None
    sub = oauth_bot.store.subscriptions.get("slack-chat:T9:CNINE")
    assert sub is not None and sub.disabled_reason == REVOKED


def test_each_outbox_row_is_posted_with_its_workspaces_token(oauth_bot: OAuthBot) -> None:
    oauth_bot.install("T9", "xoxb-team-nine", code="c9")
    oauth_bot.install("T8", "xoxb-team-eight", code="c8")
    for key, team, channel in (("a", "T9", "CNINE"), ("b", "T8", "CEIGHT")):
        oauth_bot.store.outbox.enqueue(
            key, [{"text": key}], platform="slack", channel=channel, now=NOW, team_id=team
        )
    tokens = WorkspaceTokens(oauth_bot.store, CLIENT_ID)
    sender = SlackSender(make_sender_client(oauth_bot.settings), tokens=tokens)
    report = asyncio.run(
        Sweeper(oauth_bot.store, {"slack": sender}, owner="test", now=lambda: NOW).sweep()
    )
    assert report.sent == 2
    posts = {c.params["channel"]: _bearer(c) for c in oauth_bot.stub.of("chat.postMessage")}
    assert posts == {"CNINE": "Bearer xoxb-team-nine", "CEIGHT": "Bearer xoxb-team-eight"}


def test_metrics_are_prometheus_text_with_digestbot_series(oauth_bot: OAuthBot) -> None:
    oauth_bot.install("T9", "xoxb-team-nine")
    oauth_bot.command("taiwan", team="T9", channel="CNINE", response="brief")
    oauth_bot.stub.wait_for("response:brief")
    oauth_bot.store.outbox.enqueue(
        "k", [{"text": "x"}], platform="slack", channel="CNINE", now=NOW, team_id="T9"
    )
    answer = oauth_bot.http.get(f"{oauth_bot.url}/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    assert 'digestbot_outbox_messages{status="pending"} 1.0' in text
    assert 'digestbot_outbox_messages{status="dead"} 0.0' in text
    assert "digestbot_articles_stored 3.0" in text
    assert "digestbot_slack_workspaces 1.0" in text
    assert 'digestbot_brief_latency_seconds_count{platform="slack"} 1.0' in text
    assert "# TYPE digestbot_polls_total counter" in text
    assert "python_gc" not in text  # our own registry, not the process-global default


def test_metrics_count_polls_deliveries_and_latency(store: Store) -> None:
    from digests.ingest.pipeline import IngestReport
    from digests.ingest.sources import SourceReport

    metrics, other = Metrics(store), Metrics(store)  # two registries never collide
    metrics.poll_done("wire", IngestReport(added=[1, 2]))
    metrics.poll_done("wire", IngestReport(unchanged=1))
    metrics.poll_done("bad", SourceReport(failed=[("https://bad.example/", "HTTP 503")],
                                          source="bad", error="HTTP 503"))  # fmt: skip
    store.sources.ensure("bad", kind="feed", location="https://bad.example/")
    store.sources.failed("bad", now=NOW, error="HTTP 503")
    text = metrics.render().decode()
    assert "digestbot_articles_ingested_total 2.0" in text
    for result in ("new", "unchanged", "failed"):
        assert f'digestbot_polls_total{{result="{result}"}} 1.0' in text
    assert 'digestbot_source_failures_total{source="bad"} 1.0' in text
    assert 'digestbot_source_consecutive_failures{source="bad"} 1.0' in text
    assert "digestbot_articles_ingested_total 0.0" in other.render().decode()


def test_delivery_latency_is_observed_from_queue_to_sent(store: Store) -> None:
    from datetime import timedelta

    class Fake:
        platform = "slack"

        async def send(self, message: object) -> str:
            return "1.0"

        async def find_sent(self, message: object) -> None:
            return None

    metrics = Metrics(store)
    store.outbox.enqueue("k", [{"text": "x"}], platform="slack", channel="C", now=NOW)
    later = NOW + timedelta(seconds=42)
    senders = metered({"slack": Fake()}, metrics, clock=lambda: later)
    assert asyncio.run(Sweeper(store, senders, owner="test", now=lambda: later).sweep()).sent == 1
    text = metrics.render().decode()
    assert 'digestbot_delivery_latency_seconds_bucket{le="60.0",platform="slack"} 1.0' in text
    assert 'digestbot_delivery_latency_seconds_bucket{le="15.0",platform="slack"} 0.0' in text
    assert 'digestbot_messages_delivered_total{platform="slack",result="sent"} 1.0' in text


def test_our_install_tables_match_slack_sdks_stores() -> None:
    # Deliberate differences (migration 0009): sealed token columns are wider, and the state
    # store's table is indexed for look-ups and expiry.
    wider = {"bot_token", "bot_refresh_token", "user_token", "user_refresh_token",
             "incoming_webhook_url"}  # fmt: skip
    our_indexes = {"ix_slack_oauth_states_state", "ix_slack_oauth_states_expire_at"}
    theirs = MetaData()
    SQLAlchemyInstallationStore.build_installations_table(theirs, "slack_installations")
    SQLAlchemyInstallationStore.build_bots_table(theirs, "slack_bots")
    SQLAlchemyOAuthStateStore.build_oauth_states_table(theirs, "slack_oauth_states")
    for name, table in theirs.tables.items():
        ours = our_schema.metadata.tables[name]
        shape = lambda t, wide=1000: [  # noqa: E731
            (c.name, type(c.type).__name__,
             wide if c.name in wider else getattr(c.type, "length", None), c.nullable)
            for c in t.columns
        ]  # fmt: skip
        assert shape(ours) == shape(table), name
        assert {
            i.name: [c.name for c in i.columns] for i in ours.indexes if i.name not in our_indexes
        } == {i.name: [c.name for c in i.columns] for i in table.indexes}
        assert [c.type.length for c in ours.columns if c.name in wider] == [1000] * len(
            [c for c in ours.columns if c.name in wider]
        )


def test_oauth_settings_from_the_environment() -> None:
    env = {
        "SLACK_CLIENT_ID": CLIENT_ID,
        "SLACK_CLIENT_SECRET": "very-secret-value",
        "SLACK_SIGNING_SECRET": "x",
    }
    s = load_bot_settings(env)
    assert s.slack_oauth and s.slack_any and not s.slack and not s.socket_mode
    assert "very-secret-value" not in repr(s) and CLIENT_ID in repr(s)
    for bad, message in (
        ({"SLACK_CLIENT_ID": CLIENT_ID, "SLACK_SIGNING_SECRET": "x"}, "SLACK_CLIENT_SECRET is not set"),
        ({**env, "SLACK_BOT_TOKEN": "xoxb-1"}, "not both"),
        ({"SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": "s"}, "SLACK_SIGNING_SECRET is not set"),
        ({**env, "SLACK_REDIRECT_URI": "nope"}, "SLACK_REDIRECT_URI must be an http(s) URL"),
    ):  # fmt: skip
        with pytest.raises(ConfigError) as info:
            load_bot_settings(bad)
        assert message in str(info.value) and "\n" not in str(info.value)


def _wait(condition: object, timeout: float = 10.0) -> None:
    """Until ``condition()`` holds: event listeners run after Bolt acknowledged the event."""
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_manifest_asks_for_the_scopes_events_and_redirect_the_app_uses() -> None:
    from pathlib import Path

    from bot.platforms.slack.oauth import SCOPES

    text = (Path(__file__).resolve().parents[2] / "slack" / "manifest.yml").read_text()
    for scope in SCOPES:
        assert re.search(rf"^\s+- {re.escape(scope)}\s", text, re.M), scope
    for event in ("app_home_opened", "app_uninstalled", "tokens_revoked"):
        assert re.search(rf"^\s+- {event}\s", text, re.M), event
    assert "https://YOUR-HOST/slack/oauth_redirect" in text
    assert "home_tab_enabled: true" in text


def test_config_subscriptions_post_with_the_workspace_they_name_or_are_skipped_at_start(
    oauth_bot: OAuthBot, config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    oauth_bot.install("T9", "xoxb-team-nine")
    (config_dir / "subscriptions.toml").write_text(
        "[[subscription]]\nname = 'nine-news'\nchannel = 'CNINE'\nteam_id = 'T9'\n"
        "[[subscription]]\nname = 'nowhere'\nchannel = 'CX'\n"
        "[[subscription]]\nname = 'nowhere-else'\nchannel = 'CY'\n"
        "[[subscription]]\nname = 'hook'\nplatform = 'discord'\n"
        "channel = 'https://discord.example/api/webhooks/1/t'\n"
    )
    core = load_settings({}, config_dir)
    store = oauth_bot.store
    # A row that an earlier one-workspace run of this config left behind: not run either.
    store.subscriptions.upsert("nowhere", platform="slack", channel="CX", topics=(),
                           cron="0 8 * * *", timezone="UTC", origin="config", now=NOW)  # fmt: skip
    tokens = WorkspaceTokens(store, CLIENT_ID)
    sender = SlackSender(make_sender_client(oauth_bot.settings), tokens=tokens)
    clock = [NOW]
    scheduler = DigestScheduler(
        store, core, renderers=renderers(), senders={"slack": sender}, owner="t",
        clock=lambda: clock[0], poll_sources=False,
        team_required=team_required(PlatformContext(oauth_bot.settings, {}, None)),
    )  # fmt: skip

    async def scenario() -> tuple[set[str], str | None]:
        await scheduler.start()
        try:
            jobs = {job.id for job in scheduler.scheduler.get_jobs()}
            late = make_processed(
                "Taiwan news", "Taiwan said more. Details.", tags=(("taiwan", 2),)
            )
            store.articles.add(late, now=NOW)
            clock[0] = NOW + timedelta(days=1)
            result = await scheduler.run_slot("nine-news", clock[0])
            return jobs, result.status if result else None
        finally:
            scheduler.shutdown()

    with caplog.at_level(logging.WARNING):
        jobs, status = asyncio.run(scenario())
    assert jobs == {"digest:nine-news", "digest:hook", "outbox", "runs", "topics"}
    assert status == "queued"
    [warning] = [r.getMessage() for r in caplog.records if "team_id" in r.getMessage()]
    assert "nowhere, nowhere-else" in warning and "nine-news" not in warning
    assert "skipped" in warning and "\n" not in warning
    nine = store.subscriptions.get("nine-news")
    assert (
        nine is not None
        and nine.team_id == "T9"
        and store.subscriptions.get("nowhere-else") is None
    )
    posts = oauth_bot.stub.of("chat.postMessage")
    assert posts and {(c.params["channel"], _bearer(c)) for c in posts} == {
        ("CNINE", "Bearer xoxb-team-nine")
    }
