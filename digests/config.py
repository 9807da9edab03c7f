"""Settings, topics, sources and subscriptions: TOML files + environment, validated once at load.

Each setting is declared once, as a frozen pydantic model that validates what a user may
write (``extra="forbid"``: a misspelt key is an error, never ignored; ``strict``: a string
where a number belongs is an error, never coerced) and is what the rest of the code reads
(:class:`Settings`, :class:`Topic`, :class:`SourceConfig`, :class:`SubscriptionConfig`,
:class:`FetchConfig`, :class:`PollConfig`). Where a file's shape differs from them is said in
one place (the comment above :class:`Topic`). The environment (``DIGESTBOT_*``) is read with
pydantic-settings from an explicit mapping, so tests never touch ``os.environ``.

Every problem is one :class:`~digests.errors.ConfigError` line naming the file and the key::

    config/topics.toml: topic.taiwan.sentense: unknown key

The config folder is found as the README says (:func:`find_config_dir`). Secrets (Slack and
Discord tokens) are not read here: that is ``bot.settings``. Cron expressions get a shape check
here; the core must not import APScheduler, so the front end passes ``check_cron`` (see
``bot.settings.check_cron``) to validate them with the trigger that will run them. What a
subscription's platform accepts (a channel's form, a workspace id's shape) is the platform's
own rule, which the front end passes the same way (``check_subscription``): the core knows
only that a subscription names a platform, a channel and perhaps a workspace.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit
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
from digests.net.util import source_name, source_problem

MIN_KEY_CHARS = 32  # DIGESTBOT_ENCRYPTION_KEY: at least this long (digests/sealing.py)

_TOPIC_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_TOPIC_RULE = "lowercase letters, digits and hyphens, at most 63 characters"
_WORKSPACE = re.compile(r"^[A-Za-z0-9]{1,32}$")  # a Slack team id or a Discord guild id
_CRON_FIELDS = 5
_PLATFORM_NAME = re.compile(r"[a-z][a-z0-9_]{0,15}")  # fits subscriptions.platform (16)
MiB = 1024 * 1024
CONFIG_ENV = "DIGESTBOT_CONFIG_DIR"

_S = TypeVar("_S", bound=BaseSettings)
_M = TypeVar("_M", bound=BaseModel)
CronCheck = Callable[[str, str], None]
"""``check(cron, timezone)`` raises ``ValueError`` with a reason when ``cron`` cannot run."""
SubscriptionCheck = Callable[["SubscriptionConfig"], "tuple[str, str] | None"]
"""``check(sub)``: the rule of the platform ``sub`` names (its channel's form, its workspace's
shape): None, or (key, reason) of the first problem, key ``""`` for the entry as a whole."""


# --------------------------------------------------------------------------- the models
#
# Each setting is declared once, as a frozen pydantic model that both validates what a user
# writes (``extra="forbid"``, ``strict``) and is what the rest of the code reads. Where a file's
# shape differs from what the code reads, :func:`load_settings` computes the difference, and
# only there:
#
# * ``digestbot.toml``'s tables (:class:`MainFile`) become flat :class:`Settings` attributes
#   (``[summary] algorithm`` is ``summary_algorithm``...), except ``[fetch]`` (its bounds are
#   :class:`FetchConfig`; ``allow_private_networks`` is a :class:`Settings` attribute) and
#   ``[poll]`` (:class:`PollConfig` as written);
# * ``data_dir``, ``inbox`` and topic ``examples`` / ``exclude`` paths are resolved
#   (:func:`config_path`); ``DIGESTBOT_*`` variables override the file (:class:`EnvSettings`);
# * a source is written ``folder = ...``, ``feed = ...`` or ``page = ...`` (:class:`_Source`),
#   read as ``kind`` and ``location``, and named when its name is left out
#   (:func:`_source_names`);
# * a subscription without a name is named from its platform and channel (never verbatim
#   from a webhook URL: :func:`_default_name`).


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# A TOML array of strings, read as a tuple (a list is accepted for it; its items stay strict).
Strings = Annotated[tuple[str, ...], Field(strict=False)]


# Bounds of topics.toml: every ingest matches each alias against each article, and a refit
# seeds from them. A 5 MB alias took an ingest of the five seeds from 7 s to 60 s and 640 MB,
# 200,000 aliases to 90 s and 480 MB, 20,000 topics `digestbot topics` to 30 s; at these
# bounds (10,000 aliases of 100 characters) it is 7–9 s, as with the shipped file.
MAX_ALIAS = 100  # characters: an alias is a phrase
MAX_ALIASES = 10_000  # over all topics
MAX_TOPICS = 1_000


class Topic(_Model):
    """A configured topic: a tag name and the phrases that mean it (``[[topic]]``)."""

    name: str
    aliases: Strings = ()
    label: str = ""  # accepted by earlier versions, never used: config_warnings() says so
    examples: Strings = ()  # paths or URLs of articles about it (learned topics)
    exclude: Strings = ()  # paths or URLs of articles that are not

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        name = value.strip().lower()
        if not _TOPIC_NAME.match(name):
            raise ValueError(f"needs a name like 'south-china-sea' ({_TOPIC_RULE}), got {value!r}")
        return name

    @field_validator("aliases", "examples", "exclude")
    @classmethod
    def _no_blanks(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v for v in values if v.strip())

    @field_validator("aliases")
    @classmethod
    def _phrases(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        if len(values) > MAX_ALIASES:
            raise ValueError(f"at most {MAX_ALIASES:,} aliases, got {len(values):,}")
        if long := next((v for v in values if len(v) > MAX_ALIAS), None):
            raise ValueError(
                f"an alias is a phrase of at most {MAX_ALIAS} characters, got {len(long):,} "
                f"({long[:40]!r}…)"
            )
        return values

    @property
    def phrases(self) -> tuple[str, ...]:
        """The name written as words (``united-states`` → ``united states``) plus aliases."""
        return (self.name.replace("-", " "), *self.aliases)


def tag_name(value: str) -> str:
    """``value`` as a tag is stored (stripped, lowercased); ``ValueError`` unless it is spelt
    as a topic's name is: lowercase letters, digits and hyphens (``south-china-sea``)."""
    name = value.strip().lower()
    if not _TOPIC_NAME.match(name):
        raise ValueError(f"tag {value!r}: use {_TOPIC_RULE}, e.g. 'south-china-sea'")
    return name


