"""`digestbot digest --post-discord` and `digestbot discord register`, against the stand-in."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from digests.errors import DeliveryError, InputError
from tests.bot.discord_standin import DiscordStandIn
from tests.bot.test_cli_nothing import syndicated_copy

runner = CliRunner()


@pytest.fixture
def env(
    config_dir: Path, tmp_path: Path, discord_api: tuple[DiscordStandIn, str]
) -> dict[str, str]:
    return {
        "DIGESTBOT_CONFIG_DIR": str(config_dir),
        "DIGESTBOT_DATA_DIR": str(tmp_path / "data"),
        "DISCORD_API_URL": f"{discord_api[1]}/api",
    }


def test_post_discord_sends_the_digest_once_through_a_429(env, discord_api) -> None:
    stand_in, base = discord_api
    stand_in.rate_limit(1)
    webhook = stand_in.webhook_url(base, "333", "cli-token")
    result = runner.invoke(app, ["digest", "--post-discord", webhook], env=env)
    assert result.exit_code == 0, result.output
    assert "1/1 message(s) sent" in result.stderr
    assert len(stand_in.calls_to("POST", "/webhooks/333/")) == 2  # the 429, then the message
    [message] = stand_in.messages
    assert "News digest" in message["content"] and len(message["embeds"]) == 5
    assert message["allowed_mentions"] == {"parse": []}
    # Delivered means delivered: the next run has nothing new and posts nothing.
    again = runner.invoke(app, ["digest", "--post-discord", webhook], env=env)
    assert again.exit_code == 0 and "Nothing new" in again.stdout
    assert len(stand_in.messages) == 1


def test_post_discord_of_stories_with_nothing_new_posts_nothing(env, discord_api, tmp_path) -> None:
    stand_in, base = discord_api
    webhook = stand_in.webhook_url(base, "555", "cli-token")
    assert runner.invoke(app, ["digest", "--post-discord", webhook], env=env).exit_code == 0
    assert len(stand_in.messages) == 1
    ingest = runner.invoke(app, ["ingest", str(syndicated_copy(env, tmp_path))], env=env)
    assert ingest.exit_code == 0, ingest.output
    # The copy is covered (delivered), and no header-only message is posted or printed.
    again = runner.invoke(app, ["digest", "--post-discord", webhook], env=env)
    assert again.exit_code == 0, again.output
    assert again.stdout == "Nothing new: 1 new article adds nothing to the stories already shown.\n"
    assert len(stand_in.messages) == 1
    assert "Nothing new since the last digest" in runner.invoke(app, ["digest"], env=env).stdout


def test_post_discord_to_a_deleted_webhook_fails_in_one_line(env, discord_api) -> None:
    stand_in, base = discord_api
    stand_in.delete_webhook("444")
    result = runner.invoke(
        app, ["digest", "--post-discord", stand_in.webhook_url(base, "444", "gone-token")], env=env
    )
    # main() turns a DigestError into "error: <one line>" and exit code 1.
    assert isinstance(result.exception, DeliveryError)
    assert "is gone (404)" in str(result.exception) and "gone-token" not in str(result.exception)
    assert len(stand_in.calls_to("POST", "/webhooks/444/")) == 1
    # Not delivered: the articles are still new for the next digest.
    assert "News digest" in runner.invoke(app, ["digest", "--dry-run"], env=env).stdout


def test_post_discord_refuses_a_url_that_is_not_a_webhook(env, discord_api) -> None:
    result = runner.invoke(app, ["digest", "--post-discord", "https://example.com/x"], env=env)
    assert isinstance(result.exception, InputError) and "webhook URL" in str(result.exception)
    dry = runner.invoke(app, ["digest", "--dry-run", "--post-discord", "x"], env=env)
    assert dry.exit_code == 2 and "--dry-run posts nothing" in dry.output  # usage error
    assert not discord_api[0].calls


def test_discord_register_uses_the_configured_api_url(env, discord_api) -> None:
    stand_in, _ = discord_api
    env = {
        **env,
        "DISCORD_APPLICATION_ID": "42",
        "DISCORD_PUBLIC_KEY": "ab" * 32,
        "DISCORD_BOT_TOKEN": stand_in.bot_token,
    }
    result = runner.invoke(app, ["discord", "register", "--guild", "7"], env=env)
    assert result.exit_code == 0, result.output
    assert "registered /brief" in result.stderr
    [call] = stand_in.calls_to("PUT", "/api/applications/42/guilds/7/commands")
    assert call.json[0]["name"] == "brief"  # type: ignore[index]
