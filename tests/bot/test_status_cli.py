"""`digestbot status`: the delivery trouble /readyz reports, on the command line."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app
from digests.store import Store
from tests.conftest import NOW

runner = CliRunner()


def test_status_says_ok_then_names_a_refused_message(config_dir: Path, tmp_path: Path) -> None:
    env = {"DIGESTBOT_CONFIG_DIR": str(config_dir), "DIGESTBOT_DATABASE_URL":
           f"sqlite:///{tmp_path / 'status.db'}"}  # fmt: skip
    ok = runner.invoke(app, ["status"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "delivery: ok" in ok.stdout
    store = Store.open(env["DIGESTBOT_DATABASE_URL"])
    store.subscriptions.upsert("news", platform="slack", channel="C1", topics=(),
                               cron="0 8 * * *", timezone="UTC", origin="config", now=NOW)  # fmt: skip
    store.outbox.enqueue("run:1", [{"text": "x"}], platform="slack", channel="C1", now=NOW,
                         subscription="news", article_ids=[[1, 2]])  # fmt: skip
    [claim] = store.outbox.claim(owner="t", now=NOW, lease=timedelta(seconds=45))
    store.outbox.dead(claim, error="Slack chat.postMessage: channel_not_found", now=NOW)
    store.close()
    bad = runner.invoke(app, ["status"], env=env)
    assert bad.exit_code == 1
    assert "TROUBLE" in bad.stdout and "channel_not_found" in bad.stdout
    assert "next digest" in bad.stdout
    as_json = runner.invoke(app, ["status", "--format", "json"], env=env)
    assert as_json.exit_code == 1  # trouble is exit 1 in every format
    data = json.loads(as_json.stdout)
    assert data["ok"] is False and data["dead"] == 1


def test_status_takes_format_json_like_every_command_and_json_still_works(
    config_dir: Path, tmp_path: Path
) -> None:
    env = {"DIGESTBOT_CONFIG_DIR": str(config_dir), "DIGESTBOT_DATABASE_URL":
           f"sqlite:///{tmp_path / 'status.db'}"}  # fmt: skip
    new = runner.invoke(app, ["status", "-f", "json"], env=env)
    assert new.exit_code == 0, new.output
    assert json.loads(new.stdout)["ok"] is True and "deprecated" not in new.stderr
    old = runner.invoke(app, ["status", "--json"], env=env)  # hidden, deprecated alias
    assert old.exit_code == 0 and json.loads(old.stdout) == json.loads(new.stdout)
    assert "--json is deprecated; use --format json" in old.stderr
    usage = runner.invoke(app, ["status", "--help"], env=env).stdout
    assert "--format" in usage and "--json" not in usage


def test_status_lists_a_paused_subscriptions_refused_message_without_trouble(
    config_dir: Path, tmp_path: Path
) -> None:
    env = {"DIGESTBOT_CONFIG_DIR": str(config_dir), "DIGESTBOT_DATABASE_URL":
           f"sqlite:///{tmp_path / 'status.db'}"}  # fmt: skip
    store = Store.open(env["DIGESTBOT_DATABASE_URL"])
    store.subscriptions.upsert("news", platform="slack", channel="C1", topics=(), cron="0 8 * * *",
                               timezone="UTC", origin="config", now=NOW)  # fmt: skip
    store.outbox.enqueue("run:1", [{"text": "x"}], platform="slack", channel="C1", now=NOW,
                         subscription="news", article_ids=[[1, 2]])  # fmt: skip
    [claim] = store.outbox.claim(owner="t", now=NOW, lease=timedelta(seconds=45))
    store.outbox.dead(claim, error="Slack chat.postMessage: channel_not_found", now=NOW)
    store.subscriptions.disable("news", "Slack channel C1: channel_not_found. Invite @digestbot")
    store.close()
    result = runner.invoke(app, ["status"], env=env)
    assert result.exit_code == 0, result.output
    assert "delivery: ok" in result.stdout and "refused 0" in result.stdout
    assert "paused: news (Slack channel C1: channel_not_found. Invite @digestbot): 1 refused" in (
        " ".join(result.stdout.split())
    )


def test_status_says_when_no_send_was_ever_tried_for_overdue_messages(
    config_dir: Path, tmp_path: Path
) -> None:
    # A Slack digest queued by a serve without a Slack token: nothing sends it, so there is no
    # error to quote; the line said "(last error: None)".
    env = {"DIGESTBOT_CONFIG_DIR": str(config_dir), "DIGESTBOT_DATABASE_URL":
           f"sqlite:///{tmp_path / 'status.db'}"}  # fmt: skip
    store = Store.open(env["DIGESTBOT_DATABASE_URL"])
    store.outbox.enqueue("run:1", [{"text": "x"}], platform="slack", channel="C1", now=NOW,
                         subscription="news", article_ids=[[1]])  # fmt: skip
    store.close()
    bad = runner.invoke(app, ["status"], env=env)
    assert bad.exit_code == 1 and "TROUBLE" in bad.stdout
    assert "overdue (no send was tried: is a serve that can send them running?)" in bad.stdout
    assert "None" not in bad.stdout
