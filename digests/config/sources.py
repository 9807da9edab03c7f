"""``sources.toml``: the configured sources (a folder, a feed or a page), their tags and names."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from digests.config._base import Strings, _Model, _no_duplicates
from digests.config.topics import tag_name
from digests.models import SourceKind
from digests.net.util import source_name, source_problem

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
