"""Platform settings (Slack, Discord, HTTP) from an explicit environ mapping, validated once.

Core settings (topics, sources, schedules) are ``digests.config``; this module holds the
secrets, so every secret field is left out of ``repr`` and never printed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from digests.errors import ConfigError
from digests.netutil import redact_url

SLACK_API_DEFAULT = "https://slack.com/api/"
DISCORD_API_DEFAULT = "https://discord.com/api/v10"


@dataclass(frozen=True, slots=True)
class BotSettings:
    """Validated platform settings; secrets are hidden from ``repr``."""

    slack_bot_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_api_url: str = SLACK_API_DEFAULT
    # OAuth v2 installs into many workspaces (no SLACK_BOT_TOKEN): Bolt's install flow.
    slack_client_id: str | None = None
    slack_client_secret: str | None = field(default=None, repr=False)
    slack_redirect_uri: str | None = None  # optional: Slack uses the app's only redirect URL
    discord_public_key: str | None = field(default=None, repr=False)
    discord_application_id: str | None = None
    discord_api_url: str = DISCORD_API_DEFAULT
    discord_bot_token: str | None = field(default=None, repr=False)
    host: str = "0.0.0.0"
    port: int = 3000

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


def load_bot_settings(environ: Mapping[str, str], *, require: bool = True) -> BotSettings:
    """Read and check platform settings; ``require``: at least one platform must be set up."""

    def get(name: str) -> str | None:
        value = environ.get(name, "").strip()
        return value or None

    bot_token, secret = get("SLACK_BOT_TOKEN"), get("SLACK_SIGNING_SECRET")
    client_id, client_secret = get("SLACK_CLIENT_ID"), get("SLACK_CLIENT_SECRET")
    if bool(client_id) != bool(client_secret):
        missing = "SLACK_CLIENT_SECRET" if client_id else "SLACK_CLIENT_ID"
        raise ConfigError(
            f"{missing} is not set (OAuth installs need both the client id and the client secret)"
        )
    if client_id and bot_token:
        raise ConfigError(
            "set either SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID + SLACK_CLIENT_SECRET "
            "(installs into many workspaces), not both"
        )
    if client_id and not secret:
        raise ConfigError(
            "SLACK_SIGNING_SECRET is not set (OAuth installs need it to verify Slack's requests)"
        )
    if bool(bot_token) != bool(secret) and not client_id:
        missing = "SLACK_SIGNING_SECRET" if bot_token else "SLACK_BOT_TOKEN"
        raise ConfigError(
            f"{missing} is not set (Slack needs both the bot token and the signing secret)"
        )
    if bot_token and not bot_token.startswith(("xoxb-", "xoxp-")):
        raise ConfigError("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
    app_token = get("SLACK_APP_TOKEN")
    if app_token and not app_token.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
    if app_token and not bot_token:
        raise ConfigError(
            "SLACK_APP_TOKEN is set but SLACK_BOT_TOKEN is not "
            "(Socket Mode serves one workspace; OAuth installs need the HTTP endpoints)"
        )
    public_key, app_id = get("DISCORD_PUBLIC_KEY"), get("DISCORD_APPLICATION_ID")
    if bool(public_key) != bool(app_id):
        missing = "DISCORD_APPLICATION_ID" if public_key else "DISCORD_PUBLIC_KEY"
        raise ConfigError(f"{missing} is not set (Discord needs the public key and application id)")
    if public_key:
        try:
            if len(bytes.fromhex(public_key)) != 32:
                raise ValueError
        except ValueError as exc:
            raise ConfigError(
                "DISCORD_PUBLIC_KEY must be the 64-hex-digit key from the portal"
            ) from exc
    settings = BotSettings(
        slack_bot_token=bot_token,
        slack_signing_secret=secret,
        slack_app_token=app_token,
        slack_api_url=_url(get("SLACK_API_URL") or SLACK_API_DEFAULT, "SLACK_API_URL", slash=True),
        slack_client_id=client_id,
        slack_client_secret=client_secret,
        slack_redirect_uri=(
            _url(redirect, "SLACK_REDIRECT_URI", slash=False)
            if (redirect := get("SLACK_REDIRECT_URI"))
            else None
        ),
        discord_public_key=public_key,
        discord_application_id=app_id,
        discord_api_url=_url(
            get("DISCORD_API_URL") or DISCORD_API_DEFAULT, "DISCORD_API_URL", slash=False
        ),
        discord_bot_token=get("DISCORD_BOT_TOKEN"),
        host=get("HOST") or "0.0.0.0",
        port=_port(get("PORT") or "3000"),
    )
    if require and not (settings.slack_any or settings.discord):
        raise ConfigError(
            "no chat platform configured: set SLACK_BOT_TOKEN + SLACK_SIGNING_SECRET "
            "(or SLACK_CLIENT_ID + SLACK_CLIENT_SECRET + SLACK_SIGNING_SECRET for OAuth installs) "
            "and/or DISCORD_PUBLIC_KEY + DISCORD_APPLICATION_ID"
        )
    return settings


def _url(value: str, name: str, *, slash: bool) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL, got {redact_url(value)!r}")
    # slack_sdk joins base_url + method name, so its base must end with "/".
    return value.rstrip("/") + ("/" if slash else "")


def _port(value: str) -> int:
    if not value.isdigit() or not 0 <= int(value) <= 65535:
        raise ConfigError(f"PORT must be a number from 0 to 65535, got {value!r}")
    return int(value)
