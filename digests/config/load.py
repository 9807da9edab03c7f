"""Loading: the config folder found, its TOML files read and validated with the environment
into :class:`~digests.config.settings.Settings`, and what is valid yet cannot work as meant."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from digests.config._base import _message
from digests.config.env import EnvSettings, _keys, read_environment
from digests.config.settings import FetchConfig, MainFile, Settings, config_path, sent_kept_floor
from digests.config.sources import SourceConfig, SourcesFile, _source_names, _SourceOptions
from digests.config.subscriptions import (
    _WORKSPACE,
    CronCheck,
    SubscriptionCheck,
    SubscriptionsFile,
)
from digests.config.topics import TopicsFile
from digests.errors import ConfigError

CONFIG_ENV = "DIGESTBOT_CONFIG_DIR"


_M = TypeVar("_M", bound=BaseModel)


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


def _locator(cdir: Path, value: str) -> str:
    """A topic example as stored articles know it: a URL as given, a path made absolute."""
    value = value.strip()
    if "://" in value:
        return value
    return str(config_path(cdir, value).resolve())


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
