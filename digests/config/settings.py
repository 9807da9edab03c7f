"""``digestbot.toml``'s tables, and :class:`Settings`: all the config, validated, as the code
reads it; where a path written in config is."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator

from digests.config._base import Strings, _Model
from digests.config.sources import SourceConfig
from digests.config.subscriptions import _WORKSPACE, SubscriptionConfig
from digests.config.topics import Topic

MiB = 1024 * 1024


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
