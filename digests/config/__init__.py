"""Settings, topics, sources and subscriptions: TOML files + environment, validated once at load.

Each setting is declared once, as a frozen pydantic model that validates what a user may
write (``extra="forbid"``: a misspelt key is an error, never ignored; ``strict``: a string
where a number belongs is an error, never coerced) and is what the rest of the code reads
(:class:`Settings`, :class:`Topic`, :class:`SourceConfig`, :class:`SubscriptionConfig`,
:class:`FetchConfig`, :class:`PollConfig`). Where a file's shape differs from them is said in
one place (the comment below). The environment (``DIGESTBOT_*``) is read with
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

A file a concern: ``topics`` (``topics.toml``), ``sources`` (``sources.toml``),
``subscriptions`` (``subscriptions.toml``), ``settings`` (``digestbot.toml`` and
:class:`Settings`), ``env`` (``DIGESTBOT_*``) and ``load`` (the folder found, the files read
and validated: :func:`load_settings`). ``digests.config`` hands on what callers use.
"""

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

from __future__ import annotations

from digests.config.env import MIN_KEY_CHARS, CallerEnvSettings, read_environment
from digests.config.load import config_warnings, find_config_dir, load_settings
from digests.config.settings import FetchConfig, PollConfig, Settings, config_path
from digests.config.sources import SourceConfig, source_tags
from digests.config.subscriptions import SubscriptionCheck, SubscriptionConfig, validate_timezone
from digests.config.topics import Topic

__all__ = [
    "MIN_KEY_CHARS",
    "CallerEnvSettings",
    "FetchConfig",
    "PollConfig",
    "Settings",
    "SourceConfig",
    "SubscriptionCheck",
    "SubscriptionConfig",
    "Topic",
    "config_path",
    "config_warnings",
    "find_config_dir",
    "load_settings",
    "read_environment",
    "source_tags",
    "validate_timezone",
]
