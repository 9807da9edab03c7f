"""What ``POST /slack/events`` refuses before Bolt runs.

:func:`slack_events_endpoint` checks Slack's signature first (slack_sdk's ``SignatureVerifier``,
with a strictly numeric fresh timestamp, :func:`bot.guard.fresh_timestamp`; 401, nothing
parsed), then parses; a body that is not a Slack payload is answered 400 instead of crashing
Bolt's parser (500). Slack signs UTF-8 text: a body that is not UTF-8 cannot be verified, nor
be Slack's, and is answered 400 once its timestamp is fresh. Bolt verifies the signature
again: its request verification stays on. Bodies are already bounded by
:class:`bot.guard.BodyLimit`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from slack_bolt.adapter.starlette.async_handler import to_async_bolt_request, to_starlette_response
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import Clock, SignatureVerifier
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.guard import fresh_timestamp

log = logging.getLogger(__name__)


class _At(Clock):
    """slack_sdk's clock, reading ours (time is passed in)."""

    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def slack_signature_ok(secret: str, headers: Mapping[str, str], body: bytes, *, now: float) -> bool:
    """Slack's v0 signature (slack_sdk's ``SignatureVerifier``) with a fresh numeric timestamp.

    False for a body that is not UTF-8: Slack signs text, and the verifier reads it as such.
    """
    if not fresh_timestamp(headers.get("x-slack-request-timestamp"), now=now):
        return False  # stricter than the verifier's int(): no signs, spaces or huge numbers
    try:
        text = body.decode("utf-8")
        verifier = SignatureVerifier(secret, clock=_At(now))
        return verifier.is_valid_request(text, dict(headers.items()))
    except (UnicodeDecodeError, ValueError, TypeError):  # a non-ASCII signature header, ...
        return False


# Keys whose value Bolt (or a listener) uses as an object / a non-empty list of objects / a
# string when present (Bolt takes ``actions[0]``; the response_url is requested).
_OBJECTS = ("event", "team", "user", "channel", "enterprise", "container", "message", "view")
_LISTS_OF_OBJECTS = ("actions", "authorizations")
_STRINGS = ("response_url", "trigger_id", "token")


def _well_formed(payload: Any) -> bool:
    """A Slack payload's outline: an object whose nested objects are objects."""
    if not isinstance(payload, dict) or not payload:
        return False  # an empty body says nothing Bolt could answer (it would still call Slack)
    if "event" in payload and not isinstance(payload["event"], dict):
        return False  # Bolt reads event.type whenever the key is there, even as null
    for key in _OBJECTS:
        if payload.get(key) is not None and not isinstance(payload[key], dict):
            return False
    for key in _LISTS_OF_OBJECTS:
        value = payload.get(key)
        if value is not None and not (
            isinstance(value, list) and value and all(isinstance(item, dict) for item in value)
        ):
            return False
    return all(isinstance(payload.get(key, ""), str) for key in _STRINGS)


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


RECEIVED_AT = "digestbot_received_at"  # Bolt context key: time.monotonic() at arrival


def slack_events_endpoint(
    app: AsyncApp, signing_secret: str, *, clock: Callable[[], float] = time.time
) -> Callable[[Request], Awaitable[Response]]:
    """The ``POST /slack/events`` endpoint: signature first, then parsing, then Bolt."""

    async def slack_events(request: Request) -> Response:
        # When the request reached the app: under load its ack (and answer) start late, and
        # `/brief` admission counts that time (bot/workpool.py).
        received = time.monotonic()
        body = await request.body()  # at most the BodyLimit's limit
        now = clock()
        stamp = request.headers.get("x-slack-request-timestamp")
        if fresh_timestamp(stamp, now=now) and not _is_utf8(body):
            # Unverifiable (Slack signs text) and never Slack's: malformed, whoever sent it.
            return JSONResponse({"error": "request body is not UTF-8"}, status_code=400)
        if not slack_signature_ok(signing_secret, request.headers, body, now=now):
            return JSONResponse({"error": "invalid request"}, status_code=401)
        try:
            bolt_request = to_async_bolt_request(  # decodes and parses
                request, body, addition_context_properties={RECEIVED_AT: received}
            )
            if not _well_formed(bolt_request.body):
                raise ValueError("not a Slack payload")
        except (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError) as exc:
            # Signed by Slack yet unreadable: say so (400), don't crash (500).
            log.warning("signed Slack request with a malformed body refused: %s", exc)
            return JSONResponse({"error": "malformed request body"}, status_code=400)
        return to_starlette_response(await app.async_dispatch(bolt_request))

    return slack_events
