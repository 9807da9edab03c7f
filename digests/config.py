"""Settings, topics, sources and subscriptions: loaded from TOML + environment, validated once.

Everything is read through :func:`load_settings` with an explicit ``environ`` mapping and
config folder, so tests build settings without touching the process environment.
Secrets (Slack/Discord tokens) are not read here: that is ``bot.settings``.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digests.errors import ConfigError

_TOPIC_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_CRON_FIELDS = 5


@dataclass(frozen=True, slots=True)
class Topic:
    """A configured topic: a tag name and the phrases that mean it."""

    name: str
    aliases: tuple[str, ...] = ()
    label: str = ""

    @property
    def phrases(self) -> tuple[str, ...]:
        """The name written as words (``united-states`` → ``united states``) plus aliases."""
        return (self.name.replace("-", " "), *self.aliases)


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """A configured source: a folder, a feed URL or an article URL."""

    name: str
    kind: str  # folder | feed | page
    location: str
    tags: tuple[str, ...] = ()
    poll_minutes: int = 30
    follow_symlinks: bool = False  # folder sources: follow links that lead out of the folder


@dataclass(frozen=True, slots=True)
class SubscriptionConfig:
    """A channel's digest: where, which topics (empty = all) and when (cron in a timezone)."""

    name: str
    platform: str  # slack | discord
    channel: str  # Slack channel id/name, or a Discord webhook URL
    topics: tuple[str, ...] = ()
    cron: str = "0 8 * * *"
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class Settings:
    """Validated core settings."""

    config_dir: Path
    data_dir: Path
    database_url: str
    inbox: Path
    max_file_bytes: int = 5 * 1024 * 1024
    summary_algorithm: str = "default"
    summary_sentences: int = 3
    brief_sentences: int = 4
    misfire_grace_seconds: int = 3600
    allow_private_networks: bool = False
    topics: tuple[Topic, ...] = ()
    sources: tuple[SourceConfig, ...] = ()
    subscriptions: tuple[SubscriptionConfig, ...] = ()
    extra: Mapping[str, object] = field(default_factory=dict)


def load_settings(
    environ: Mapping[str, str] | None = None, config_dir: Path | str | None = None
) -> Settings:
    """Load and validate settings from ``config_dir`` (TOML files) and ``environ`` overrides."""
    env = os.environ if environ is None else environ
    cdir = Path(config_dir or env.get("DIGESTBOT_CONFIG_DIR") or "config")
    main = _read_toml(cdir / "digestbot.toml")

    def _path(value: object) -> Path:
        return config_path(cdir, value)

    data_dir = _path(env.get("DIGESTBOT_DATA_DIR") or main.get("data_dir", "data"))
    db_url = env.get("DIGESTBOT_DATABASE_URL") or str(main.get("database_url", ""))
    if not db_url:
        db_url = f"sqlite:///{data_dir / 'digestbot.db'}"
    summary = _table(main, "summary")
    brief = _table(main, "brief")
    fetch = _table(main, "fetch")
    schedule = _table(main, "schedule")
    allow_private = env.get("DIGESTBOT_ALLOW_PRIVATE_NETWORKS", "").lower() in {"1", "true", "yes"}
    return Settings(
        config_dir=cdir,
        data_dir=data_dir,
        database_url=db_url,
        inbox=_path(env.get("DIGESTBOT_INBOX") or main.get("inbox", "seeds")),
        max_file_bytes=_int(main.get("max_file_bytes", 5 * 1024 * 1024), "max_file_bytes", 1),
        summary_algorithm=str(summary.get("algorithm", "default")),
        summary_sentences=_int(summary.get("sentences", 3), "summary.sentences", 1, 10),
        brief_sentences=_int(brief.get("sentences", 4), "brief.sentences", 1, 10),
        misfire_grace_seconds=_int(
            schedule.get("misfire_grace_seconds", 3600), "schedule.misfire_grace_seconds", 1
        ),
        allow_private_networks=allow_private or bool(fetch.get("allow_private_networks", False)),
        topics=_load_topics(cdir / "topics.toml"),
        sources=_load_sources(cdir / "sources.toml"),
        subscriptions=_load_subscriptions(cdir / "subscriptions.toml"),
        extra=main,
    )


def config_path(config_dir: Path, value: object) -> Path:
    """A path written in config (inbox, data dir, folder source), made absolute.

    The one rule for relative paths: they are relative to the config folder's parent when
    that folder is named ``config`` (a project checkout), else to the working directory.
    """
    path = Path(str(value)).expanduser()
    if path.is_absolute():
        return path
    base = config_dir.parent if config_dir.name == "config" else Path.cwd()
    return base / path


