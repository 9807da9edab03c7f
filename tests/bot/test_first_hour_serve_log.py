"""What a new operator's first `digestbot serve` logs about what cannot work yet.

Mattermost alone set up (so `serve` starts), a Slack subscription copied from the README and a
feed served on 127.0.0.1 while private networks are not allowed: the log said nothing of the
Slack digests that would wait in the outbox for good, and the feed's poll line said "1 failed"
without why; a feed added with `sources add` (kind "auto") was never polled by serve. The real
console script runs here, its log captured.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from testkit.processes import ServerProcess, run_digestbot, serve_digestbot
from tests.conftest import ROOT
from tests.digests import http_fixtures
from tests.digests.http_fixtures import LocalWeb

web = http_fixtures.web  # the local server fixture

SLACK_SUBSCRIPTION = """
[[subscription]]
name = "morning-news"
platform = "slack"
channel = "C0123456789"
topics = ["taiwan", "trade"]
cron = "0 8 * * 1-5"
"""
MATTERMOST = {"MATTERMOST_URL": "http://127.0.0.1:9"}  # set up, so serve starts; never called


def _until(server: ServerProcess, done: Callable[[str], bool], timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while not done(log := server.output()):
        assert server.alive() and time.monotonic() < deadline, log
        time.sleep(0.05)
    return log


def _config(tmp_path: Path, *, subscriptions: str = "", sources: str = "") -> Path:
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    (tmp_path / "seeds").mkdir()
    with (config / "subscriptions.toml").open("a") as f:
        f.write(subscriptions)
    with (config / "sources.toml").open("a") as f:
        f.write(sources)
    return config


def test_a_failed_polls_line_says_why(tmp_path: Path, web: LocalWeb) -> None:
    feed = f'\n[[source]]\nname = "local-wire"\nfeed = "{web.url("/rss.xml")}"\n'
    config = _config(tmp_path, sources=feed)
    env = {"DIGESTBOT_DATA_DIR": str(tmp_path / "data"), **MATTERMOST}
    with serve_digestbot(config, env=env) as server:
        log = _until(server, lambda log: "poll local-wire:" in log)
    [poll] = [line for line in log.splitlines() if "poll local-wire:" in line]
    assert poll.endswith(
        "0 added, 0 unchanged, 0 duplicate, 1 failed: "
        "refused loopback address 127.0.0.1 (allowed only with allow_private_networks)"
    ), log
    assert web.requests == []  # refused before connecting
    [inbox] = [line for line in log.splitlines() if "poll inbox:" in line]
    assert inbox.endswith("0 added, 0 unchanged, 0 duplicate, 0 failed"), log


def test_serve_names_the_subscriptions_whose_platform_it_cannot_send_to(tmp_path: Path) -> None:
    config = _config(tmp_path, subscriptions=SLACK_SUBSCRIPTION)
    env = {"DIGESTBOT_DATA_DIR": str(tmp_path / "data"), **MATTERMOST}
    with serve_digestbot(config, env=env) as server:
        log = _until(server, lambda log: "poll inbox:" in log)
    [unsent] = [line for line in log.splitlines() if "morning-news" in line]
    assert "WARNING" in unsent and "slack is not set up in this process" in unsent, log
    assert "SLACK_BOT_TOKEN" in unsent and "wait in the outbox" in unsent


def test_serve_with_every_subscriptions_platform_set_up_warns_of_none(tmp_path: Path) -> None:
    config = _config(tmp_path, subscriptions=SLACK_SUBSCRIPTION)
    env = {
        "DIGESTBOT_DATA_DIR": str(tmp_path / "data"),
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": "signing-secret",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
    }
    with serve_digestbot(config, env=env) as server:
        log = _until(server, lambda log: "poll inbox:" in log)
    assert "not set up in this process" not in log and "WARNING" not in log, log


def test_a_feed_added_with_sources_add_is_polled_by_serve(tmp_path: Path, web: LocalWeb) -> None:
    # `sources add URL` without --kind stores the kind "auto"; serve's poll of that row was a
    # traceback ("'auto' is not a valid SourceKind") at every try, and nothing was fetched.
    config = _config(tmp_path)
    env = {"DIGESTBOT_DATA_DIR": str(tmp_path / "data"), "DIGESTBOT_ALLOW_PRIVATE_NETWORKS": "1"}
    added = run_digestbot("--config", str(config), "sources", "add", web.url("/rss.xml"), env=env)
    assert added.returncode == 0, added.stderr
    name = web.url("/rss.xml").split("://", 1)[1]
    with serve_digestbot(config, env={**env, **MATTERMOST}) as server:
        log = _until(server, lambda log: f"poll {name}:" in log or "Traceback" in log)
    assert "Traceback" not in log and "unexpected error" not in log, log
    assert f"poll {name}: 3 added, 0 unchanged, 0 duplicate, 0 failed" in log, log
    assert web.seen("/rss.xml")
    # `digestbot ingest` polls it too, and the schedule still says what was asked for: auto
    again = run_digestbot("--config", str(config), "ingest", env=env)
    assert again.returncode == 0, again.stderr
    listed = run_digestbot("--config", str(config), "sources", "list", "-f", "json", env=env)
    [row] = [r for r in json.loads(listed.stdout) if r["name"] == name]
    assert row["kind"] == "auto" and row["consecutive_failures"] == 0, row
