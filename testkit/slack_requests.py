"""Requests as Slack sends them: slash-command and button bodies, and their signing headers."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

SECRET = "test-signing-secret"  # the signing secret the tests' bot (and first_hour's) runs with


def command_body(text: str, *, response_url: str, channel: str = "C123") -> str:
    """The form body Slack sends for a slash command."""
    return urlencode(
        {
            "token": "legacy",
            "team_id": "T1",
            "team_domain": "test",
            "channel_id": channel,
            "channel_name": "news",
            "user_id": "U1",
            "user_name": "ana",
            "command": "/brief",
            "text": text,
            "api_app_id": "A1",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": "1.2.3",
        }
    )


def action_body(value: str, *, response_url: str) -> str:
    """The form body Slack sends when the "Share to channel" button is clicked."""
    payload = {
        "type": "block_actions",
        "team": {"id": "T1"},
        "user": {"id": "U1", "name": "ana"},
        "api_app_id": "A1",
        "token": "legacy",
        "trigger_id": "1.2.3",
        "container": {"type": "message", "is_ephemeral": True, "channel_id": "C123"},
        "channel": {"id": "C123", "name": "news"},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": "brief_share",
                "block_id": "b",
                "value": value,
                "action_ts": "1.2",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def signed_headers(
    body: str, *, timestamp: int | None = None, secret: str = SECRET
) -> dict[str, str]:
    """Slack's request-signing headers for ``body`` (v0 HMAC-SHA256 over ts + body)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None  # None only without a timestamp
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }
