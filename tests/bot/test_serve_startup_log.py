"""What `digestbot serve` logs at start-up, in each Slack mode: nothing spurious.

Bolt falls back to the ``SLACK_BOT_TOKEN`` environment variable when the App is built without
a ``token``; built with a ``client`` as well, it then warned "As you gave `client` as well,
`token` will be unused." at every start of a one-workspace bot (HTTP and Socket Mode); the
operator read that as their token being ignored. The real console script runs here, its log
captured. (Left as Bolt says it: OAuth mode with ``SLACK_BOT_TOKEN=`` set but blank in the
environment, which Bolt reads itself, warns that the variable is ignored — it is.)
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import pytest

from bot.platforms.slack.app import create_app
from bot.settings import BotSettings
from digests.config import Settings
from digests.store import Store
from testkit.processes import serve_digestbot
from tests.conftest import ROOT

NOWHERE = "http://127.0.0.1:9/api/"  # nothing listens: start-up must not need Slack
MODES = {
    "one-workspace": {"SLACK_BOT_TOKEN": "xoxb-test"},
    "socket-mode": {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_APP_TOKEN": "xapp-test"},
    "oauth": {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "client-secret"},
}


def _start_log(tmp_path: Path, env: dict[str, str], *, subscriptions: str = "") -> str:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    if subscriptions:
        (tmp_path / "config" / "subscriptions.toml").write_text(subscriptions)
    (tmp_path / "seeds").mkdir()
    full = {
        "DIGESTBOT_DATA_DIR": str(tmp_path / "data"),
        "DIGESTBOT_INBOX": str(tmp_path / "seeds"),
        "SLACK_SIGNING_SECRET": "signing-secret",
        "SLACK_API_URL": NOWHERE,
        **env,
    }
    with serve_digestbot(tmp_path / "config", env=full) as server:
        deadline = time.monotonic() + 10
        while "Application startup complete" not in server.output():
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.05)
        return server.output()


@pytest.mark.parametrize("mode", MODES)
def test_serve_starts_without_a_bolt_warning(tmp_path: Path, mode: str) -> None:
    log = _start_log(tmp_path, MODES[mode])
    bolt = [line for line in log.splitlines() if "slack_bolt" in line]
    assert not bolt, log
    assert "token` will be unused" not in log and "will be ignored" not in log, log


def test_oauth_mode_names_the_config_subscriptions_without_a_workspace_once(
    tmp_path: Path,
) -> None:
    subscriptions = (
        "[[subscription]]\nname = 'acme-news'\nchannel = 'C1'\nteam_id = 'T0ACME'\n"
        "[[subscription]]\nname = 'morning'\nchannel = 'C2'\n"
        "[[subscription]]\nname = 'evening'\nchannel = 'C3'\ncron = '0 18 * * *'\n"
    )
    log = _start_log(tmp_path, MODES["oauth"], subscriptions=subscriptions)
    lines = [line for line in log.splitlines() if "team_id" in line]
    assert len(lines) == 1, log
    assert "WARNING" in lines[0] and "morning, evening" in lines[0] and "acme" not in lines[0]
    # the same config in one-workspace mode: every subscription runs, nothing to warn about
    one = _start_log(tmp_path / "one", MODES["one-workspace"], subscriptions=subscriptions)
    assert "team_id" not in one and "WARNING" not in one, one


def test_bolts_client_uses_our_settings_not_the_process_environment(
    bot_settings: BotSettings,
    store: Store,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-the-process-environment")
    with caplog.at_level(logging.INFO):
        app = create_app(bot_settings, store, settings)
    assert not [r for r in caplog.records if r.name.startswith("slack_bolt")], caplog.text
    assert app.client.token == "xoxb-test"  # the settings' token (from the explicit mapping)
    assert app.client.base_url == bot_settings.slack_api_url  # SLACK_API_URL
    assert app.client.timeout == 30 and len(app.client.retry_handlers) == 3  # 429 and 5xx too


def test_oauth_without_an_encryption_key_warns_once_and_with_one_does_not(
    tmp_path: Path,
) -> None:
    plain = _start_log(tmp_path / "plain", MODES["oauth"])
    warned = [line for line in plain.splitlines() if "DIGESTBOT_ENCRYPTION_KEY is not set" in line]
    assert len(warned) == 1 and "WARNING" in warned[0], plain
    keyed = _start_log(tmp_path / "keyed", {**MODES["oauth"], "DIGESTBOT_ENCRYPTION_KEY": "x" * 40})
    assert "DIGESTBOT_ENCRYPTION_KEY" not in keyed and "WARNING" not in keyed, keyed


@pytest.mark.parametrize("teams", [("T1",), ("T1", "T2")])
def test_serve_says_once_when_no_workspace_may_correct_topics(
    tmp_path: Path, teams: tuple[str, ...]
) -> None:
    # Topic corrections change the tags every workspace reads: serving several workspaces
    # with no [topics] feedback_workspaces, nobody's count, and the operator is told at start.
    from tests.conftest import NOW

    store = Store.open(f"sqlite:///{tmp_path / 'data' / 'digestbot.db'}")
    for team in teams:
        store.subscriptions.upsert(f"news-{team}", platform="slack", channel="C1",
                                   topics=("ai",), cron="0 8 * * *", timezone="UTC",
                                   origin="chat", now=NOW, team_id=team)  # fmt: skip
    store.close()
    log = _start_log(tmp_path, MODES["oauth"])
    said = [line for line in log.splitlines() if "topic corrections from chat are off" in line]
    if len(teams) == 1:
        assert said == [], log
    else:
        assert len(said) == 1 and "[topics] feedback_workspaces" in said[0], log
