"""What a failed database call means, and the retries that follow from it: the database's
fault (locked, unreachable, damaged) against the data's, a unique conflict with a process doing
the same insert, a connection lost mid-transaction."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import (
    DatabaseError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)

from digests.errors import StoreError, StoreUnavailable

P = ParamSpec("P")
R = TypeVar("R")


def once_more_on_conflict(method: Callable[P, R]) -> Callable[P, R]:
    """Run a select-then-insert again if another process inserted the same row in between.

    Processes starting together (first runs, replicas) create the same rows at once; the
    loser's unique-constraint error means "it exists now", and the second run sees the row.
    """

    @functools.wraps(method)
    def again(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except IntegrityError:
            return method(*args, **kwargs)

    return again


def unavailable(exc: BaseException) -> bool:
    """Whether a failed database call was the database's fault — locked, busy, disk full, I/O
    error, read-only, connection lost, server shut down or unreachable, a damaged file —
    rather than the data's (a constraint, a value it cannot hold, a trigger's refusal).

    DB-API drivers put the former under OperationalError/InterfaceError (sqlite3; psycopg's
    classes 08, 53, 55, 57); only the data's fault is worth remembering against an input.
    """
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, DatabaseError) and damaged(exc)


def damaged(exc: BaseException) -> bool:
    """Whether the error says the database file itself is damaged."""
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text


def first_line(exc: SQLAlchemyError | UnicodeError) -> str:
    """The database's own message, first line (not SQLAlchemy's statement and parameters).

    A UnicodeError is text the database cannot encode (a lone surrogate from a JSON escape).
    """
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


def store_error(message: str, exc: BaseException) -> StoreError:
    """The StoreError for a failed database call: :class:`StoreUnavailable` for a fault of the
    database (:func:`unavailable`), so callers retry it later; plain StoreError otherwise."""
    return StoreUnavailable(message) if unavailable(exc) else StoreError(message)


def once_more_on_disconnect(method: Callable[P, R]) -> Callable[P, R]:
    """Run a write transaction once more if its connection was lost (a PostgreSQL restart,
    a server-side timeout, a network blip): the pool then reconnects, and the transaction,
    rolled back whole, is safe to repeat. A database still down fails the second time too."""

    @functools.wraps(method)
    def again(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except DBAPIError as exc:
            if not (exc.connection_invalidated or isinstance(exc, InterfaceError)):
                raise
            return method(*args, **kwargs)

    return again
