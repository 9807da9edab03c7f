"""Signed Slack requests while the Slack Web API cannot be reached: an answer, never a 500.

Bolt's one-workspace authorization calls ``auth.test`` on each request until one call
succeeds. With the API unreachable (here SLACK_API_URL is a loopback port nothing listens
on) that call raised, Bolt answered 500 and logged a ~70-line traceback, and the user saw
"dispatch_failed". The real app runs behind the real server, as in ``test_slack_app``; only
the API address differs.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator

import pytest

from bot.settings import BotSettings
from testkit.slack_requests import SECRET, action_body, signed_headers
from tests.bot.conftest import RunningBot


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port held (bound, not listening) so that connecting to it is refused."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])


@pytest.fixture
def bot_settings(closed_port: int) -> BotSettings:
    """The one-workspace bot, its Web API address unreachable (the stub still takes the
    response_url posts)."""
    return BotSettings(
        slack_bot_token="xoxb-test",
        slack_signing_secret=SECRET,
        slack_api_url=f"http://127.0.0.1:{closed_port}/api/",
        host="127.0.0.1",
        port=0,
    )


def _logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_brief_is_told_to_try_again_with_one_log_line(
    running_bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    response = running_bot.command("taiwan")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["response_type"] == "ephemeral"
    assert "cannot reach Slack" in answer["text"] and "try again" in answer["text"]
    [record] = _logged(caplog)  # one line, not Bolt's ERROR and its traceback
    assert record.levelno == logging.WARNING and record.exc_info is None, caplog.text
    message = record.getMessage()
    assert "Slack API unreachable" in message and "/brief" in message
    assert "ClientConnectorError" in message and "\n" not in message
    assert running_bot.stub.of("response:r1") == []  # nothing half-answered later


def test_a_button_gets_503_and_one_line(
    running_bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    body = action_body("taiwan", response_url=running_bot.stub.response_url("r2"))
    response = running_bot.post(body, signed_headers(body))
    assert response.status_code == 503
    [record] = _logged(caplog)
    assert record.exc_info is None and "block_actions answered 503" in record.getMessage()


def test_verbose_keeps_the_traceback(
    running_bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")  # what -v does
    caplog.set_level(logging.WARNING)
    response = running_bot.command("taiwan")
    assert response.status_code == 200 and "try again" in json.dumps(response.json())
    [record] = [r for r in _logged(caplog) if r.name.startswith("bot.")]
    assert record.exc_info is not None