MAX_SOURCE_TAGS = 50  # a source's tags go on every article it yields


def source_tags(values: Iterable[str]) -> tuple[str, ...]:
    """A source's tags as stored: each spelt as a tag (:func:`tag_name`: a topic can be one),
    once each; ``ValueError`` past :data:`MAX_SOURCE_TAGS` (300,000 of them, on every
    article, took an ingest of one file to 1.2 GB)."""
    tags = tuple(dict.fromkeys(tag_name(v) for v in values))
    if len(tags) > MAX_SOURCE_TAGS:
        raise ValueError(f"at most {MAX_SOURCE_TAGS} tags, got {len(tags):,}")
    return tags


class _SourceOptions(_Model):
    tags: Strings = ()
    poll_minutes: Annotated[int, Field(ge=1)] = 30
    follow_symlinks: bool = False  # folder sources: follow links that leave the folder

    @field_validator("tags")
    @classmethod
    def _tags(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return source_tags(values)


class SourceConfig(_SourceOptions):
    """A configured source: a folder, a feed URL or an article URL."""

    name: str
    kind: SourceKind  # folder | feed | page (| url: given on the command line, found by fetching)
    location: str


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


class FetchConfig(_Model):
    """Bounds of every HTTP fetch (``[fetch]`` in digestbot.toml)."""

    # total deadline of one fetch, retries and redirects included
    timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 30.0
    max_bytes: Annotated[int, Field(ge=1)] = 15 * MiB  # decoded body size cap


class PollConfig(_Model):
    """How a process polls feeds (``[poll]`` in digestbot.toml)."""

    workers: Annotated[int, Field(ge=1)] = 8  # sources polled at once by this process
    # at most this many claimed per tick (and never more than free workers)
    batch: Annotated[int, Field(ge=1)] = 50
    # a claim older than this is taken over by another replica
    lease_seconds: Annotated[float, Field(ge=0)] = 300.0
    # how often the scheduler asks for due sources
    tick_seconds: Annotated[float, Field(ge=0)] = 2.0
    # next poll in interval × (1 ± jitter/2): spreads bursts apart
    jitter: Annotated[float, Field(ge=0)] = 0.1


class Settings(_Model):
    """Validated core settings (built by :func:`load_settings`)."""

    config_dir: Path
    data_dir: Path
    database_url: str
    inbox: Path
    max_file_bytes: int
    summary_algorithm: str
    summary_sentences: int
    brief_sentences: int
    misfire_grace_seconds: int
    allow_private_networks: bool
    topics: tuple[Topic, ...]
    sources: tuple[SourceConfig, ...]
    subscriptions: tuple[SubscriptionConfig, ...]
    fetch: FetchConfig
    # Chat subscriptions a workspace (or Discord server) may have (DIGESTBOT_TEAM_SUBSCRIPTIONS).
    team_subscriptions: int
    # DIGESTBOT_ENCRYPTION_KEY then DIGESTBOT_ENCRYPTION_KEY_PREVIOUS, when set; never shown.
    encryption_keys: tuple[str, ...] = Field(repr=False)
    poll: PollConfig
    story_window_days: int  # [stories] window_days: how far apart a story's articles may be
    digest_max_stories: int  # [digest] max_stories: items in a digest, then "+N more"
    sent_kept_days: int = 90  # [digest] sent_kept_days: then a sent part is deleted
    # [topics] feedback_workspaces: whose topic corrections count (None: not set)
    feedback_workspaces: tuple[str, ...] | None = None

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


# --------------------------------------------------------------------------- the files' tables


class _Summary(_Model):
    algorithm: str = "default"
    sentences: Annotated[int, Field(ge=1, le=10)] = 3

    @field_validator("algorithm")
    @classmethod
    def _known(cls, value: str) -> str:
        from digests.summarize import ALGORITHMS  # lazily: sumy is slow to import

        if value not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {value!r}; choose one of {', '.join(ALGORITHMS)}")
        return value


class _Brief(_Model):
    sentences: Annotated[int, Field(ge=1, le=10)] = 4


class _Schedule(_Model):
    misfire_grace_seconds: Annotated[int, Field(ge=1)] = 3600


class _Fetch(FetchConfig):
    allow_private_networks: bool = False


class _Stories(_Model):
    window_days: Annotated[int, Field(ge=1, le=365)] = 7


class _Digest(_Model):
    max_stories: Annotated[int, Field(ge=1, le=500)] = 15
    # Days a sent digest part is kept (then deleted: digests/store/outbox.py, FINISHED);
    # at least sent_kept_floor(stories.window_days), checked in load_settings.
    sent_kept_days: Annotated[int, Field(ge=1, le=36_500)] = 90


# A story shown in a digest may come back as an update (a reply under the message that
# showed it, a link to it) when an article joins it: up to [stories] window_days after its
# last article, or digests.stories.FOLLOW_UP (60 days) for a strong match, whichever is
# longer; then the subscription's next digest, up to a monthly cron's month later. The
# sent part naming that message must still be there: it is kept at least that long.
_SENT_KEPT_MARGIN_DAYS = 30


def sent_kept_floor(story_window_days: int) -> int:
    """The fewest days ``[digest] sent_kept_days`` may be with this story window."""
    from digests.stories import FOLLOW_UP  # the story model's constant, one definition

    return max(story_window_days, FOLLOW_UP.days) + _SENT_KEPT_MARGIN_DAYS


MAX_FEEDBACK_WORKSPACES = 1_000  # bounds the list every click and refit looks through


class _Topics(_Model):
    # Workspaces (Slack team ids, Discord guild ids) whose readers' topic corrections change
    # the shared tags and model; None (not set): the deployment's own when it has one
    # (digests/store/topics.py: FeedbackTrust).
    feedback_workspaces: Strings | None = None

    @field_validator("feedback_workspaces")
    @classmethod
    def _ids(cls, values: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if values is None:
            return None
        if len(values) > MAX_FEEDBACK_WORKSPACES:
            raise ValueError(f"at most {MAX_FEEDBACK_WORKSPACES:,} workspaces, got {len(values):,}")
        if bad := next((v for v in values if not _WORKSPACE.match(v)), None):
            raise ValueError(
                f"a workspace is a Slack team id (T0123ABCD) or a Discord server id, got {bad[:40]!r}"
            )
        return values


class MainFile(_Model):
    """``digestbot.toml``."""

    data_dir: str = "data"
    database_url: str = ""
    inbox: str = "seeds"
    max_file_bytes: Annotated[int, Field(ge=1)] = 5 * MiB
    summary: _Summary = _Summary()
    brief: _Brief = _Brief()
    schedule: _Schedule = _Schedule()
    fetch: _Fetch = _Fetch()
    poll: PollConfig = PollConfig()
    stories: _Stories = _Stories()
    digest: _Digest = _Digest()
    topics: _Topics = _Topics()


class TopicsFile(_Model):
    """``topics.toml``: ``[[topic]]`` tables."""

    topic: list[Topic] = []

    @field_validator("topic")
    @classmethod
    def _unique(cls, topics: list[Topic]) -> list[Topic]:
        if len(topics) > MAX_TOPICS:
            raise ValueError(f"at most {MAX_TOPICS:,} topics, got {len(topics):,}")
        if (aliases := sum(len(t.aliases) for t in topics)) > MAX_ALIASES:
            raise ValueError(f"at most {MAX_ALIASES:,} aliases in all, got {aliases:,}")
        _no_duplicates([t.name for t in topics], "topic")
        return topics


class _Source(_SourceOptions):
    """A ``[[source]]`` table: one of ``folder``, ``feed`` or ``page`` (read as kind and
    location), and a name or none (:func:`_source_names`)."""

    name: str | None = None
    folder: str | None = None
    feed: str | None = None
    page: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> _Source:
        kinds = [k for k in ("folder", "feed", "page") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("needs exactly one of folder, feed or page")
        if kinds[0] != "folder" and not str(getattr(self, kinds[0])).startswith(
            ("http://", "https://")
        ):
            raise ValueError(f"{kinds[0]} must be an http(s) URL")
        url = None if kinds[0] == "folder" else str(getattr(self, kinds[0]))
        if problem := source_problem(name=self.name, url=url):
            raise ValueError(problem)
        return self

    @property
    def kind(self) -> SourceKind:
        return next(
            SourceKind(k) for k in ("folder", "feed", "page") if getattr(self, k) is not None
        )

    @property
    def location(self) -> str:
        return str(getattr(self, self.kind))


class SourcesFile(_Model):
    """``sources.toml``: ``[[source]]`` tables."""

    source: list[_Source] = []

    @field_validator("source")
    @classmethod
    def _unique(cls, sources: list[_Source]) -> list[_Source]:
        _no_duplicates([s.name or s.location for s in sources], "source")
        return sources


class SubscriptionsFile(_Model):
    """``subscriptions.toml``: ``[[subscription]]`` tables."""

    subscription: list[SubscriptionConfig] = []


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
    platforms: Sequence[str] | None = None,
    check_subscription: SubscriptionCheck | None = None,
) -> Settings:
    """Load and validate settings from the config folder (TOML files) and ``environ``.

    ``config_dir``: the folder (``--config``); else it is found by :func:`find_config_dir`.
    With no folder at all, everything takes its default (paths relative to the current folder).
    ``check_cron``: validates each subscription's cron expression in its timezone;
    ``platforms``: the chat platforms a subscription may name (the front end's registry);
    ``check_subscription``: the rule of the platform each subscription names.
    """
    env = os.environ if environ is None else environ
    values = read_environment(EnvSettings, env, prefix="DIGESTBOT_")
    cdir = find_config_dir(config_dir, env) or Path("config")
    main = _load(cdir / "digestbot.toml", MainFile)
    floor = sent_kept_floor(main.stories.window_days)
    if main.digest.sent_kept_days < floor:
        raise ConfigError(
            f"{cdir / 'digestbot.toml'}: digest.sent_kept_days: {main.digest.sent_kept_days} "
            f"is shorter than a story's look-back: at least {floor} with stories.window_days "
            f"= {main.stories.window_days} (a later update replies under the part that "
            "showed its story)"
        )
    topics = _load(cdir / "topics.toml", TopicsFile)
    sources = _load(cdir / "sources.toml", SourcesFile)
    subscriptions_path = cdir / "subscriptions.toml"
    written = _read(subscriptions_path)
    subscriptions = _validate(subscriptions_path, written, SubscriptionsFile)
    for i, sub in enumerate(subscriptions.subscription):
        name = written["subscription"][i].get("name")  # as written, not the default
        where = f"{subscriptions_path}: " + (
            f"subscription.{name}" if name else f"subscription[{i + 1}]"
        )
        if platforms is not None and sub.platform not in platforms:
            raise ConfigError(
                f"{where}.platform: unknown platform {sub.platform!r}; known: "
                f"{', '.join(platforms)}"
            )
        if check_subscription is not None and (problem := check_subscription(sub)):
            key, reason = problem
            raise ConfigError(f"{where}{'.' if key else ''}{key}: {reason}")
        if sub.team_id is not None and not _WORKSPACE.fullmatch(sub.team_id):
            # Whatever the platform's rule, it fits subscriptions.team_id (32 wide).
            raise ConfigError(
                f"{where}.team_id: must be a workspace id of at most 32 letters and digits, "
                f"got {sub.team_id[:40]!r}"
            )
        if check_cron is not None:
            try:
                check_cron(sub.cron, sub.timezone)
            except ValueError as exc:
                raise ConfigError(f"{where}.cron: {sub.cron!r}: {_one_line(exc)}") from None

    def path(value: str) -> Path:
        return config_path(cdir, value)

    data_dir = path(values.data_dir or main.data_dir)
    return Settings(
        config_dir=cdir,
        data_dir=data_dir,
        database_url=values.database_url
        or main.database_url
        or f"sqlite:///{data_dir / 'digestbot.db'}",
        inbox=path(values.inbox or main.inbox),
        max_file_bytes=main.max_file_bytes,
        # digestbot.toml's tables, read as flat attributes:
        summary_algorithm=main.summary.algorithm,
        summary_sentences=main.summary.sentences,
        brief_sentences=main.brief.sentences,
        misfire_grace_seconds=main.schedule.misfire_grace_seconds,
        story_window_days=main.stories.window_days,
        digest_max_stories=main.digest.max_stories,
        sent_kept_days=main.digest.sent_kept_days,
        feedback_workspaces=main.topics.feedback_workspaces,
        encryption_keys=_keys(values),
        team_subscriptions=values.team_subscriptions or 100,
        allow_private_networks=bool(values.allow_private_networks)
        or main.fetch.allow_private_networks,
        topics=tuple(
            t.model_copy(
                update={
                    "examples": tuple(_locator(cdir, e) for e in t.examples),
                    "exclude": tuple(_locator(cdir, e) for e in t.exclude),
                }
            )
            for t in topics.topic
        ),
        sources=tuple(
            SourceConfig(
                name=name,
                kind=s.kind,
                location=s.location,
                **s.model_dump(include=set(_SourceOptions.model_fields)),
            )
            for s, name in zip(sources.source, _source_names(sources.source), strict=True)
        ),
        subscriptions=tuple(subscriptions.subscription),
        fetch=FetchConfig(**main.fetch.model_dump(include=set(FetchConfig.model_fields))),
        poll=main.poll,
    )


def config_warnings(settings: Settings) -> list[str]:
    """What the config says that is valid yet cannot work as meant, a line each in the form
    of its errors (``DIR/file: key: what``): a topic example or exclude path that does not
    exist (URLs are not checked), a topic ``label`` (accepted, never used), a subscription topic that is neither a configured topic nor
    a tag ``sources.toml`` gives (its articles could only come from a source added at run
    time, ``sources add --tags``, which no store is open here to read: the line says so)."""
    lines = []
    topics_file = settings.config_dir / "topics.toml"
    for topic in settings.topics:
        if topic.label:
            lines.append(
                f"{topics_file}: topic.{topic.name}.label: has no effect (tags are shown by "
                "their name); remove it"
            )
        for key, values in (("examples", topic.examples), ("exclude", topic.exclude)):
            for value in values:  # made absolute at load: see _locator
                if "://" not in value and not os.path.exists(value):
                    lines.append(
                        f"{topics_file}: topic.{topic.name}.{key}: no file {value} (it counts "
                        "only if an article was stored from it)"
                    )
    from digests.subscribable import subscribable  # it reads Settings: imported when used

    known = {t.name for t in subscribable(settings)}  # the store's sources: not read here
    subscriptions_file = settings.config_dir / "subscriptions.toml"
    for sub in settings.subscriptions:
        for name in sub.topics:
            if name not in known:
                # Said before any store is open (every command, at load): a tag a source added
                # by `sources add --tags` declares is in the store only, so the line says
                # what is known here and leaves that case open.
                lines.append(
                    f"{subscriptions_file}: subscription.{sub.name}.topics: {name!r} is not a "
                    "topic in topics.toml or a tag of a source in sources.toml; fine if a "
                    "source added with `sources add --tags` declares it"
                )
    return lines


def _load(path: Path, model: type[_M]) -> _M:
    """Parse and validate one TOML file (a missing file is all defaults)."""
    return _validate(path, _read(path), model)


def _read(path: Path) -> dict[str, Any]:
    """One TOML file's tables as written (a missing file has none)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {_one_line(exc)}") from exc
    # tomllib's own limits, met only by a hostile or broken file: arrays or inline tables
    # nested past the recursion limit, an integer past sys.get_int_max_str_digits().
    except RecursionError as exc:
        raise ConfigError(f"{path}: arrays or tables nested too deeply") from exc
    except ValueError as exc:
        raise ConfigError(f"{path}: a number with too many digits") from exc


def _validate(path: Path, data: dict[str, Any], model: type[_M]) -> _M:
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
    if kind == "tuple_type":  # a TOML array read as a tuple (Strings)
        msg = "Input should be a valid list"
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
    plain = [source_name(s.location) for s in sources]
    names = []
    for s, name in zip(sources, plain, strict=True):
        location = s.location
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
