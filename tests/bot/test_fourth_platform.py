"""A fourth platform needs its own folder and one line in the registry, nothing else: the toy
platform of ``tests/bot/toy_platform.py``, registered here, is posted to by the command line
and subscribed to in subscriptions.toml, with each of its own rules applied."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.platforms import PlatformContext
from bot.platforms.registry import REGISTRY
from bot.schedule import DigestScheduler
from bot.serve import renderers, senders, team_required
from bot.settings import load_bot_settings, load_core_settings
from digests.errors import ConfigError
from digests.store import Store
from tests.bot import toy_platform
from tests.bot.conftest import add_taiwan_articles
from tests.conftest import NOW

runner = CliRunner()


@pytest.fixture(autouse=True)
def toy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The toy platform registered, as a real one is: one line in REGISTRY."""
    monkeypatch.setitem(REGISTRY, "toy", "tests.bot.toy_platform")
    toy_platform.SENT.clear()
    yield
    toy_platform.SENT.clear()


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


def test_a_fourth_platform_s_config_subscriptions_are_scheduled_and_posted(
    config_dir: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    (config_dir / "subscriptions.toml").write_text(
        "[[subscription]]\nname = 'toy-news'\nplatform = 'toy'\nchannel = 'NEWS'\nteam_id = 'T1'\n"
        "[[subscription]]\nname = 'toy-nowhere'\nplatform = 'toy'\nchannel = 'NOWHERE'\n"
    )
    environ = {"TOY_TOKEN": "t", "TOY_WORKSPACES": "1"}
    core = load_core_settings(environ, config_dir)
    ctx = PlatformContext(load_bot_settings(environ), environ, store)
    # serve's own wiring: every registered platform's renderer, sender and workspace rule.
    scheduler = DigestScheduler(
        store, core, renderers=renderers(), senders=senders(ctx), owner="t",
        clock=lambda: clock[0], poll_sources=False, team_required=team_required(ctx),
    )  # fmt: skip
    clock = [NOW]

    async def scenario() -> set[str]:
        await scheduler.start()
        try:
            jobs = {job.id for job in scheduler.scheduler.get_jobs()}
            add_taiwan_articles(store)
            clock[0] = NOW + timedelta(days=1)
            result = await scheduler.run_slot("toy-news", clock[0])
            assert result is not None and result.status == "queued", result
            return jobs
        finally:
            scheduler.shutdown()

    with caplog.at_level(logging.WARNING):
        jobs = asyncio.run(scenario())
    assert "digest:toy-news" in jobs and "digest:toy-nowhere" not in jobs
    [warning] = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert warning == (
        "config subscription(s) toy-nowhere skipped: with TOY_WORKSPACES a toy subscription in "
        f"{config_dir / 'subscriptions.toml'} must name its team_id"
    )
    [(channel, payload)] = toy_platform.SENT
    assert channel == "NEWS" and len(payload["articles"]) == 3


def test_a_fourth_platform_s_rule_for_a_subscription_applies_as_the_config_loads(
    config_dir: Path,
) -> None:
    (config_dir / "subscriptions.toml").write_text(
        "[[subscription]]\nname = 'toy-news'\nplatform = 'toy'\nchannel = 'news'\n"
    )
    with pytest.raises(ConfigError) as refused:
        load_core_settings({}, config_dir)
    assert str(refused.value) == (
        f"{config_dir / 'subscriptions.toml'}: subscription.toy-news.channel: a toy channel is "
        "a name in capitals, got 'news'"
    )
