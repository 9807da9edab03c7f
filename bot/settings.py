"""Platform settings (Slack, Discord, HTTP) from an explicit environ mapping, validated once.

Read with pydantic-settings (:func:`digests.config.read_environment`), never from
``os.environ`` behind the caller's back. Core settings (topics, sources, schedules) are
``digests.config``; this module holds the secrets, so every secret field is left out of
``repr`` and never printed. It also validates cron expressions with the APScheduler trigger
that will run them (:func:`check_cron`), which the core may not import.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from digests.config import CallerEnvSettings, Settings, load_settings, read_environment
from digests.errors import ConfigError
from digests.net.util import redact_url

SLACK_API_DEFAULT = "https://slack.com/api/"
DISCORD_API_DEFAULT = "https://discord.com/api/v10"
# Slack's and Discord's payloads are a few KB (a slash command, an interaction, an event with a
# message in it); 1 MiB leaves room for the largest without letting a body cost memory.
MAX_REQUEST_BYTES_DEFAULT = 1024 * 1024
# A request's headers must arrive within this many seconds (of the connection, or of the
# previous answer on it), and then its whole body within as many again (else 408): Slack and
# Discord send theirs at once (and give up on an answer after 3 s), a slow-loris client never.
REQUEST_TIMEOUT_DEFAULT = 10.0


class BotSettings(CallerEnvSettings):
    """Validated platform settings; secrets are hidden from ``repr``.

    Built by :func:`load_bot_settings` from the environment (``SLACK_BOT_TOKEN`` → field
    ``slack_bot_token``), or directly with keyword arguments in tests.
    """

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    slack_bot_token: str | None = Field(default=None, repr=False)
    slack_signing_secret: str | None = Field(default=None, repr=False)
    slack_app_token: str | None = Field(default=None, repr=False)
    slack_api_url: str = SLACK_API_DEFAULT
    # OAuth v2 installs into many workspaces (no SLACK_BOT_TOKEN): Bolt's install flow.
    slack_client_id: str | None = None
    slack_client_secret: str | None = Field(default=None, repr=False)
    slack_redirect_uri: str | None = None  # optional: Slack uses the app's only redirect URL
    discord_public_key: str | None = Field(default=None, repr=False)
    discord_application_id: str | None = None
    discord_api_url: str = DISCORD_API_DEFAULT
    discord_bot_token: str | None = Field(default=None, repr=False)
    # Bearer token for /metrics and the health details. Env: DIGESTBOT_METRICS_TOKEN.
    metrics_token: str | None = Field(
        default=None,
        repr=False,
        validation_alias=AliasChoices("digestbot_metrics_token", "metrics_token"),
    )
    host: str = "0.0.0.0"
    port: int = 3000
    # Larger request bodies are refused (413) unread. Env: DIGESTBOT_MAX_REQUEST_BYTES.
    max_request_bytes: int = Field(
        default=MAX_REQUEST_BYTES_DEFAULT,
        ge=1024,
        le=64 * 1024 * 1024,
        validation_alias=AliasChoices("digestbot_max_request_bytes", "max_request_bytes"),
    )
    # Seconds to receive a request's headers, then its body. Env: DIGESTBOT_REQUEST_TIMEOUT.
    request_timeout: float = Field(
        default=REQUEST_TIMEOUT_DEFAULT,
        gt=0,
        le=300,
        validation_alias=AliasChoices("digestbot_request_timeout", "request_timeout"),
    )

    @field_validator(
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "slack_client_id",
        "slack_client_secret",
        "slack_redirect_uri",
        "discord_public_key",
        "discord_application_id",
        "discord_bot_token",
        "metrics_token",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return (value.strip() or None) if isinstance(value, str) else value

    @field_validator("slack_api_url")
    @classmethod
    def _slack_url(cls, value: str) -> str:
        # slack_sdk joins base_url + method name, so its base must end with "/".
        return _url(value, "SLACK_API_URL").rstrip("/") + "/"

    @field_validator("slack_redirect_uri")
    @classmethod
    def _redirect(cls, value: str | None) -> str | None:
        return _url(value, "SLACK_REDIRECT_URI").rstrip("/") if value else None

    @field_validator("discord_api_url")
    @classmethod
    def _discord_url(cls, value: str) -> str:
        return _url(value, "DISCORD_API_URL").rstrip("/")

    @field_validator("port", mode="before")
    @classmethod
    def _port(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip().isdigit():
            raise ValueError(f"PORT must be a number from 0 to 65535, got {value!r}")
        if not 0 <= int(value) <= 65535:  # type: ignore[call-overload]
            raise ValueError(f"PORT must be a number from 0 to 65535, got {value!r}")
        return int(value)  # type: ignore[call-overload]

    @model_validator(mode="after")
    def _consistent(self) -> BotSettings:
        bot_token, secret = self.slack_bot_token, self.slack_signing_secret
        client_id, client_secret = self.slack_client_id, self.slack_client_secret
        if bool(client_id) != bool(client_secret):
            missing = "SLACK_CLIENT_SECRET" if client_id else "SLACK_CLIENT_ID"
            raise ValueError(
                f"{missing} is not set (OAuth installs need both the client id and the client secret)"
            )
        if client_id and bot_token:
            raise ValueError(
                "set either SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID + SLACK_CLIENT_SECRET "
                "(installs into many workspaces), not both"
            )
        if client_id and not secret:
            raise ValueError(
                "SLACK_SIGNING_SECRET is not set (OAuth installs need it to verify Slack's requests)"
            )
        if secret and not bot_token and not client_id:
            raise ValueError(
                "SLACK_BOT_TOKEN is not set (Slack needs both the bot token and the signing secret)"
            )
        if bot_token and not bot_token.startswith("xoxb-"):  # a user token (xoxp-) too
            user = "is a user token (xoxp-…); it " if bot_token.startswith("xoxp-") else ""
            raise ValueError(
                f"SLACK_BOT_TOKEN {user}must be a bot token starting with xoxb- (the Bot User "
                "OAuth Token on the app's OAuth & Permissions page)"
            )
        app_token = self.slack_app_token
        if app_token and not app_token.startswith("xapp-"):
            raise ValueError("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
        if app_token and not bot_token:
            raise ValueError(
                "SLACK_APP_TOKEN is set but SLACK_BOT_TOKEN is not "
                "(Socket Mode serves one workspace; OAuth installs need the HTTP endpoints)"
            )
        public_key, app_id = self.discord_public_key, self.discord_application_id
        if public_key and not app_id:
            raise ValueError(
                "DISCORD_APPLICATION_ID is not set (Discord needs the public key and application id)"
            )
        if public_key:
            try:
                if len(bytes.fromhex(public_key)) != 32:
                    raise ValueError
            except ValueError:
                raise ValueError(
                    "DISCORD_PUBLIC_KEY must be the 64-hex-digit key from the portal"
                ) from None
        return self

    @property
    def slack(self) -> bool:
        """Slack is configured (bot token + signing secret)."""
        return bool(self.slack_bot_token and self.slack_signing_secret)

    @property
    def slack_oauth(self) -> bool:
        """Slack is installed into workspaces by OAuth (client id + secret + signing secret)."""
        return bool(
            self.slack_client_id
            and self.slack_client_secret
            and self.slack_signing_secret
            and not self.slack_bot_token
        )

    @property
    def slack_any(self) -> bool:
        """Slack is configured, for one workspace (bot token) or many (OAuth)."""
        return self.slack or self.slack_oauth

    @property
    def discord(self) -> bool:
        """Discord interactions are configured (public key + application id)."""
        return bool(self.discord_public_key and self.discord_application_id)

    @property
    def socket_mode(self) -> bool:
        """Slack runs over Socket Mode (an app-level ``xapp-`` token is set)."""
        return self.slack and bool(self.slack_app_token)


class ServeEnv(CallerEnvSettings):
    """Tuning variables of ``digestbot serve`` (all optional; seconds unless said otherwise)."""

    model_config = SettingsConfigDict(env_prefix="DIGESTBOT_", extra="ignore", frozen=True)

    send_timeout: Annotated[float, Field(gt=0)] | None = None  # one send attempt
    outbox_lease: Annotated[float, Field(gt=0)] | None = None  # a claim's lease
    outbox_sweep: Annotated[float, Field(gt=0)] | None = None  # how often the outbox is swept
    retry_base: Annotated[float, Field(gt=0)] | None = None  # first retry backoff
    brief_workers: Annotated[int, Field(ge=1)] | None = None  # /brief answers at once
    brief_queue: Annotated[int, Field(ge=0)] | None = None  # /brief requests held at most
    brief_max_wait: Annotated[float, Field(gt=0, le=60)] | None = None  # admit if answered by


def load_serve_env(environ: Mapping[str, str]) -> ServeEnv:
    """Read and check the ``DIGESTBOT_*`` tuning variables of ``serve``."""
    return read_environment(ServeEnv, environ, prefix="DIGESTBOT_")


def load_bot_settings(environ: Mapping[str, str], *, receive: bool = True) -> BotSettings:
    """Read and check platform settings (whether any platform is set up at all is the
    platform registry's question: ``bot.platforms``, which names all of them).

    ``receive``: the process answers the platforms' requests (``serve``), so what verifies
    them must be set with the rest — the signing secret with a Slack bot token, the public
    key with a Discord application id. Commands that only send (``digest --post``,
    ``discord register``) pass False and need neither.
    """
    settings = read_environment(BotSettings, environ)
    if receive and settings.slack_bot_token and not settings.slack_signing_secret:
        raise ConfigError(
            "SLACK_SIGNING_SECRET is not set (Slack needs both the bot token and the signing secret)"
        )
    if receive and settings.discord_application_id and not settings.discord_public_key:
        raise ConfigError(
            "DISCORD_PUBLIC_KEY is not set (Discord needs the public key and application id)"
        )
    return settings


def check_cron(cron: str, timezone: str) -> None:
    """Raise ``ValueError`` unless APScheduler can run ``cron`` (5 fields) in ``timezone``,
    and it ever fires (``0 8 30 2 *``, February 30th, is valid crontab and never comes)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from apscheduler.triggers.cron import CronTrigger  # lazily: only when subscriptions exist

    zone = ZoneInfo(timezone)
    trigger = CronTrigger.from_crontab(cron, timezone=zone)
    # From a fixed date, not the clock: crontab has no year, so a date that exists in any
    # year (29 February included) is found from any starting point.
    if trigger.get_next_fire_time(None, datetime(2000, 1, 1, tzinfo=zone)) is None:
        raise ValueError("this date never comes, so the digest would never be posted")


def load_core_settings(
    environ: Mapping[str, str] | None = None, config_dir: Path | str | None = None
) -> Settings:
    """The core settings as the front ends load them: cron expressions checked by APScheduler,
    each subscription's platform one of the registry's (``bot/platforms/``) and the entry
    checked by that platform's rule (``subscription_problem``)."""
    # A leaf: it imports a platform only when a subscription names it.
    from bot.platforms.registry import names, subscription_problem

    return load_settings(
        os.environ if environ is None else environ,
        config_dir,
        check_cron=check_cron,
        platforms=names(),
        check_subscription=subscription_problem,
    )


def _url(value: str, name: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"{name} must be an http(s) URL, got {redact_url(value)!r}")
    return value
