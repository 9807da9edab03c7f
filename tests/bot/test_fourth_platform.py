"""A fourth platform needs its own folder and one line in the registry, nothing else: the toy
platform of ``tests/bot/toy_platform.py``, registered here, is posted to by the command line
and subscribed to in subscriptions.toml, with each of its own rules applied."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.platforms.registry import REGISTRY
from digests.errors import ConfigError
from tests.bot import toy_platform

runner = CliRunner()


@pytest.fixture(autouse=True)
def toy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The toy platform registered, as a real one is: one line in REGISTRY."""
    monkeypatch.setitem(REGISTRY, "toy", "tests.bot.toy_platform")
    toy_platform.SENT.clear()
    yield
    toy_platform.SENT.clear()


@pytest.fixture
def env(config_dir: Path, tmp_path: Path) -> dict[str, str]:
    return {"DIGESTBOT_CONFIG_DIR": str(config_dir), "DIGESTBOT_DATA_DIR": str(tmp_path / "data")}


def test_post_to_a_fourth_platform_takes_its_own_rules(env: dict[str, str]) -> None:
    # Its rule for posting from the terminal (a token), before anything is composed.
    refused = runner.invoke(app, ["digest", "--post-to", "toy:NEWS"], env=env)
    assert isinstance(refused.exception, ConfigError), refused.output
    assert str(refused.exception) == "posting to toy needs TOY_TOKEN"
    assert refused.stdout == "" and toy_platform.SENT == []
    # Its rule for a channel.
    bad = runner.invoke(app, ["digest", "--post-to", "toy:news"], env={**env, "TOY_TOKEN": "t"})
    assert isinstance(bad.exception, ConfigError) and bad.stdout == ""
    assert str(bad.exception) == "--post-to toy: a toy channel is a name in capitals, got 'news'"
    # Then the digest goes through the outbox to its sender, as any platform's.
    posted = runner.invoke(app, ["digest", "--post-to", "toy:NEWS"], env={**env, "TOY_TOKEN": "t"})
    assert posted.exit_code == 0, posted.output
    assert "toy NEWS: 1/1 message(s) sent" in posted.stderr
    [(channel, payload)] = toy_platform.SENT
    assert channel == "NEWS" and payload["articles"]
