"""What a call costs the database: the statements it runs, and on SQLite the VM steps.

* :func:`statements` — every statement an engine runs inside a block (its SQL, parameters and
  the thread that ran it), through SQLAlchemy's ``before_cursor_execute`` event;
* :func:`sqlite_steps` — the SQLite virtual-machine instructions a call runs, counted by a
  progress handler on fresh connections: a measure of the work done that does not depend on
  the machine's speed or load, so a test can compare two sizes of a table.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from sqlalchemy import Engine, event


class Ran(NamedTuple):
    """One statement an engine ran."""

    sql: str
    params: Any
    thread: str  # the name of the thread that ran it


@contextmanager
def statements(engine: Engine) -> Iterator[list[Ran]]:
    """The statements ``engine`` runs inside the block, on any of its connections and from
    any thread, in the order they ran."""
    ran: list[Ran] = []

    def record(_conn: object, _cursor: object, sql: str, params: Any, *_: object) -> None:
        ran.append(Ran(sql, params, threading.current_thread().name))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield ran
    finally:
        event.remove(engine, "before_cursor_execute", record)


def sqlite_steps(engine: Engine, call: Callable[[], object], *, every: int = 1) -> int:
    """SQLite VM steps ``call`` runs, in units of ``every`` instructions, on fresh
    connections of ``engine`` (its pool is emptied before and after, so every connection
    ``call`` uses counts and none kept afterwards does)."""
    counted = [0]

    def tick() -> int:
        counted[0] += 1
        return 0  # go on

    def install(dbapi: sqlite3.Connection, _record: object) -> None:
        dbapi.set_progress_handler(tick, every)

    engine.dispose()
    event.listen(engine, "connect", install)
    try:
        call()
    finally:
        event.remove(engine, "connect", install)
        engine.dispose()
    return counted[0]
