"""Settings: shipped config loads; bad config is one clear ConfigError."""

from __future__ import annotations

from pathlib import Path

import pytest

from digests.config import load_settings
from digests.errors import ConfigError


def test_shipped_config_loads(settings) -> None:
    names = {t.name for t in settings.topics}
    assert {"taiwan", "china", "united-states", "trade", "russia", "ukraine", "iran"} <= names
    assert settings.database_url.startswith("sqlite:///")
    assert settings.inbox.name == "seeds"


def test_environment_overrides(config_dir: Path) -> None:
    s = load_settings(
        {
            "DIGESTBOT_DATABASE_URL": "postgresql+psycopg://x@h/db",
            "DIGESTBOT_ALLOW_PRIVATE_NETWORKS": "1",
        },
        config_dir,
    )
    assert s.database_url == "postgresql+psycopg://x@h/db" and s.allow_private_networks


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        ("digestbot.toml", "data_dir = [", "digestbot.toml"),
        ("digestbot.toml", "[summary]\nsentences = 0", "summary.sentences"),
        ("topics.toml", "[[topic]]\nname = 'Bad Name!'", "needs a name"),
        ("topics.toml", "[[topic]]\nname = 'a'\n[[topic]]\nname = 'a'", "duplicate"),
        ("sources.toml", "[[source]]\nfeed = 'ftp://x'", "http"),
        ("subscriptions.toml", "[[subscription]]\nchannel = 'C1'\ncron = '0 8 *'", "5 fields"),
        (
            "subscriptions.toml",
            "[[subscription]]\nchannel = 'C1'\ntimezone = 'Mars/Base'",
            "unknown timezone",
        ),
    ],
)
def test_bad_config_is_a_clear_error(
    config_dir: Path, file: str, content: str, message: str
) -> None:
    (config_dir / file).write_text(content)
    with pytest.raises(ConfigError, match=message) as info:
        load_settings({}, config_dir)
    assert "\n" not in str(info.value)


def test_discord_subscription_needs_a_webhook_and_its_name_hides_it(config_dir: Path) -> None:
    (config_dir / "subscriptions.toml").write_text(
        "[[subscription]]\nplatform = 'discord'\nchannel = 'https://discord.com/api/webhooks/1/secret'\n"
    )
    [sub] = load_settings({}, config_dir).subscriptions
    assert sub.name.startswith("discord:") and "secret" not in sub.name
    (config_dir / "subscriptions.toml").write_text(
        "[[subscription]]\nplatform = 'discord'\nchannel = 'general'\n"
    )
    with pytest.raises(ConfigError, match="webhook URL"):
        load_settings({}, config_dir)
