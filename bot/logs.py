"""One logging configuration for every digestbot process, and the filter that hides secrets.

``configure_logging`` sets up the root logger once (``digests.*``, ``bot.*`` and the libraries
underneath, httpx included): human-readable lines by default, JSON lines with
``--log-format json`` / ``DIGESTBOT_LOG_FORMAT=json``. Every record passes
:class:`RedactSecrets`, which removes tokens, signing secrets and the secrets in URLs (the
core's :func:`digests.net.util.redact_urls`) from the message and the traceback, whatever the
level.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import TextIO

from digests.controls import strip_controls
from digests.errors import ConfigError
from digests.net.util import redact_urls

MASK = "[redacted]"
_HANDLER_NAME = "digestbot"
_OUR_LOGGERS = ("digests", "bot", "digestbot")

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Slack tokens: bot, user, app-level, configuration and refresh (rotation) tokens.
    (re.compile(r"\b(?:xox[abeoprs]|xapp|xoxe\.xox[bp])-[A-Za-z0-9-]{6,}"), MASK),
    # Discord bot token: base64 user id . timestamp . HMAC.
    (re.compile(r"\b[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}"), MASK),
    # Authorization headers (Bearer / Bot / Basic).
    (
        re.compile(
            r"(?i)\b(authorization[\"']?\s*[:=]\s*[\"']?)(?:bearer|bot|basic)?\s*[^\s\"',}]+"
        ),
        rf"\1{MASK}",
    ),
    # OAuth's one-time code and state in a request target (uvicorn's access line:
    # "GET /slack/oauth_redirect?code=…&state=… HTTP/1.1") and in slack_sdk's state-store lines.
    (re.compile(r"(?i)([?&](?:code|state)=)[^&\s\"']+"), rf"\1{MASK}"),
    (re.compile(r"(?i)(persistent data for state:\s*)\S+"), rf"\1{MASK}"),
    # key=value / "key": "value" pairs that name a secret.
    (
        re.compile(
            r"(?i)\b((?:[a-z_]*token|[a-z_]*secret|password|client_secret)[\"']?\s*[:=]\s*[\"']?)"
            r"(?!\[redacted\]|\*\*\*)[^\s\"'&,;}]+"
        ),
        rf"\1{MASK}",
    ),
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with known secret values and anything shaped like a token or webhook masked.

    URLs go through the core's one redaction (:func:`digests.net.util.redact_urls`: userinfo,
    query values, webhook and response_url tokens become ``***``); the patterns here are for
    what is not a URL (tokens, Authorization headers, ``secret=`` pairs).
    """
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, MASK)
    text = redact_urls(text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Mask secrets in a record's message, arguments and traceback (attach it to handlers)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets: set[str] = {s for s in secrets if s}

    def add(self, *secrets: str | None) -> None:
        """Also mask these exact values (signing secrets, tokens read from the environment)."""
        self.secrets.update(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = redact(message, self.secrets), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True


class HumanFormatter(logging.Formatter):
    """``2026-12-01 08:00:00 WARNING digests.net.fetch: message`` with control characters removed."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        return strip_controls(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and exc when there is one)."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            data["exc"] = record.exc_text
        return json.dumps(data, ensure_ascii=True)


class _StderrHandler(logging.StreamHandler[TextIO]):
    """A stream handler that writes to the *current* ``sys.stderr`` unless given a stream."""

    def __init__(self) -> None:
        self._fixed: TextIO | None = None
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return self._fixed or sys.stderr

    @stream.setter
    def stream(self, value: TextIO | None) -> None:
        self._fixed = None if value is sys.stderr else value


def _handler() -> logging.Handler | None:
    for handler in logging.getLogger().handlers:
        if handler.get_name() == _HANDLER_NAME:
            return handler
    return None


def configure_logging(
    *,
    verbose: bool = False,
    fmt: str = "human",
    level: int | None = None,
    stream: TextIO | None = None,
) -> RedactSecrets:
    """Install the one stderr handler (idempotent); returns its redaction filter.

    ``verbose`` logs everything at DEBUG; otherwise digestbot's own loggers log at ``level``
    (ERROR unless given; ``serve`` lowers it to INFO with :func:`set_level`), libraries at ERROR.
    """
    if fmt not in {"human", "json"}:
        raise ConfigError(f"DIGESTBOT_LOG_FORMAT / --log-format: use human or json, not {fmt!r}")
    root = logging.getLogger()
    handler = _handler()
    if handler is None:
        handler = _StderrHandler()
        handler.set_name(_HANDLER_NAME)
        handler.addFilter(RedactSecrets())
        root.addHandler(handler)
    if isinstance(handler, _StderrHandler):
        handler.stream = stream  # None: whatever sys.stderr is when a record is written
    handler.setFormatter(JsonFormatter() if fmt == "json" else HumanFormatter())
    # A terminal command reports what went wrong itself (one line each), so by default only
    # errors are logged; `serve` lowers this with set_level.
    root.setLevel(logging.DEBUG if verbose else logging.ERROR)
    ours = logging.DEBUG if verbose else (level or logging.ERROR)
    for name in _OUR_LOGGERS:
        logging.getLogger(name).setLevel(ours)
    return secrets_filter()


def set_level(level: int, *others: str) -> None:
    """Let digestbot's loggers (and ``others``) log down to ``level`` (``serve``: INFO)."""
    root = logging.getLogger()
    if root.getEffectiveLevel() > logging.WARNING:
        root.setLevel(logging.WARNING)  # libraries' warnings too
    for name in (*_OUR_LOGGERS, *others):
        if logging.getLogger(name).getEffectiveLevel() > level:
            logging.getLogger(name).setLevel(level)


class _HoldInfo(logging.Filter):
    """Keeps the INFO records passing the handler instead of writing them (see :func:`info_held`)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO:
            return True
        self.records.append(record)
        return False


@contextlib.contextmanager
def info_held() -> Iterator[Callable[[], None]]:
    """Hold the INFO lines logged inside the block (warnings, errors and ``-v``'s DEBUG pass);
    yields ``release``, which writes them in order and stops holding. Left without it (an
    error), they are dropped: ``serve`` logs what its start did (a token not checked, secrets
    sealed) once it knows it will listen, and a start refused (a port in use) stays one line."""
    handler = _handler()
    if handler is None:
        configure_logging()
        handler = _handler()
    assert handler is not None
    hold = _HoldInfo()
    handler.addFilter(hold)

    def release() -> None:
        handler.removeFilter(hold)
        for record in hold.records:
            handler.handle(record)
        hold.records.clear()

    try:
        yield release
    finally:
        handler.removeFilter(hold)
        hold.records.clear()


def secrets_filter() -> RedactSecrets:
    """The redaction filter of the installed handler (installing a default one if needed)."""
    handler = _handler()
    if handler is None:
        return configure_logging()
    for f in handler.filters:
        if isinstance(f, RedactSecrets):
            return f
    redactor = RedactSecrets()
    handler.addFilter(redactor)
    return redactor
