"""``topics.toml``: the configured topics (a tag name and the phrases that mean it), and how a
tag is spelt."""

from __future__ import annotations

import re

from pydantic import field_validator

from digests.config._base import Strings, _Model, _no_duplicates

_TOPIC_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_TOPIC_RULE = "lowercase letters, digits and hyphens, at most 63 characters"


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
