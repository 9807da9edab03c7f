"""Commands that only send need only what sending needs (issue 25): `digest --post` a bot
token (no signing secret), `discord register` the application id and bot token (no public
key); a bad posting setting fails before the digest is printed; one http/https rule for
Discord webhooks in the config and on the command line. Real stand-ins on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.settings import load_core_settings
from digests.errors import ConfigError, InputError
from testkit.slack_stub import SlackStub
from tests.bot.discord_standin import DiscordStandIn

runner = CliRunner()


def test_digest_post_needs_the_bot_token_only(env: dict[str, str], slack_stub: SlackStub) -> None:
    posting = {**env, "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": slack_stub.api_url}
    result = runner.invoke(app, ["digest", "--post", "C42"], env=posting)
    assert result.exit_code == 0, result.output
    assert slack_stub.posted("C42") and "1/1 message(s) sent" in result.stderr


def test_digest_post_without_a_token_fails_before_printing_the_digest(
    env: dict[str, str],
) -> None:
    result = runner.invoke(app, ["digest", "--post", "C42"], env=env)
    assert isinstance(result.exception, ConfigError)
    assert "SLACK_BOT_TOKEN" in str(result.exception)
    assert "SIGNING_SECRET" not in str(result.exception)
    assert result.stdout == ""  # nothing printed, nothing marked delivered
    shown = runner.invoke(app, ["digest", "--dry-run", "--format", "json"], env=env)
    assert '"article_count": 5' in shown.stdout


def test_discord_register_needs_no_public_key(discord_api: tuple[DiscordStandIn, str]) -> None:
    stand_in, base = discord_api
    env = {
        "DISCORD_APPLICATION_ID": "42",
        "DISCORD_BOT_TOKEN": stand_in.bot_token,
        "DISCORD_API_URL": f"{base}/api",
    }
    result = runner.invoke(app, ["discord", "register"], env=env)
    assert result.exit_code == 0, result.output
    assert "/brief" in result.output
    assert stand_in.calls_to("PUT", "/applications/42")


def test_serve_still_needs_what_verifies_requests() -> None:
    from bot.settings import load_bot_settings

    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET is not set"):
        load_bot_settings({"SLACK_BOT_TOKEN": "xoxb-1"})
    with pytest.raises(ConfigError, match="DISCORD_PUBLIC_KEY is not set"):
        load_bot_settings({"DISCORD_APPLICATION_ID": "1"})


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://discord.com/api/webhooks/1/tok", True),
        ("http://127.0.0.1:8080/api/webhooks/1/tok", True),
        ("http://localhost/api/webhooks/1/tok", True),
        ("http://discord.com/api/webhooks/1/tok", False),  # the token would travel in clear
    ],
)
def test_one_webhook_rule_for_config_and_command_line(
    url: str, ok: bool, env: dict[str, str], config_dir: Path
) -> None:
    (config_dir / "subscriptions.toml").write_text(
        f'[[subscription]]\nname = "d"\nplatform = "discord"\nchannel = "{url}"\n'
    )
    try:
        load_core_settings({}, config_dir)
        config_ok = True
    except ConfigError as exc:
        assert "webhook URL" in str(exc) and "\n" not in str(exc)
        config_ok = False
    assert config_ok is ok
    # The command line checks the same rule (before composing anything).
    from bot.post import check_post

    try:
        check_post({}, to=[("discord", url)])
        command_ok = True
    except InputError as exc:
        assert "/webhooks/1/***" in str(exc) and "tok" not in str(exc)
        command_ok = False
    assert command_ok is ok


def test_post_discord_over_http_to_a_remote_host_is_refused_before_printing(
    env: dict[str, str],
) -> None:
    posted = runner.invoke(
        app, ["digest", "--post-discord", "http://discord.com/api/webhooks/1/tok"], env=env
    )
    assert isinstance(posted.exception, InputError) and posted.stdout == ""


def test_post_to_mattermost_without_its_url_names_what_to_set_for_a_post(
    env: dict[str, str],
) -> None:
    # Was "a Mattermost subscription needs MATTERMOST_URL": a one-off post is no subscription.
    result = runner.invoke(
        app, ["digest", "--post-to", "mattermost:https://chat.example.com/hooks/x"], env=env
    )
    assert isinstance(result.exception, ConfigError)
    assert "MATTERMOST_URL" in str(result.exception)
    assert "subscription" not in str(result.exception)
    assert result.stdout == ""
