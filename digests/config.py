"""Settings, topics, sources and subscriptions: TOML files + environment, validated once at load.

Each TOML file in the config folder has a pydantic model describing exactly what a user may
write in it (``extra="forbid"``: a misspelt key is an error, never ignored; ``strict``: a string
where a number belongs is an error, never coerced). The environment (``DIGESTBOT_*``) is read
with pydantic-settings from an explicit mapping, so tests never touch ``os.environ``.
A validated load becomes plain frozen dataclasses (:class:`Settings`, :class:`Topic`,
:class:`SourceConfig`, :class:`SubscriptionConfig`) that the rest of the code reads.

Every problem is one :class:`~digests.errors.ConfigError` line naming the file and the key::

    config/topics.toml: topic.taiwan.sentense: unknown key

The config folder is found as the README says (:func:`find_config_dir`). Secrets (Slack and
Discord tokens) are not read here: that is ``bot.settings``. Cron expressions get a shape check
here; the core must not import APScheduler, so the front end passes ``check_cron`` (see
``bot.settings.check_cron``) to validate them with the trigger that will run them.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from digests.errors import ConfigError
from digests.models import SourceKind
from digests.net.util import secret_url_scheme_ok, source_name

MIN_KEY_CHARS = 32  # DIGESTBOT_ENCRYPTION_KEY: at least this long (digests/sealing.py)

_TOPIC_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_CRON_FIELDS = 5
_PLATFORM_NAME = re.compile(r"[a-z][a-z0-9_]{0,15}")  # fits subscriptions.platform (16)
_TEAM_ID = re.compile(r"T[A-Z0-9]{1,31}")  # a Slack workspace id (team_id columns are 32 wide)
MiB = 1024 * 1024
CONFIG_ENV = "DIGESTBOT_CONFIG_DIR"

_S = TypeVar("_S", bound=BaseSettings)
_M = TypeVar("_M", bound=BaseModel)
CronCheck = Callable[[str, str], None]
"""``check(cron, timezone)`` raises ``ValueError`` with a reason when ``cron`` cannot run."""


# --------------------------------------------------------------------------- what the code reads


@dataclass(frozen=True, slots=True)
class Topic:
    """A configured topic: a tag name and the phrases that mean it."""

    name: str
    aliases: tuple[str, ...] = ()
    label: str = ""
    examples: tuple[str, ...] = ()  # paths or URLs of articles about it (learned topics)
    exclude: tuple[str, ...] = ()  # paths or URLs of articles that are not

    @property
    def phrases(self) -> tuple[str, ...]:
        """The name written as words (``united-states`` → ``united states``) plus aliases."""
        return (self.name.replace("-", " "), *self.aliases)


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """A configured source: a folder, a feed URL or an article URL."""

    name: str
    kind: SourceKind  # folder | feed | page (| url: given on the command line, found by fetching)
    location: str
    tags: tuple[str, ...] = ()
    poll_minutes: int = 30
    follow_symlinks: bool = False  # folder sources: follow links that leave the folder


@dataclass(frozen=True, slots=True)
class SubscriptionConfig:
    """A channel's digest: where, which topics (empty = all) and when (cron in a timezone)."""

    name: str
    platform: str  # a registered platform's name: slack | discord | mattermost (bot/platforms/)
    channel: str  # Slack channel id/name, or a Discord / Mattermost webhook URL
    topics: tuple[str, ...] = ()
    cron: str = "0 8 * * *"
    timezone: str = "UTC"
    thread: bool = True  # Slack: post the stories as replies in a thread under the header
    # Slack with OAuth installs (many workspaces): the workspace whose token posts it.
    team_id: str | None = None


@dataclass(frozen=True, slots=True)
class FetchConfig:
    """Bounds of every HTTP fetch (``[fetch]`` in digestbot.toml)."""

    timeout_seconds: float = 30.0  # total deadline of one fetch, retries and redirects included
    max_bytes: int = 15 * MiB  # decoded body size cap