def _read_toml(path: Path) -> dict[str, object]:
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def _table(data: Mapping[str, object], key: str) -> Mapping[str, object]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"[{key}] must be a table")
    return value


def _int(value: object, name: str, low: int, high: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ConfigError(f"{name} must be a whole number ≥ {low}, got {value!r}")
    if high is not None and value > high:
        raise ConfigError(f"{name} must be ≤ {high}, got {value!r}")
    return value


def _bool(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false, got {value!r}")
    return value


def _strings(value: object, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of strings")
    return tuple(value)


def _entries(path: Path, key: str) -> list[Mapping[str, object]]:
    raw = _read_toml(path).get(key, [])
    if not isinstance(raw, list) or not all(isinstance(e, Mapping) for e in raw):
        raise ConfigError(f"{path}: expected [[{key}]] tables")
    return raw


def _load_topics(path: Path) -> tuple[Topic, ...]:
    topics: list[Topic] = []
    for i, entry in enumerate(_entries(path, "topic"), 1):
        name = str(entry.get("name", "")).strip().lower()
        if not _TOPIC_NAME.match(name):
            raise ConfigError(f"{path}: topic #{i} needs a name like 'south-china-sea'")
        aliases = _strings(entry.get("aliases", []), f"{path}: topic {name!r} aliases")
        topics.append(
            Topic(name, tuple(a for a in aliases if a.strip()), str(entry.get("label", "")))
        )
    names = [t.name for t in topics]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: duplicate topic names")
    return tuple(topics)


def _load_sources(path: Path) -> tuple[SourceConfig, ...]:
    out: list[SourceConfig] = []
    for i, entry in enumerate(_entries(path, "source"), 1):
        kinds = [k for k in ("folder", "feed", "page") if k in entry]
        if len(kinds) != 1:
            raise ConfigError(f"{path}: source #{i} needs exactly one of folder, feed or page")
        kind = kinds[0]
        location = str(entry[kind])
        if kind != "folder" and not location.startswith(("http://", "https://")):
            raise ConfigError(f"{path}: source #{i} {kind} must be an http(s) URL")
        out.append(
            SourceConfig(
                name=str(entry.get("name") or location),
                kind=kind,
                location=location,
                tags=_strings(entry.get("tags", []), f"{path}: source #{i} tags"),
                poll_minutes=_int(entry.get("poll_minutes", 30), "poll_minutes", 1),
                follow_symlinks=_bool(
                    entry.get("follow_symlinks", False), f"{path}: source #{i} follow_symlinks"
                ),
            )
        )
    return tuple(out)


def validate_cron(cron: str) -> str:
    """Check a 5-field cron expression (minute hour day month day-of-week)."""
    if len(cron.split()) != _CRON_FIELDS:
        raise ConfigError(f"cron {cron!r} must have 5 fields: minute hour day month day-of-week")
    return " ".join(cron.split())


def validate_timezone(name: str) -> str:
    """Check an IANA timezone name such as ``Europe/Paris``."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"unknown timezone {name!r} (use an IANA name like Europe/Paris)"
        ) from exc
    return name


def _default_name(platform: str, channel: str) -> str:
    # A Discord webhook URL is a secret: a name ends up in logs, so never derive it verbatim.
    if platform == "discord":
        return "discord:" + hashlib.sha256(channel.encode()).hexdigest()[:12]
    return f"{platform}:{channel}"


def _load_subscriptions(path: Path) -> tuple[SubscriptionConfig, ...]:
    out: list[SubscriptionConfig] = []
    for i, entry in enumerate(_entries(path, "subscription"), 1):
        platform = str(entry.get("platform", "slack"))
        if platform not in {"slack", "discord"}:
            raise ConfigError(f"{path}: subscription #{i} platform must be slack or discord")
        channel = str(entry.get("channel", "")).strip()
        if not channel:
            raise ConfigError(f"{path}: subscription #{i} needs a channel")
        if platform == "discord" and not channel.startswith("https://"):
            raise ConfigError(
                f"{path}: subscription #{i}: a discord channel is its webhook URL (https://...)"
            )
        out.append(
            SubscriptionConfig(
                name=str(entry.get("name") or _default_name(platform, channel)),
                platform=platform,
                channel=channel,
                topics=tuple(t.lower() for t in _strings(entry.get("topics", []), "topics")),
                cron=validate_cron(str(entry.get("cron", "0 8 * * *"))),
                timezone=validate_timezone(str(entry.get("timezone", "UTC"))),
            )
        )
    return tuple(out)
