"""Issue #12's table tried by hand against main (qa): the rows that needed a fix.

A signed Slack request with an empty body (or ``{}``) reached Bolt, whose authorization
middleware then called ``auth.test``; with Slack unreachable that answered 500.
"""

from __future__ import annotations

import hashlib
import hmac
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from testkit.processes import ServerProcess, free_port, serve_digestbot
from tests.conftest import ROOT

SECRET = "qa-signing-secret"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root: Path = tmp_path_factory.mktemp("qa-served")
    shutil.copytree(ROOT / "config", root / "config")
    (root / "seeds").mkdir()
    env = {
        "DIGESTBOT_DATA_DIR": str(root / "data"),
        "DIGESTBOT_INBOX": str(root / "seeds"),
        "SLACK_BOT_TOKEN": "xoxb-qa",
        "SLACK_SIGNING_SECRET": SECRET,
        # Slack unreachable: nothing listens on this loopback port.
        "SLACK_API_URL": f"http://127.0.0.1:{free_port()}/api/",
    }
    with serve_digestbot(root / "config", env=env) as server:
        yield server


def _signed(server: ServerProcess, body: bytes, content_type: str) -> httpx.Response:
    ts = str(int(time.time()))
    mac = hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": "v0=" + mac.hexdigest(),
    }
    return httpx.post(server.url + "/slack/events", content=body, headers=headers, timeout=20)


@pytest.mark.parametrize(
    "body,content_type",
    [
        (b"", "application/json"),
        (b"{}", "application/json"),
        (b"", "application/x-www-form-urlencoded"),
    ],
)
def test_a_signed_empty_slack_body_is_400_even_with_slack_unreachable(
    served: ServerProcess, body: bytes, content_type: str
) -> None:
    response = _signed(served, body, content_type)
    assert (response.status_code, response.json()) == (400, {"error": "malformed request body"})
