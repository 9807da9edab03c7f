"""`digestbot digest --post CHANNEL` and `digestbot serve` start-up checks, via the Slack stand-in."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from testkit.slack_stub import SlackStub

runner = CliRunner()


@pytest.fixture
def env(config_dir: Path, tmp_path: Path, slack_stub: SlackStub) -> dict[str, str]:
    return {
        "DIGESTBOT_CONFIG_DIR": str(config_dir),
        "DIGESTBOT_DATA_DIR": str(tmp_path / "data"),
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": "secret",
        "SLACK_API_URL": slack_stub.api_url,
    }


def test_digest_post_sends_through_the_outbox_once(
    env: dict[str, str], slack_stub: SlackStub
) -> None:
    result = runner.invoke(app, ["digest", "--post", "C777"], env=env)
    assert result.exit_code == 0, result.output
    posted = slack_stub.history["C777"]
    assert posted and posted[0]["blocks"][0]["type"] == "header"
    meta = posted[0]["metadata"]
    assert meta["event_type"] == "digestbot_digest"
    assert meta["event_payload"]["digest_key"].startswith("run:")  # a CLI run, like a scheduled one
    assert "slack C777: " in result.stderr and "sent" in result.stderr
    # Delivered means the watermark moved: nothing new, nothing posted again.
    again = runner.invoke(app, ["digest", "--post", "C777"], env=env)
    assert again.exit_code == 0 and len(slack_stub.history["C777"]) == len(posted)
    assert all(c.params.get("channel") == "C777" for c in slack_stub.of("chat.postMessage"))


def test_digest_post_without_slack_settings_is_one_line(env: dict[str, str]) -> None:
    env = {k: v for k, v in env.items() if not k.startswith("SLACK_")}
    result = runner.invoke(app, ["digest", "--post", "C777"], env=env)
    assert result.exit_code != 0
    assert "SLACK_BOT_TOKEN" in str(result.exception)


def test_post_and_dry_run_conflict(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["digest", "--post", "C1", "--dry-run"], env=env)
    assert result.exit_code == 2 and "--dry-run posts nothing" in result.output


def test_serve_without_any_platform_fails_clearly(env: dict[str, str]) -> None:
    env = {k: v for k, v in env.items() if not k.startswith("SLACK_")}
    result = runner.invoke(app, ["serve"], env=env)
    assert result.exit_code != 0
    assert "no chat platform configured" in str(result.exception)
