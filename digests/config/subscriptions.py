"""``subscriptions.toml``: a channel's digest (where, which topics, when), its cron's shape and
its timezone."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from digests.config._base import Strings, _Model
from digests.errors import ConfigError

_WORKSPACE = re.compile(r"^[A-Za-z0-9]{1,32}$")  # a Slack team id or a Discord guild id
_CRON_FIELDS = 5
_PLATFORM_NAME = re.compile(r"[a-z][a-z0-9_]{0,15}")  # fits subscriptions.platform (16)


CronCheck = Callable[[str, str], None]
"""``check(cron, timezone)`` raises ``ValueError`` with a reason when ``cron`` cannot run."""
SubscriptionCheck = Callable[["SubscriptionConfig"], "tuple[str, str] | None"]
"""``check(sub)``: the rule of the platform ``sub`` names (its channel's form, its workspace's
shape): None, or (key, reason) of the first problem, key ``""`` for the entry as a whole."""


class SubscriptionConfig(_Model):
    """A channel's digest: where, which topics (empty = all) and when (cron in a timezone)."""

    name: str  # when left out, named from platform and channel (:func:`_default_name`)
    # A registered platform's name (bot/platforms/); the first one's, left out (older files).
    platform: str = "slack"
    channel: Annotated[str, Field(min_length=1)]  # as the platform names it: an id, a URL
    topics: Strings = ()
    cron: str = "0 8 * * *"
    timezone: str = "UTC"
    thread: bool = True  # Slack: post the stories as replies in a thread under the header
    # The workspace it posts to, for a platform that needs it (Slack with OAuth installs:
    # the workspace whose token posts it); its shape is the platform's rule.
    team_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _named(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("name"):
            return data
        platform, channel = data.get("platform", "slack"), data.get("channel")
        if isinstance(platform, str) and isinstance(channel, str):
            return {**data, "name": _default_name(platform, channel.strip())}
        return {**data, "name": ""}  # the wrong platform or channel is the error reported

    @field_validator("channel")
    @classmethod
    def _strip(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator("topics")
    @classmethod
    def _lower(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(t.lower() for t in values)

    @field_validator("platform")
    @classmethod
    def _platform(cls, value: str) -> str:
        if not _PLATFORM_NAME.fullmatch(value):
            raise ValueError(f"must be a platform name such as slack or discord, got {value!r}")
        return value

    @field_validator("team_id")
    @classmethod
    def _team(cls, value: str | None) -> str | None:
        return None if value is None else value.strip()

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        return _cron_shape(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return _zone(value)


class SubscriptionsFile(_Model):
    """``subscriptions.toml``: ``[[subscription]]`` tables."""

    subscription: list[SubscriptionConfig] = []


def _cron_shape(cron: str) -> str:
    if len(cron.split()) != _CRON_FIELDS:
        raise ValueError(f"cron {cron!r} must have 5 fields: minute hour day month day-of-week")
    return " ".join(cron.split())


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    # A folder of the zone database ("Europe") raises IsADirectoryError, an odd name other
    # OSErrors: all of them mean "no such zone" to the user.
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown timezone {name!r} (use an IANA name like Europe/Paris)") from exc
    return name


def validate_timezone(name: str) -> str:
    """Check an IANA timezone name such as ``Europe/Paris``."""
    try:
        return _zone(name)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _default_name(platform: str, channel: str) -> str:
    # A webhook URL (a channel that is a URL) is a secret: a name ends up in logs, so never
    # derive it verbatim from a channel that is a URL.
    if _is_url(channel):
        return f"{platform}:" + hashlib.sha256(channel.encode()).hexdigest()[:12]
    return f"{platform}:{channel}"


def _is_url(channel: str) -> bool:
    """An http(s) URL as a URL parser reads it (any case of the scheme, ``https:/…`` too): so
    every channel a webhook's platform accepts (``digests.net.util.secret_url_scheme_ok``)
    is one."""
    if channel.startswith(("http://", "https://")):
        return True
    try:
        return urlsplit(channel).scheme in ("http", "https")
    except ValueError:  # e.g. an unclosed [ in the host: no URL
        return False
