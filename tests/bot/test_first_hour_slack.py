"""`/brief subscribe` says when the first digest comes (issue 25): the real Bolt app on a
real port, signed requests, the Slack stand-in."""

from __future__ import annotations

import json

from tests.bot.conftest import RunningBot


def test_subscribe_reply_says_when_the_first_digest_comes(running_bot: RunningBot) -> None:
    # NOW is Monday 23 Nov 2026 08:00 UTC: 07:30 London has passed, so it is Tuesday's.
    running_bot.command("subscribe taiwan at 07:30 Europe/London", response="sub")
    [answer] = running_bot.stub.wait_for("response:sub")
    text = json.dumps(answer.params)
    assert "Subscribed" in text
    assert "The first digest comes Tue 24 Nov at 07:30 GMT" in text, text
    assert "articles stored from now on" in text
