"""`digestbot serve` refusing to start: one `error:` line, exit 1, and nothing done first.

The real console script runs in a child process over a copy of the shipped config (its folder
source is the seeds). A port already taken used to give uvicorn's ERROR line, a long
APScheduler traceback and exit 3 — after the scheduler had already ingested the folder, polled
and run the digest slots, since uvicorn binds only once the lifespan (the scheduler) has
started. And a missing platform or a subscription's bad channel was refused only after the
database had been created and migrated.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from sqlalchemy import func, select

from digests.store import Store
from digests.store.schema import digest_runs
from testkit.processes import Outcome, run_digestbot, serve_digestbot
from testkit.slack_stub import SlackStub
from tests.bot.discord_standin import APPLICATION_ID, DiscordStandIn, serving_in_thread

NOWHERE = "http://127.0.0.1:9/api/"  # nothing listens: start-up must not need Slack


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port on 127.0.0.1 that another process's socket listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


EVERY_MINUTE = "[[subscription]]\nname = 'every-minute'\nchannel = 'C1'\ncron = '* * * * *'\n"
SLACK = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "signing-secret"}


def _serve(
    config_dir: Path, *, subscriptions: str = EVERY_MINUTE, platform: Mapping[str, str] = SLACK,
    **env: str,
) -> Outcome:  # fmt: skip
    (config_dir / "subscriptions.toml").write_text(subscriptions)
    full = {
        "DIGESTBOT_DATA_DIR": str(config_dir.parent / "data"),
        "SLACK_API_URL": NOWHERE,
        **platform,
        **env,
    }
    return run_digestbot("--config", str(config_dir), "serve", env=full, cwd=config_dir.parent)


def _one_line(outcome: Outcome) -> str:
    assert outcome.returncode == 1, outcome.describe()
    assert "Traceback" not in outcome.stderr, outcome.describe()
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, outcome.describe()
    return lines[0]


def test_a_port_in_use_is_one_line_and_nothing_runs_first(
    config_dir: Path, taken_port: int
) -> None:
    outcome = _serve(config_dir, HOST="127.0.0.1", PORT=str(taken_port))
    line = _one_line(outcome)
    assert line == f"error: cannot listen on 127.0.0.1:{taken_port}: address already in use"
    # The scheduler never started: the folder was not ingested, no slot ran, nothing polled.
    store = Store.open(f"sqlite:///{config_dir.parent / 'data' / 'digestbot.db'}")
    try:
        assert store.articles.count() == 0
        with store.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(digest_runs)).scalar() == 0
    finally:
        store.close()


def test_a_host_that_does_not_resolve_is_one_line(config_dir: Path) -> None:
    outcome = _serve(config_dir, HOST="no-such-host.invalid", PORT="0")
    line = _one_line(outcome)
    assert line.startswith("error: cannot listen on no-such-host.invalid:0: "), line


@pytest.mark.parametrize(
    ("platform", "subscriptions", "expected"),
    [
        ({}, "", "error: no chat platform configured (slack: set SLACK_BOT_TOKEN"),
        (
            SLACK,
            "[[subscription]]\nname = 'hook'\nchannel = 'https://example.com/hooks/x'\n",
            "error: subscription hook: a Slack channel is a channel id",
        ),
        (
            {
                "MATTERMOST_URL": "https://chat.example.com",
                "MATTERMOST_COMMAND_TOKEN": "t",
                "MATTERMOST_COMMAND_WAIT": "ten",
            },
            "",
            "error: MATTERMOST_COMMAND_WAIT must be a number of seconds above 0 and at most 60",
        ),
    ],
    ids=["no-platform", "bad-channel", "bad-command-wait"],
)
def test_settings_are_refused_before_the_database_is_opened(
    config_dir: Path, platform: dict[str, str], subscriptions: str, expected: str
) -> None:
    outcome = _serve(
        config_dir, subscriptions=subscriptions, platform=platform, HOST="127.0.0.1", PORT="0"
    )
    assert _one_line(outcome).startswith(expected), outcome.describe()
    data = config_dir.parent / "data"  # not created, let alone a database migrated in it
    assert not data.exists(), sorted(data.iterdir())


def test_a_bot_token_slack_refuses_is_one_line_before_the_database_is_opened(
    config_dir: Path,
) -> None:
    """The newcomer's likeliest mistake: a mistyped or wrong SLACK_BOT_TOKEN. It used to start
    and answer /healthz 200, then refuse every digest part for good (invalid_auth) and tell a
    /brief that digestbot "is not installed in this workspace"; Slack's auth.test says so at
    start. (Slack unreachable at start is no error: NOWHERE in the tests above.)"""
    slack = SlackStub().start()
    try:
        outcome = _serve(
            config_dir,
            platform={**SLACK, "SLACK_BOT_TOKEN": "xoxb-mistyped"},
            SLACK_API_URL=slack.api_url,
            HOST="127.0.0.1",
            PORT="0",
        )
    finally:
        slack.stop()
    line = _one_line(outcome)
    assert line.startswith("error: SLACK_BOT_TOKEN was refused by Slack (invalid_auth)"), line
    assert "xoxb-mistyped" not in outcome.stderr
    assert [c.method for c in slack.calls] == ["auth.test"]
    data = config_dir.parent / "data"
    assert not data.exists(), sorted(data.iterdir())


def test_a_discord_bot_token_discord_refuses_is_one_line(config_dir: Path) -> None:
    """DISCORD_BOT_TOKEN mistyped: serve started and only a `/brief subscribe` (or a reconcile)
    found out, with Discord's 401. Discord's /users/@me says so at start."""
    stand_in = DiscordStandIn()
    with serving_in_thread(stand_in.app()) as base:
        outcome = _serve(
            config_dir,
            subscriptions="",
            platform={
                "DISCORD_PUBLIC_KEY": "0" * 64,
                "DISCORD_APPLICATION_ID": APPLICATION_ID,
                "DISCORD_BOT_TOKEN": "mistyped",
                "DISCORD_API_URL": f"{base}/api",
            },
            HOST="127.0.0.1",
            PORT="0",
        )
    line = _one_line(outcome)
    assert line.startswith("error: DISCORD_BOT_TOKEN was refused by Discord (401"), line
    assert "mistyped" not in outcome.stderr
    assert [c.path for c in stand_in.calls] == ["/api/users/@me"]
    assert not (config_dir.parent / "data").exists()


class _Trickle(socketserver.ThreadingTCPServer):
    """A "platform" on 127.0.0.1 that answers every request with one header line a second,
    for ever (until closed): each read gets a byte within any per-read timeout, so only a
    deadline on the whole check ends it (a stalled proxy, an overloaded stand-in)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.closed = threading.Event()
        self.asked = threading.Event()
        super().__init__(("127.0.0.1", 0), self._Handler)

    class _Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            server = self.server
            assert isinstance(server, _Trickle)
            self.request.recv(65536)
            server.asked.set()
            with contextlib.suppress(OSError):
                self.request.sendall(b"HTTP/1.1 200 OK\r\n")
                while not server.closed.wait(1.0):
                    self.request.sendall(b"X-Slow: 1\r\n")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def test_a_platform_that_answers_a_byte_at_a_time_does_not_hold_up_the_start(
    config_dir: Path,
) -> None:
    """The token checks at start (Slack's auth.test, Discord's /users/@me) had a 5 s timeout
    per read only: a Slack or Discord (or a proxy before them) that sent a byte a second held
    serve's start for as long as it went on. Each check now has a deadline of its own; past
    it the token is not checked and serve starts, as when the platform is unreachable."""
    trickle = _Trickle()
    threading.Thread(target=trickle.serve_forever, daemon=True).start()
    (config_dir / "subscriptions.toml").write_text("")
    env = {
        **SLACK,
        "SLACK_API_URL": f"{trickle.url}/api/",
        "DISCORD_PUBLIC_KEY": "0" * 64,
        "DISCORD_APPLICATION_ID": APPLICATION_ID,
        "DISCORD_BOT_TOKEN": "bot-token",
        "DISCORD_API_URL": f"{trickle.url}/api",
        "DIGESTBOT_DATA_DIR": str(config_dir.parent / "data"),
    }
    try:
        # Waited for far longer than the checks' deadline; it never ends by itself before.
        with serve_digestbot(config_dir, env=env, timeout=60) as server:
            assert trickle.asked.is_set()
            out = server.output()
            assert "slack: bot token not checked at start: no answer within" in out, out
            assert "discord: bot token not checked at start: no answer within" in out, out
    finally:
        trickle.closed.set()
        trickle.shutdown()
        trickle.server_close()


