"""The ``DIGESTBOT_*`` environment, read from a mapping the caller passes (never ``os.environ``
behind its back), and the encryption keys it gives."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal, TypeVar

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from digests.config._base import _message
from digests.errors import ConfigError

MIN_KEY_CHARS = 32  # DIGESTBOT_ENCRYPTION_KEY: at least this long (digests/sealing.py)


_S = TypeVar("_S", bound=BaseSettings)


class CallerEnvSettings(BaseSettings):
    """Settings filled only from what the caller passes (never ``os.environ`` behind its back).

    The environment reaches these models through an explicit mapping (``read_environment``,
    ``load_bot_settings``, ``load_serve_env``), so tests and embedders control every value.
    """

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


class EnvSettings(CallerEnvSettings):
    """The ``DIGESTBOT_*`` environment variables the core reads (all optional)."""

    model_config = SettingsConfigDict(env_prefix="DIGESTBOT_", extra="ignore", frozen=True)

    config_dir: str | None = None
    data_dir: str | None = None
    database_url: str | None = None
    inbox: str | None = None
    allow_private_networks: bool | None = None
    log_format: Literal["human", "json"] | None = None
    # Secrets at rest (digests/sealing.py): the key, and the one before it while rotating.
    team_subscriptions: Annotated[int, Field(ge=1)] | None = None  # chat subs per workspace
    encryption_key: str | None = Field(default=None, repr=False)
    encryption_key_previous: str | None = Field(default=None, repr=False)

    @field_validator("encryption_key", "encryption_key_previous")
    @classmethod
    def _long_key(cls, value: str | None) -> str | None:
        # Any secret string; the cipher keys are derived from it (HKDF), so only length matters.
        if value is not None and len(value) < MIN_KEY_CHARS:
            raise ValueError(
                f"must be at least {MIN_KEY_CHARS} characters, e.g. the output of "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return value


class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' environment source, reading a given mapping instead of os.environ."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # Blank variables count as unset, as in a shell `FOO= cmd`.
        return {k.lower(): v for k, v in self._environ.items() if v.strip()}


def read_environment(model: type[_S], environ: Mapping[str, str], prefix: str = "") -> _S:
    """Validate ``model`` from the variables in ``environ``; errors name the variable."""
    try:
        return model(**_MappingEnvSource(model, environ)())
    except ValidationError as exc:
        first = exc.errors()[0]
        message = _message(first)
        name = prefix + str(first["loc"][0]).upper() if first["loc"] else ""
        if not name or message.startswith(name):  # the validator named the variable itself
            raise ConfigError(message) from None
        raise ConfigError(f"{name}: {message}") from None


def _keys(values: EnvSettings) -> tuple[str, ...]:
    if values.encryption_key_previous and not values.encryption_key:
        raise ConfigError(
            "DIGESTBOT_ENCRYPTION_KEY_PREVIOUS is set but DIGESTBOT_ENCRYPTION_KEY is not "
            "(rotation needs the new key too)"
        )
    return tuple(k for k in (values.encryption_key, values.encryption_key_previous) if k)
