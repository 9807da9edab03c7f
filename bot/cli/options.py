"""Option values several commands share, read one way: ``--since``, ``--topic`` and ids."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from digests.config import Settings
    from digests.errors import InputError
    from digests.store import Store


class BadValue(typer.BadParameter):
    """A malformed option value: a usage error (exit 2, as click's own are), its message as
    written (ours name the option already: no "Invalid value for" before it)."""

    def format_message(self) -> str:  # noqa: D102
        return self.message


@contextmanager
def usage_error(ctx: typer.Context | None = None) -> Iterator[None]:
    """An error raised inside (a malformed option value) becomes a usage error: exit 2 (with
    ``ctx``, the command whose ``--help`` the error points to)."""
    from digests.errors import DigestError

    try:
        yield
    except DigestError as exc:
        raise BadValue(str(exc), ctx=ctx) from None


def since_bound(ctx: typer.Context, value: str | None, now: datetime) -> datetime | None:
    """The ``--since`` bound at ``now`` (the command's clock, read once at its top), None
    without one; a malformed one is a usage error, as click's own are."""
    if value is None:
        return None
    with usage_error(ctx):
        return parse_since(value, now)


def topic_option(values: list[str] | None) -> list[str] | None:
    """``--topic`` values checked as they are read: a blank one is a usage error (one nothing
    knows is not: that takes the store, see :func:`check_topics`)."""
    for value in values or []:
        with usage_error():
            parse_topic(value)
    return values


def parse_since(value: str, now: datetime) -> datetime:
    """``24h``, ``7d``, ``90m`` ago, or an ISO date/datetime (UTC when no zone is given)."""
    from digests.durations import parse_duration
    from digests.errors import InputError

    try:
        ago = parse_duration(value, option="--since")
    except InputError:
        ago = None  # not a duration: a date
    if ago is not None:
        try:
            return now - ago
        except OverflowError as exc:
            raise InputError(f"--since {value!r} reaches before the year 1") from exc
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise InputError(f"--since {value!r}: use e.g. 24h, 7d or 2025-06-01") from exc
    # In UTC, as times are stored: SQLite compares the wall-clock time a bound is written in.
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# The largest key SQL stores (a signed 64-bit integer); a bigger id names nothing stored.
MAX_ID = 2**63 - 1


def storable_id(value: int) -> bool:
    """Whether ``value`` can be a stored row's id (beyond it the driver would fail, not say
    that nothing has it)."""
    return 0 < value <= MAX_ID


def parse_topic(value: str, option: str = "--topic") -> str:
    """A ``--topic`` (or ``option``) as tags are stored: ``#Sport`` (as digests show it) is
    ``sport``."""
    from digests.errors import InputError

    topic = value.strip().lstrip("#").strip().lower()
    if not topic:
        raise InputError(f"{option} {value!r}: give a topic, e.g. {option} sport")
    return topic


def unknown_topic(value: str, known: Iterable[str], where: str = "in topics.toml") -> InputError:
    """The error for a topic nothing knows, naming the ones that are known."""
    from digests.errors import InputError

    names = ", ".join(dict.fromkeys(known)) or "none"
    return InputError(f"no topic {value!r} {where} (topics: {names})")


def check_topics(
    given: Sequence[str], tags: Sequence[str], settings: Settings, store: Store
) -> None:
    """Each ``--topic`` (``given``, parsed into ``tags``) is one a subscription may name (a
    configured topic, a source's tag: digests.subscribable) or carried by a stored article;
    else the error naming the known topics (an unknown one would list nothing)."""
    from digests.subscribable import subscribable

    known = [t.name for t in subscribable(settings, store)] if given else []
    for value, tag in zip(given, tags, strict=True):
        if tag in known or store.articles.ids_for_tag(tag, limit=1):
            continue
        stored = sorted(store.articles.tag_counts())
        raise unknown_topic(
            value, [*known, *stored], "in topics.toml, a source's tags or on any stored article"
        )