@dataclass(frozen=True, slots=True)
class PollConfig:
    """How a process polls feeds (``[poll]`` in digestbot.toml)."""

    workers: int = 8  # sources polled at once by this process
    batch: int = 50  # at most this many claimed per tick (and never more than free workers)
    lease_seconds: float = 300.0  # a claim older than this is taken over by another replica
    tick_seconds: float = 2.0  # how often the scheduler asks for due sources
    jitter: float = 0.1  # next poll in interval × (1 ± jitter/2): spreads bursts apart


@dataclass(frozen=True, slots=True)
class Settings:
    """Validated core settings."""

    config_dir: Path
    data_dir: Path
    database_url: str
    inbox: Path
    max_file_bytes: int = 5 * MiB
    summary_algorithm: str = "default"
    summary_sentences: int = 3
    brief_sentences: int = 4
    misfire_grace_seconds: int = 3600
    allow_private_networks: bool = False
    topics: tuple[Topic, ...] = ()
    sources: tuple[SourceConfig, ...] = ()
    subscriptions: tuple[SubscriptionConfig, ...] = ()
    fetch: FetchConfig = field(default_factory=FetchConfig)
    # Chat subscriptions a workspace (or Discord server) may have (DIGESTBOT_TEAM_SUBSCRIPTIONS).
    team_subscriptions: int = 100
    # DIGESTBOT_ENCRYPTION_KEY then DIGESTBOT_ENCRYPTION_KEY_PREVIOUS, when set; never shown.
    encryption_keys: tuple[str, ...] = field(default=(), repr=False)
    poll: PollConfig = field(default_factory=PollConfig)
    story_window_days: int = 7  # [stories] window_days: how far apart a story's articles may be
    digest_max_stories: int = 15  # [digest] max_stories: items in a digest, then "+N more"

    @property
    def base_dir(self) -> Path:
        """The folder relative paths in the config are resolved against (see README)."""
        return base_dir(self.config_dir)

    def resolve(self, location: str | Path) -> Path:
        """``location`` (``~`` expanded) made absolute against :attr:`base_dir`."""
        return config_path(self.config_dir, location)


def config_path(config_dir: Path, value: object) -> Path:
    """A path written in config (inbox, data dir, folder source), made absolute (the one rule:
    relative to :func:`base_dir`)."""
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else base_dir(config_dir) / path


def base_dir(config_dir: Path) -> Path:
    """A folder named ``config`` is the repository layout: paths are relative to its parent.

    Any other config folder (``~/.config/digestbot``, ``/etc/digestbot``) holds its own paths.
    """
    config_dir = config_dir.absolute()
    return config_dir.parent if config_dir.name == "config" else config_dir


# --------------------------------------------------------------------------- what a user writes


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Summary(_File):
    algorithm: str = "default"
    sentences: Annotated[int, Field(ge=1, le=10)] = 3

    @field_validator("algorithm")
    @classmethod
    def _known(cls, value: str) -> str:
        from digests.summarize import ALGORITHMS  # lazily: sumy is slow to import

        if value not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {value!r}; choose one of {', '.join(ALGORITHMS)}")
        return value


class _Brief(_File):
    sentences: Annotated[int, Field(ge=1, le=10)] = 4


class _Schedule(_File):
    misfire_grace_seconds: Annotated[int, Field(ge=1)] = 3600


class _Fetch(_File):
    allow_private_networks: bool = False
    timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 30.0
    max_bytes: Annotated[int, Field(ge=1)] = 15 * MiB


class _Poll(_File):
    workers: Annotated[int, Field(ge=1)] = 8
    batch: Annotated[int, Field(ge=1)] = 50
    lease_seconds: Annotated[float, Field(ge=0)] = 300.0
    tick_seconds: Annotated[float, Field(ge=0)] = 2.0
    jitter: Annotated[float, Field(ge=0)] = 0.1


class _Stories(_File):
    window_days: Annotated[int, Field(ge=1, le=365)] = 7