def test_what_serve_says_before_it_listens_reaches_the_log(config_dir: Path) -> None:
    """The start's INFO lines were logged before serve raised the log to INFO, so they were
    dropped: an unreachable Slack started serve without the README's "the token was not
    checked" line, and the secrets sealed at start (a key set after a feed with an api_key was
    added) went unsaid. They are written now, like every later INFO line."""
    data = config_dir.parent / "data"
    added = run_digestbot(
        "--config", str(config_dir), "sources", "add", "https://feeds.example.com/rss?api_key=k1",
        env={"DIGESTBOT_DATA_DIR": str(data)}, cwd=config_dir.parent,
    )  # fmt: skip
    assert added.returncode == 0, added.describe()
    (config_dir / "subscriptions.toml").write_text("")
    env = {
        **SLACK,
        "SLACK_API_URL": NOWHERE,
        "DIGESTBOT_DATA_DIR": str(data),
        "DIGESTBOT_ENCRYPTION_KEY": "k" * 40,
    }
    with serve_digestbot(config_dir, env=env) as server:
        out = server.output()
    assert "SLACK_BOT_TOKEN not checked at start: Slack unreachable" in out, out
    assert "sealed 1 stored secret(s) with DIGESTBOT_ENCRYPTION_KEY" in out, out
