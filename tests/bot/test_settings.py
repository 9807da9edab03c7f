"""Platform settings: validated once from an explicit mapping, secrets never shown."""

from __future__ import annotations

import pytest

from bot.settings import load_bot_settings
from digests.errors import ConfigError

SLACK = {"SLACK_BOT_TOKEN": "xoxb-secret-token", "SLACK_SIGNING_SECRET": "shh-signing"}
DISCORD = {"DISCORD_PUBLIC_KEY": "ab" * 32, "DISCORD_APPLICATION_ID": "123"}


def test_slack_only_with_defaults() -> None:
    s = load_bot_settings(SLACK)
    assert s.slack and not s.discord and not s.socket_mode
    assert (s.host, s.port, s.slack_api_url) == ("0.0.0.0", 3000, "https://slack.com/api/")
    assert s.discord_api_url == "https://discord.com/api/v10"


def test_secrets_are_hidden_from_repr() -> None:
    s = load_bot_settings(
        {
            **SLACK,
            **DISCORD,
            "SLACK_APP_TOKEN": "xapp-app-secret",
            "DISCORD_BOT_TOKEN": "discord-secret",
        }
    )
    shown = repr(s) + str(s)
    for secret in (
        "xoxb-secret-token",
        "shh-signing",
        "xapp-app-secret",
        "discord-secret",
        "ab" * 32,
    ):
        assert secret not in shown
    assert s.socket_mode and s.discord


def test_api_urls_are_normalized() -> None:
    s = load_bot_settings(
        {
            **SLACK,
            "SLACK_API_URL": "http://127.0.0.1:9/api",
            "DISCORD_API_URL": "http://127.0.0.1:9/d/",
        }
    )
    assert s.slack_api_url == "http://127.0.0.1:9/api/"  # slack_sdk appends method names
    assert s.discord_api_url == "http://127.0.0.1:9/d"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET is not set"),
        ({"SLACK_SIGNING_SECRET": "s"}, "SLACK_BOT_TOKEN is not set"),
        ({**SLACK, "SLACK_BOT_TOKEN": "xapp-wrong"}, "starting with xoxb-"),
        # A user token was accepted silently, though the message says xoxb- (QA).
        (
            {**SLACK, "SLACK_BOT_TOKEN": "xoxp-1-user"},
            "is a user token (xoxp-…); it must be a bot token starting with xoxb-",
        ),
        ({**SLACK, "SLACK_APP_TOKEN": "xoxb-wrong"}, "starting with xapp-"),
        ({**SLACK, "SLACK_API_URL": "ftp://x"}, "SLACK_API_URL must be an http(s) URL"),
        ({**SLACK, "PORT": "http"}, "PORT must be a number"),
        ({"DISCORD_PUBLIC_KEY": "zz", "DISCORD_APPLICATION_ID": "1"}, "64-hex-digit"),
        ({"DISCORD_APPLICATION_ID": "1"}, "DISCORD_PUBLIC_KEY is not set"),
    ],
)
def test_bad_settings_fail_with_one_line(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_bot_settings(environ)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert "xoxb-1" not in str(info.value) and "xoxp-1" not in str(info.value)


def test_discord_only_is_enough_to_serve() -> None:
    s = load_bot_settings(DISCORD)
    assert s.discord and not s.slack


def test_serve_tuning_variables_are_checked_at_start() -> None:
    from bot.serve import delivery_timings
    from bot.settings import load_serve_env

    assert load_serve_env({}).send_timeout is None
    timings = delivery_timings({"DIGESTBOT_SEND_TIMEOUT": "3", "DIGESTBOT_OUTBOX_LEASE": "4"})
    assert (timings.send_timeout, timings.lease) == (3.0, 4.0)
    for environ, message in (
        (
            {"DIGESTBOT_SEND_TIMEOUT": "soon"},
            "DIGESTBOT_SEND_TIMEOUT: input should be a valid number",
        ),
        (
            {"DIGESTBOT_OUTBOX_LEASE": "-1"},
            "DIGESTBOT_OUTBOX_LEASE: input should be greater than 0",
        ),
        ({"DIGESTBOT_BRIEF_QUEUE": "many"}, "DIGESTBOT_BRIEF_QUEUE"),
    ):
        with pytest.raises(ConfigError, match=message):
            delivery_timings(environ) if "BRIEF" not in message else load_serve_env(environ)