class _Digest(_File):
    max_stories: Annotated[int, Field(ge=1, le=500)] = 15


class MainFile(_File):
    """``digestbot.toml``."""

    data_dir: str = "data"
    database_url: str = ""
    inbox: str = "seeds"
    max_file_bytes: Annotated[int, Field(ge=1)] = 5 * MiB
    summary: _Summary = _Summary()
    brief: _Brief = _Brief()
    schedule: _Schedule = _Schedule()
    fetch: _Fetch = _Fetch()
    poll: _Poll = _Poll()
    stories: _Stories = _Stories()
    digest: _Digest = _Digest()


class _Topic(_File):
    name: str
    aliases: list[str] = []
    label: str = ""
    examples: list[str] = []
    exclude: list[str] = []

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        name = value.strip().lower()
        if not _TOPIC_NAME.match(name):
            raise ValueError(f"needs a name like 'south-china-sea', got {value!r}")
        return name


class TopicsFile(_File):
    """``topics.toml``: ``[[topic]]`` tables."""

    topic: list[_Topic] = []

    @field_validator("topic")
    @classmethod
    def _unique(cls, topics: list[_Topic]) -> list[_Topic]:
        _no_duplicates([t.name for t in topics], "topic")
        return topics


class _Source(_File):
    name: str | None = None
    folder: str | None = None
    feed: str | None = None
    page: str | None = None
    tags: list[str] = []
    poll_minutes: Annotated[int, Field(ge=1)] = 30
    follow_symlinks: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> _Source:
        kinds = [k for k in ("folder", "feed", "page") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("needs exactly one of folder, feed or page")
        if kinds[0] != "folder" and not str(getattr(self, kinds[0])).startswith(
            ("http://", "https://")
        ):
            raise ValueError(f"{kinds[0]} must be an http(s) URL")
        return self

    @property
    def kind(self) -> SourceKind:
        return next(
            SourceKind(k) for k in ("folder", "feed", "page") if getattr(self, k) is not None
        )


class SourcesFile(_File):
    """``sources.toml``: ``[[source]]`` tables."""

    source: list[_Source] = []

    @field_validator("source")
    @classmethod
    def _unique(cls, sources: list[_Source]) -> list[_Source]:
        _no_duplicates([s.name or str(getattr(s, s.kind)) for s in sources], "source")
        return sources


class _Subscription(_File):
    name: str | None = None
    # A chat platform's name; which names exist is the bot's registry (bot/platforms/).
    platform: str = "slack"
    channel: Annotated[str, Field(min_length=1)]
    topics: list[str] = []
    cron: str = "0 8 * * *"
    timezone: str = "UTC"
    thread: bool = True
    team_id: str | None = None

    @field_validator("channel")
    @classmethod
    def _strip(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator("platform")
    @classmethod
    def _platform(cls, value: str) -> str:
        if not _PLATFORM_NAME.fullmatch(value):
            raise ValueError(f"must be a platform name such as slack or discord, got {value!r}")
        return value

    @field_validator("team_id")
    @classmethod
    def _team(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not _TEAM_ID.fullmatch(value.strip()):
            raise ValueError(f"must be a Slack workspace id such as T0123ABCD, got {value!r}")
        return value.strip()

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        return _cron_shape(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return _zone(value)

    @model_validator(mode="after")
    def _discord_channel(self) -> _Subscription:
        if self.platform == "discord" and not secret_url_scheme_ok(self.channel):
            raise ValueError(
                "a discord channel is its webhook URL (https://..., or http:// to this machine)"
            )
        if self.platform == "discord" and self.team_id is not None:
            raise ValueError("team_id is for Slack subscriptions (a Discord webhook has its own)")
        return self


class SubscriptionsFile(_File):
    """``subscriptions.toml``: ``[[subscription]]`` tables."""

    subscription: list[_Subscription] = []


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


# --------------------------------------------------------------------------- loading


def find_config_dir(
    explicit: Path | str | None = None, environ: Mapping[str, str] | None = None
) -> Path | None:
    """The config folder: ``--config``, else ``$DIGESTBOT_CONFIG_DIR``, else ``./config``, else
    the user config folder (``~/.config/digestbot`` on Linux); ``None`` when there is none.

    A folder named explicitly (option or variable) must exist.
    """
    env = os.environ if environ is None else environ
    for value, what in ((explicit, "--config"), (env.get(CONFIG_ENV, "").strip(), CONFIG_ENV)):
        if value:
            path = Path(value).expanduser()
            if not path.is_dir():
                raise ConfigError(f"{what} {path}: not a folder")
            return path
    if Path("config").is_dir():
        return Path("config")
    user = user_config_dir(env)
    return user if user.is_dir() else None


def user_config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The per-user config folder (``$XDG_CONFIG_HOME/digestbot`` or the platform's own)."""
    env = os.environ if environ is None else environ
    if xdg := env.get("XDG_CONFIG_HOME", "").strip():
        return Path(xdg).expanduser() / "digestbot"
    import platformdirs  # lazily: only needed when nothing else is configured

    return Path(platformdirs.user_config_dir("digestbot", appauthor=False))


def load_settings(
    environ: Mapping[str, str] | None = None,
    config_dir: Path | str | None = None,
    *,
    check_cron: CronCheck | None = None,
) -> Settings:
    """Load and validate settings from the config folder (TOML files) and ``environ``.

    ``config_dir``: the folder (``--config``); else it is found by :func:`find_config_dir`.
    With no folder at all, everything takes its default (paths relative to the current folder).
    ``check_cron``: validates each subscription's cron expression in its timezone.
    """
    env = os.environ if environ is None else environ
    values = read_environment(EnvSettings, env, prefix="DIGESTBOT_")
    cdir = find_config_dir(config_dir, env) or Path("config")
    main = _load(cdir / "digestbot.toml", MainFile)
    topics = _load(cdir / "topics.toml", TopicsFile)
    sources = _load(cdir / "sources.toml", SourcesFile)
    subscriptions = _load(cdir / "subscriptions.toml", SubscriptionsFile)
    if check_cron is not None:
        for i, sub in enumerate(subscriptions.subscription):
            try:
                check_cron(sub.cron, sub.timezone)
            except ValueError as exc:
                where = f"subscription.{sub.name}" if sub.name else f"subscription[{i + 1}]"
                raise ConfigError(
                    f"{cdir / 'subscriptions.toml'}: {where}.cron: {sub.cron!r}: {_one_line(exc)}"
                ) from None

    def path(value: str) -> Path:
        return config_path(cdir, value)

    data_dir = path(values.data_dir or main.data_dir)
    db_url = values.database_url or main.database_url or f"sqlite:///{data_dir / 'digestbot.db'}"
    return Settings(
        config_dir=cdir,
        data_dir=data_dir,
        database_url=db_url,
        inbox=path(values.inbox or main.inbox),
        max_file_bytes=main.max_file_bytes,
        summary_algorithm=main.summary.algorithm,
        summary_sentences=main.summary.sentences,
        brief_sentences=main.brief.sentences,
        misfire_grace_seconds=main.schedule.misfire_grace_seconds,
        encryption_keys=_keys(values),
        team_subscriptions=values.team_subscriptions or 100,
        allow_private_networks=bool(values.allow_private_networks)
        or main.fetch.allow_private_networks,
        topics=tuple(
            Topic(
                t.name,
                tuple(a for a in t.aliases if a.strip()),
                t.label,
                tuple(_locator(cdir, e) for e in t.examples if e.strip()),
                tuple(_locator(cdir, e) for e in t.exclude if e.strip()),
            )
            for t in topics.topic
        ),
        sources=tuple(
            SourceConfig(
                name=name,
                kind=s.kind,
                location=str(getattr(s, s.kind)),
                tags=tuple(s.tags),
                poll_minutes=s.poll_minutes,
                follow_symlinks=s.follow_symlinks,
            )
            for s, name in zip(sources.source, _source_names(sources.source), strict=True)
        ),
        subscriptions=tuple(
            SubscriptionConfig(
                name=s.name or _default_name(s.platform, s.channel),
                platform=s.platform,
                channel=s.channel,
                topics=tuple(t.lower() for t in s.topics),
                cron=s.cron,
                timezone=s.timezone,
                thread=s.thread,
                team_id=s.team_id,
            )
            for s in subscriptions.subscription
        ),
        fetch=FetchConfig(
            timeout_seconds=float(main.fetch.timeout_seconds), max_bytes=main.fetch.max_bytes
        ),
        poll=PollConfig(**{k: v for k, v in main.poll.model_dump().items()}),
        story_window_days=main.stories.window_days,
        digest_max_stories=main.digest.max_stories,
    )


def _load(path: Path, model: type[_M]) -> _M:
    """Parse and validate one TOML file (a missing file is all defaults)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        data = {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {_one_line(exc)}") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"{path}: {_where(first['loc'], data)}: {_message(first)}") from None


def _where(loc: Sequence[int | str], data: object) -> str:
    """A pydantic error location as a user reads it: ``topic.taiwan.sentense``, ``source[2]``."""
    parts: list[str] = []
    node = data
    for i, key in enumerate(loc):
        if isinstance(key, int):
            entry = node[key] if isinstance(node, list) and key < len(node) else None
            name = entry.get("name") if isinstance(entry, dict) else None
            if isinstance(name, str) and name.strip() and loc[i + 1 : i + 2] != ("name",):
                parts.append(f".{name.strip()}")
            else:
                parts.append(f"[{key + 1}]")
            node = entry
        else:
            parts.append(f".{key}" if parts else str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return "".join(parts) or "(file)"


def _message(error: Any) -> str:
    kind, msg, value = error["type"], str(error["msg"]), error.get("input")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind in {"value_error", "assertion_error"}:
        return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{msg[:1].lower()}{msg[1:]}, got {shown}"


def _locator(cdir: Path, value: str) -> str:
    """A topic example as stored articles know it: a URL as given, a path made absolute."""
    value = value.strip()
    if "://" in value:
        return value
    return str(config_path(cdir, value).resolve())


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _no_duplicates(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"duplicate {what} name {name!r}")
        seen.add(name)


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


def _keys(values: EnvSettings) -> tuple[str, ...]:
    if values.encryption_key_previous and not values.encryption_key:
        raise ConfigError(
            "DIGESTBOT_ENCRYPTION_KEY_PREVIOUS is set but DIGESTBOT_ENCRYPTION_KEY is not "
            "(rotation needs the new key too)"
        )
    return tuple(k for k in (values.encryption_key, values.encryption_key_previous) if k)


def _source_names(sources: Sequence[_Source]) -> list[str]:
    """Each source's name: its own, else a folder's path or a URL's host and path only.

    A URL's name is shown to operators and chat users, so never the URL (its password or
    ``?api_key=``); two URLs with the same host and path get a digest of the URL added.
    """
    given = {s.name for s in sources if s.name}
    plain = [source_name(str(getattr(s, s.kind))) for s in sources]
    names = []
    for s, name in zip(sources, plain, strict=True):
        location = str(getattr(s, s.kind))
        if s.name:
            names.append(s.name)
        elif s.kind == "folder":
            names.append(location)
        elif name in given or plain.count(name) > 1:
            names.append(source_name(location, distinct=True))
        else:
            names.append(name)
    return names


def _default_name(platform: str, channel: str) -> str:
    # A webhook URL (Discord's, Mattermost's) is a secret: a name ends up in logs, so never
    # derive it verbatim from a channel that is a URL.
    if platform == "discord" or channel.startswith(("http://", "https://")):
        return f"{platform}:" + hashlib.sha256(channel.encode()).hexdigest()[:12]
    return f"{platform}:{channel}"
