"""Issue 23's acceptance, checked apart from the platform's own tests: a real `digestbot serve`
(a child process, every-minute subscriptions over the seeds) against an independent Mattermost
server (``mattermost_server.py``), beside the Slack and Discord stand-ins in the same serve.

Slow: each serve test waits for the next minute's slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from nacl.signing import SigningKey

from bot.platforms import get
from bot.platforms.mattermost.sender import MattermostSender
from bot.platforms.mattermost.settings import load_mattermost
from bot.sweep import DeliveryReport, Pacer, Sweeper
from digests.compose import compose
from digests.store import Store
from testkit.articles import made_up_name
from testkit.slack_requests import SECRET, command_body, signed_headers
from testkit.slack_stub import SlackStub
from tests.bot.discord_standin import DiscordStandIn, serving, serving_in_thread
from tests.bot.mattermost_server import MAX_POST, MattermostServer
from tests.conftest import NOW, make_processed

APP_ID = "123456789012345678"
TOKENS = ("tok-team-a", "tok-team-b")
WAIT = 200.0  # seconds: the next minute's slot on a loaded machine, retries included


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _shown(markdown: str) -> str:
    """What Mattermost shows of escaped Markdown text: ``\\X`` is ``X`` but inside a code span
    (CommonMark: backslash escapes do not work there); no zero-width spaces."""
    spans = re.split(r"((?<!\\)`[^`]*`)", markdown)
    text = "".join(s if s.startswith("`") else re.sub(r"\\(.)", r"\1", s) for s in spans)
    return text.replace("\u200b", "")


@pytest.fixture
def mattermost() -> Iterator[MattermostServer]:
    server = MattermostServer()
    yield server
    server.close()


def _environ(tmp_path: Path, config_dir: Path, db: Path, env: dict[str, str]) -> dict[str, str]:
    """The process's environment with no chat settings but ``env``'s, on its own database."""
    chat = ("SLACK_", "DISCORD_", "MATTERMOST_")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(chat)}
    return environ | {
        "DIGESTBOT_CONFIG_DIR": str(config_dir),
        "DIGESTBOT_DATABASE_URL": f"sqlite:///{db}",
        "DIGESTBOT_INBOX": str(tmp_path / "seeds"),
        **env,
    }


class Serve:
    """`digestbot serve` as a child process with the given environment."""

    def __init__(self, tmp_path: Path, config_dir: Path, subscriptions: str, env: dict) -> None:
        (config_dir / "subscriptions.toml").write_text(subscriptions)
        self.db = tmp_path / "data" / "serve.db"
        self.db.parent.mkdir(exist_ok=True)
        self.url = f"http://127.0.0.1:{_free_port()}"
        port = self.url.rsplit(":", 1)[1]
        environ = _environ(
            tmp_path, config_dir, self.db, {"HOST": "127.0.0.1", "PORT": port, **env}
        )
        self.log = tmp_path / "serve.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from bot.cli import main; main()", "serve"],
                env=environ, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def alive(self) -> None:
        assert self.process.poll() is None, self.log.read_text()[-3000:]

    async def until(self, check, timeout: float = WAIT) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while not await asyncio.to_thread(check):
            self.alive()
            assert time.monotonic() < deadline, "timed out:\n" + self.log.read_text()[-3000:]
            await asyncio.sleep(0.3)

    def healthy(self) -> bool:
        try:
            return httpx.get(self.url + "/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def titles(self) -> list[str]:
        store = Store.open(f"sqlite:///{self.db}")
        try:
            return [a.title for a in store.articles.since(0, limit=100)]
        finally:
            store.close()

    def exited(self, timeout: float) -> None:
        """Wait for serve to stop by itself; stopped (and failed) if it is still running."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError("serve kept running:\n" + self.log.read_text()[-2000:]) from None

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _statuses(db: Path) -> set[str]:
    """The statuses of the outbox's Mattermost rows (read with sqlite3, apart from the store)."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("SELECT status FROM outbox WHERE platform = 'mattermost'")
        return {status for (status,) in rows}


def _slash_command(token: str, text: str, response_url: str, trigger: str) -> dict:
    """The form fields and headers Mattermost sends for a custom slash command (POST)."""
    fields = {
        "channel_id": "chan1", "channel_name": "town-square", "command": "/brief",
        "response_url": response_url, "team_domain": "acme", "team_id": "team1", "text": text,
        "token": token, "trigger_id": trigger, "user_id": "user1", "user_name": "ana",
    }  # fmt: skip
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": f"Token {token}",
        "Accept": "application/json",
        "User-Agent": "mattermost-9.11.0",
    }
    return {"content": urlencode(fields), "headers": headers}


def test_one_serve_posts_to_mattermost_slack_and_discord_and_answers_brief_on_each(
    tmp_path: Path, config_dir: Path, mattermost: MattermostServer, slack_stub: SlackStub
) -> None:
    key = SigningKey.generate()
    evil = MattermostServer()  # another host: nothing may ever reach it

    async def main() -> None:
        discord = DiscordStandIn()
        async with serving(discord.app()) as discord_base, httpx.AsyncClient(timeout=60) as client:
            hook = f"{mattermost.url}/hooks/hook1"
            subs = (
                f"[[subscription]]\nname = 'mm'\nplatform = 'mattermost'\nchannel = '{hook}'\n"
                "cron = '* * * * *'\n"
                "[[subscription]]\nname = 'sl'\nplatform = 'slack'\nchannel = 'C123'\n"
                "cron = '* * * * *'\n"
                f"[[subscription]]\nname = 'dc'\nplatform = 'discord'\n"
                f"channel = '{discord.webhook_url(discord_base)}'\ncron = '* * * * *'\n"
            )
            serve = Serve(tmp_path, config_dir, subs, {
                "MATTERMOST_URL": mattermost.url + "/",  # a trailing slash as pasted
                "MATTERMOST_COMMAND_TOKEN": ", ".join(TOKENS),
                "SLACK_API_URL": slack_stub.api_url, "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_BOT_TOKEN": "xoxb-test",
                "DISCORD_PUBLIC_KEY": key.verify_key.encode().hex(),
                "DISCORD_APPLICATION_ID": APP_ID, "DISCORD_API_URL": f"{discord_base}/api",
            })  # fmt: skip
            try:
                await serve.until(serve.healthy, 90)
                # The scheduled digests, on all three.
                await serve.until(lambda: bool(mattermost.in_channel("chan1")))
                await serve.until(lambda: bool(slack_stub.posted("C123")))
                await serve.until(lambda: bool(discord.messages))
                await asyncio.sleep(3)  # the digests' other parts, if any
                titles = serve.titles()
                assert len(titles) == 5
                posts = mattermost.in_channel("chan1")
                assert not mattermost.too_long
                assert all(len(p.message) <= MAX_POST for p in posts)
                shown = "\n".join(_shown(p.message) for p in posts)
                assert shown.startswith("### News digest"), shown[:200]  # Markdown
                missing = [t for t in titles if " ".join(t.split()) not in shown]
                assert not missing, missing
                assert len({json.dumps(p.props, sort_keys=True) for p in posts}) == len(posts)
                slack_text = json.dumps(slack_stub.posted("C123"))
                assert all(json.dumps(t)[1:-1] in slack_text for t in titles[:1])
                assert discord.messages and discord.messages[0]["embeds"]

                # /brief on Mattermost, each of the comma-separated tokens.
                for n, token in enumerate(TOKENS):
                    reply_to = mattermost.response_url()
                    answer = await client.post(
                        f"{serve.url}/mattermost/command",
                        **_slash_command(token, "taiwan", reply_to, f"t{n}"),
                    )
                    assert answer.status_code == 200, answer.text
                    assert answer.headers["content-type"].startswith("application/json")
                    reply = answer.json()
                    assert reply["response_type"] == "ephemeral"
                    if reply["text"].startswith("Working on"):
                        await serve.until(lambda n=n: len(mattermost.responses) > n, 60)
                        reply = mattermost.responses[n]
                    text = _shown(reply["text"])
                    assert "Brief" in text and "[1]" in text and "Sources" in text, text
                    assert "Taiwan" in text

                status = await client.post(
                    f"{serve.url}/mattermost/command",
                    **_slash_command(TOKENS[1], "status", mattermost.response_url(), "s"),
                )
                assert "— `* * * * *` UTC" in _shown(status.json()["text"]), status.text

                # A wrong token: refused, nothing run, nothing posted to its response_url.
                before = len(mattermost.responses)
                wrong = await client.post(
                    f"{serve.url}/mattermost/command",
                    **_slash_command("nope", "taiwan", mattermost.response_url(), "w"),
                )
                assert wrong.status_code in (401, 403)
                assert "Brief" not in wrong.text
                await asyncio.sleep(0.5)
                assert len(mattermost.responses) == before  # the wrong token's: none
                # A response_url on another address (the Site URL users' browsers reach): the
                # brief, inline or later through the same command webhook on MATTERMOST_URL;
                # the other host is never called.
                hook = mattermost.response_url().rsplit("/", 1)[1]
                other = await client.post(
                    f"{serve.url}/mattermost/command",
                    **_slash_command(TOKENS[0], "taiwan", f"{evil.url}/hooks/commands/{hook}", "x"),
                )
                assert other.status_code == 200
                reply = other.json()
                if reply["text"].startswith("Working on"):
                    await serve.until(lambda: len(mattermost.responses) > before, 60)
                    reply = mattermost.responses[-1]
                assert "Brief" in _shown(reply["text"])
                assert evil.requests == []

                # /brief on Slack and on Discord, through the same serve.
                body = command_body("taiwan", response_url=slack_stub.response_url("s1"))
                sent = await client.post(
                    f"{serve.url}/slack/events", content=body, headers=signed_headers(body)
                )
                assert sent.status_code == 200
                [slack_answer] = await asyncio.to_thread(slack_stub.wait_for, "response:s1", 1, 60)
                assert "Taiwan" in json.dumps(slack_answer.params)
                payload = json.dumps(
                    {"type": 2, "id": "9001", "application_id": APP_ID, "token": "itok",
                     "data": {"name": "brief",
                              "options": [{"name": "topic", "type": 3, "value": "taiwan"}]}}
                ).encode()  # fmt: skip
                ts = str(int(time.time()))
                sig = key.sign(ts.encode() + payload).signature.hex()
                deferred = await client.post(
                    f"{serve.url}/discord/interactions", content=payload,
                    headers={"X-Signature-Ed25519": sig, "X-Signature-Timestamp": ts},
                )  # fmt: skip
                assert deferred.status_code == 200 and deferred.json()["type"] == 5
                edit = await asyncio.wait_for(discord.edits.get(), 60)
                assert edit["payload"]["embeds"][0]["title"] == "Brief: taiwan"
                metrics = (await client.get(f"{serve.url}/metrics")).text
                for platform in ("slack", "discord", "mattermost"):
                    assert (
                        f'digestbot_brief_latency_seconds_count{{platform="{platform}"}}' in metrics
                    )
            finally:
                serve.stop()
                evil.close()

    asyncio.run(main())


@pytest.mark.parametrize("fault", ["drop", "500"])
def test_rest_posts_whose_answer_is_lost_are_reconciled_not_posted_twice(
    tmp_path: Path, config_dir: Path, mattermost: MattermostServer, fault: str
) -> None:
    mattermost.bot_token = "bot-secret"
    mattermost.faults = [fault]

    async def main() -> None:
        subs = (
            f"[[subscription]]\nname = 'mm'\nplatform = 'mattermost'\n"
            f"channel = '{mattermost.url}/hooks/hook1'\ncron = '* * * * *'\n"
        )
        serve = Serve(tmp_path, config_dir, subs, {
            "MATTERMOST_URL": mattermost.url, "MATTERMOST_COMMAND_TOKEN": TOKENS[0],
            "MATTERMOST_BOT_TOKEN": "bot-secret",
        })  # fmt: skip
        try:
            await serve.until(serve.healthy, 90)
            await serve.until(lambda: bool(mattermost.in_channel("chan1")))
            # Settled: every Mattermost row of the outbox sent (the unknown outcome looked up).
            await serve.until(lambda: _statuses(serve.db) == {"sent"})
            posts = mattermost.in_channel("chan1")
            assert all(p.via == "api" for p in posts)
            keys = [(p.props.get("digestbot_key"), p.props.get("digestbot_part")) for p in posts]
            assert len(keys) == len(set(keys)), keys  # no part twice
            assert not any(r.startswith("POST /hooks/") for r in mattermost.requests)
        finally:
            serve.stop()

    asyncio.run(main())


def test_serve_refuses_a_webhook_on_another_host(
    tmp_path: Path, config_dir: Path, mattermost: MattermostServer
) -> None:
    evil = MattermostServer()
    try:
        subs = (
            f"[[subscription]]\nname = 'mm'\nplatform = 'mattermost'\n"
            f"channel = '{evil.url}/hooks/hook1'\ncron = '* * * * *'\n"
        )
        serve = Serve(tmp_path, config_dir, subs, {"MATTERMOST_URL": mattermost.url})
        serve.exited(60)
        assert serve.process.returncode != 0
        lines = [line for line in serve.log.read_text().splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:"), lines
        assert "hook1" not in lines[0]  # the webhook's secret part is not printed
        assert evil.requests == [] and mattermost.requests == []
    finally:
        evil.close()


def _queue_and_sweep(store: Store, server: str, hook: str, bot_token: str = "") -> DeliveryReport:
    """A one-article digest queued for ``hook`` (as run:1) and one sweep of the outbox."""
    settings = load_mattermost({"MATTERMOST_URL": server, "MATTERMOST_BOT_TOKEN": bot_token})
    assert settings is not None
    store.articles.add(make_processed("Port strike", "Dockers stopped work. " * 5), now=NOW)
    parts = get("mattermost").render_digest(compose(store.articles.since(0, limit=10), now=NOW))
    store.outbox.enqueue("run:1", [p.payload for p in parts], platform="mattermost",
                         channel=hook, now=NOW, subscription="mm")  # fmt: skip

    async def sweep() -> DeliveryReport:
        async with httpx.AsyncClient(timeout=10) as client:
            sender = MattermostSender(client, settings, schedules=store.subscriptions)
            sweeper = Sweeper(store, {"mattermost": sender}, owner="t", now=lambda: NOW,
                              pacer=Pacer(0))  # fmt: skip
            return await sweeper.sweep()

    return asyncio.run(sweep())


def test_a_deleted_webhook_disables_its_subscription(
    store: Store, mattermost: MattermostServer
) -> None:
    """Mattermost answers a post to a deleted webhook 400 "Invalid webhook." (its error id
    says so), not 404: the subscription is disabled, as for Discord's 404, not left to post
    every digest into a refusal."""
    hook = f"{mattermost.url}/hooks/deleted1"
    store.subscriptions.upsert("mm", platform="mattermost", channel=hook, topics=(),
                               cron="* * * * *", timezone="UTC", origin="config", now=NOW)  # fmt: skip
    assert _queue_and_sweep(store, mattermost.url, hook).dead == 1
    assert mattermost.requests == ["POST /hooks/deleted1"] and mattermost.posts == []
    sub = store.subscriptions.get("mm")
    assert sub is not None and not sub.enabled, sub
    assert "webhook gone" in (sub.disabled_reason or "")


def _digest_cli(
    tmp_path: Path, config_dir: Path, *args: str, **env: str
) -> subprocess.CompletedProcess:
    """`digestbot digest ARGS` as an operator runs it, with only the given chat settings."""
    environ = _environ(tmp_path, config_dir, tmp_path / "cli.db", env)
    return subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", "digest", *args],
        env=environ, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_digest_post_reaches_slack_discord_and_mattermost(
    tmp_path: Path, config_dir: Path, mattermost: MattermostServer, slack_stub: SlackStub
) -> None:
    """`digest --post` for each platform, one digest to all three; the long one split under
    Mattermost's post limit with every headline in it."""
    names = [made_up_name(i) for i in range(120)]
    titles = []
    for i in range(40):  # long articles, an event each: a digest of several Mattermost posts
        a, b, c = names[3 * i : 3 * i + 3]
        titles.append(f"{a} ferry reaches {b} after storm {i}")
        text = " ".join(
            f"The {a} ferry left {c} on route {i} carrying {j * 10 + i} passengers to {b}."
            for j in range(60)
        )
        (tmp_path / "seeds" / f"long{i:02}.json").write_text(
            json.dumps({"title": titles[-1], "source": f"{c} Post", "text": text})
        )
    with serving_in_thread(DiscordStandIn().app()) as discord_base:
        webhook = f"{discord_base}/api/webhooks/111/hook-token"
        done = _digest_cli(
            tmp_path, config_dir, "--all",
            "--post", "C123", "--post-discord", webhook,
            "--post-to", f"mattermost:{mattermost.url}/hooks/hook1",
            SLACK_BOT_TOKEN="xoxb-test", SLACK_API_URL=slack_stub.api_url,
            MATTERMOST_URL=mattermost.url,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    posts = mattermost.in_channel("chan1")
    assert len(posts) > 1 and not mattermost.too_long
    shown = "\n".join(_shown(p.message) for p in posts)
    assert not [t for t in titles if t not in shown]
    assert [re.search(r"\((\d+)/(\d+)\)", p.message.splitlines()[0]).groups() for p in posts] == [  # type: ignore[union-attr]
        (str(i), str(len(posts))) for i in range(1, len(posts) + 1)
    ]
    assert slack_stub.posted("C123")
    lines = done.stderr.splitlines()
    assert any(line.startswith("mattermost: ") for line in lines), lines
    assert any(line.startswith("slack C123: ") for line in lines), lines
    assert any(line.startswith("discord: ") for line in lines), lines
    assert not [line for line in lines if "hook1" in line or "hook-token" in line]


def test_digest_post_to_refuses_bad_destinations_in_one_line(
    tmp_path: Path, config_dir: Path, mattermost: MattermostServer
) -> None:
    evil = MattermostServer()
    try:
        for args, says in [
            (["--post-to", f"mattermost:{evil.url}/hooks/hook1"], "incoming webhook URL of"),
            (["--post-to", "nosuch:C1"], "known: slack, discord, mattermost"),
            (["--post-to", "mattermost"], "PLATFORM:CHANNEL"),
            (["--post-to", "slack:C1"], "SLACK_BOT_TOKEN"),
        ]:
            done = _digest_cli(tmp_path, config_dir, *args, MATTERMOST_URL=mattermost.url)
            assert done.returncode == 1, done.stderr
            [line] = done.stderr.strip().splitlines()
            assert line.startswith("error:") and says in line, line
            assert done.stdout == ""  # refused before the digest is composed
            assert "hook1" not in line
        unset = _digest_cli(
            tmp_path, config_dir, "--post-to", f"mattermost:{mattermost.url}/hooks/hook1"
        )
        assert unset.returncode == 1 and "MATTERMOST_URL" in unset.stderr, unset.stderr
        assert unset.stdout == ""
        assert evil.requests == [] and mattermost.requests == []
    finally:
        evil.close()


def test_webhooks_turned_off_on_the_server_are_said_so_not_called_a_maybe_duplicate(
    store: Store, mattermost: MattermostServer
) -> None:
    """Mattermost answers 501 when its admin turned incoming webhooks off: nothing was posted,
    so the error names the setting, and the part waits for a retry (no "may appear twice")."""
    mattermost.incoming_webhooks = False
    assert _queue_and_sweep(store, mattermost.url, f"{mattermost.url}/hooks/hook1").retried == 1
    [row] = store.outbox.messages("run:1")
    assert row.status == "pending" and "incoming webhooks turned off" in (row.last_error or "")
    assert "twice" not in (row.last_error or "")


def test_a_bot_refused_the_webhook_is_told_the_permissions_it_needs(
    store: Store, mattermost: MattermostServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Reading a webhook someone else made takes manage_incoming_webhooks and
    manage_others_incoming_webhooks on its team (Mattermost's getIncomingHook): the warning
    names both, and the part goes through the webhook meanwhile."""
    mattermost.bot_token = "bot-secret"
    mattermost.bot_permissions = {"manage_incoming_webhooks"}  # not others' webhooks
    with caplog.at_level(logging.WARNING, logger="bot"):
        report = _queue_and_sweep(
            store, mattermost.url, f"{mattermost.url}/hooks/hook1", bot_token="bot-secret"
        )
    assert report.sent == 1 and [p.via for p in mattermost.in_channel("chan1")] == ["webhook"]
    [line] = [r.getMessage() for r in caplog.records if "cannot read" in r.getMessage()]
    assert "(403: give the bot manage_incoming_webhooks and manage_others_incoming_webhooks" in (
        line
    )


def test_half_a_mattermost_setup_is_said_not_silently_a_404(
    tmp_path: Path, config_dir: Path, mattermost: MattermostServer
) -> None:
    """A command token without MATTERMOST_URL stops serve with one line (it was ignored, and
    every /brief got 404); MATTERMOST_URL without a token posts digests and logs that /brief
    is not answered."""
    slack = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET,
             "SLACK_API_URL": "http://127.0.0.1:9/api/"}  # fmt: skip
    no_url = Serve(tmp_path, config_dir, "", {**slack, "MATTERMOST_COMMAND_TOKEN": TOKENS[0]})
    no_url.exited(60)
    assert no_url.process.returncode == 1
    lines = [line for line in no_url.log.read_text().splitlines() if line.strip()]
    assert len(lines) == 1 and "MATTERMOST_URL is not" in lines[0], lines
    assert TOKENS[0] not in lines[0]

    serve = Serve(tmp_path, config_dir, "", {"MATTERMOST_URL": mattermost.url})
    try:
        asyncio.run(serve.until(serve.healthy, 90))
        answer = httpx.post(f"{serve.url}/mattermost/command", data={"token": "x", "text": "a"})
        assert answer.status_code == 404
        assert "MATTERMOST_COMMAND_TOKEN is not set" in serve.log.read_text()
    finally:
        serve.stop()


def test_a_plain_http_mattermost_url_to_another_machine_stops_serve_with_one_line(
    tmp_path: Path, config_dir: Path
) -> None:
    """Webhook URLs and the bot token travel under MATTERMOST_URL: Discord's rule (https, or
    plain http only to this machine) applies, so a remote http URL is refused at start."""
    env = {"MATTERMOST_URL": "http://chat.example.com:8065",
           "MATTERMOST_COMMAND_TOKEN": TOKENS[0], "MATTERMOST_BOT_TOKEN": "bot-secret"}  # fmt: skip
    serve = Serve(tmp_path, config_dir, "", env)
    serve.exited(60)
    assert serve.process.returncode == 1
    lines = [line for line in serve.log.read_text().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: MATTERMOST_URL"), lines
    assert "use https" in lines[0] and "bot-secret" not in lines[0]
