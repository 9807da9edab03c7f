"""What a new operator's first `digestbot serve` logs about what cannot work yet.

A feed served on 127.0.0.1 while private networks are not allowed: the feed's poll line said
"1 failed" without why. The real console script runs here, its log captured.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from testkit.processes import ServerProcess, serve_digestbot
from tests.conftest import ROOT
from tests.digests import http_fixtures
from tests.digests.http_fixtures import LocalWeb

web = http_fixtures.web  # the local server fixture

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
